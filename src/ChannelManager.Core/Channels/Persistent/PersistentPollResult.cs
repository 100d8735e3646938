using ChannelManager.Core.Protocols;

namespace ChannelManager.Core.Channels.Persistent;

/// <summary>
/// The outcome of one poll on an always-connected channel, with the dial-up taxonomy (design.md §3):
/// <see cref="OutcomeCode.TransportFailure"/> (no connection: refused, reset on connect, unreachable) is the
/// channel's — <see cref="FaultAttribution.Modem"/> reads "the channel/link" here, never the outstation;
/// <see cref="OutcomeCode.CommandTimeout"/> (connected, no reply) and the other protocol codes are the outstation's.
/// </summary>
public sealed record PersistentPollResult(string Outstation, OutcomeCode Code, ProtocolResult? Protocol, int Runs, string? Detail)
{
    public bool IsSuccess => Code == OutcomeCode.Success;

    public OutcomeCategory Category => Code.Category();

    public FaultAttribution CountedAgainst => Code.CountedAgainst();

    /// <summary>True when the link dropped under the poll and it was run again on a new connection.</summary>
    public bool RetriedAfterReconnect => Runs > 1;

    public DateTimeOffset StartedAt { get; init; }

    public DateTimeOffset EndedAt { get; init; }
}

/// <summary>Where a persistent channel is.</summary>
public enum PersistentChannelState : byte
{
    Stopped,
    Connecting,
    Connected,

    /// <summary>A connect failed; the reconnect strategy's delay is running.</summary>
    WaitingToReconnect,

    /// <summary>The strategy gave up (or is None): the next poll triggers one connect attempt (seed 002 CMTR_NONE).</summary>
    Down,
}

/// <summary>What a persistent channel did, for tests, the dashboard and the event log.</summary>
public enum ChannelEventKind : byte
{
    Connected,
    ConnectFailed,
    ReconnectScheduled,
    ReconnectGaveUp,
    HeartbeatAnswered,

    /// <summary>No reply on an idle link: closed and reconnecting to find out whether the path or the outstation is at fault.</summary>
    SilentDropSuspected,

    /// <summary>The outstation answered on the new connection: the old one was dropped silently; the heartbeat interval is lowered.</summary>
    SilentDropConfirmed,

    /// <summary>No reply on the new connection either: the outstation is not answering (its fault; interval unchanged).</summary>
    OutstationNotAnswering,

    /// <summary>The link closed or was reset (a known cause: interval unchanged).</summary>
    ConnectionLost,

    PollRetried,

    /// <summary>The channel was stopped (its owner handed the outstation over, or the host stops): link closed, waiting polls cancelled.</summary>
    Stopped,
}

public sealed record ChannelEvent(DateTimeOffset At, ChannelEventKind Kind, string Detail);
