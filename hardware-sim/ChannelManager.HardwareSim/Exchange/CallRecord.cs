namespace ChannelManager.HardwareSim.Exchange;

/// <summary>How one dial attempt ended, as the exchange saw it.</summary>
public enum CallResult
{
    /// <summary>Still being set up (the modem is dialling).</summary>
    Dialling,
    /// <summary>Answered and connected; see <see cref="CallRecord.EndedAt"/> for when it ended.</summary>
    Connected,
    Busy,
    NoAnswer,
    NoCarrier,
    /// <summary>The number is not configured on the exchange (number unobtainable): the modem reports NO CARRIER.</summary>
    Unobtainable,
    /// <summary>No result from the line before the modem's S7 expired.</summary>
    TimedOut,
    /// <summary>The host aborted the dial by sending a character (V.250 §6.3.1) or hung up.</summary>
    Aborted,

    // Refused by the modem itself: the dial never reached the line (seed 004 "modem error").
    NoDialTone,
    Blacklisted,
    Delayed,
}

/// <summary>One dial attempt in the exchange's call log.</summary>
public sealed record CallRecord(DateTimeOffset At, string ModemName, string Number, CallResult Result)
{
    /// <summary>When the callee answered (only for <see cref="CallResult.Connected"/>).</summary>
    public DateTimeOffset? ConnectedAt { get; init; }

    /// <summary>When the attempt or call ended; null while it is in progress.</summary>
    public DateTimeOffset? EndedAt { get; init; }

    /// <summary>
    /// True when the attempt went out on the line (counts for the repeat-call rules); false when the
    /// modem refused it itself (NO DIALTONE, BLACKLISTED, DELAYED).
    /// </summary>
    public bool ReachedLine => Result is not (CallResult.NoDialTone or CallResult.Blacklisted or CallResult.Delayed);
}
