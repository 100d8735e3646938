namespace ChannelManager.Core.Channels;

/// <summary>One modem's part in a call attempt: kept so an operator sees every modem tried and why it was passed over.</summary>
public sealed record ModemAttempt(string ModemName, OutcomeCode Code, string RawReply, DateTimeOffset At)
{
    /// <summary>
    /// True once the dial command was handed to this modem (init succeeded, ATD about to be or already written). A dial
    /// cancelled after this point may have reached the line, so the repeat-call ledger counts it (research/repeat-call-rules.md §3.1).
    /// </summary>
    public bool DialStarted { get; init; }
}

/// <summary>
/// How a request for a connection ended (design.md §3: category, code, modem used, raw reply, modems
/// tried, timestamps). On <see cref="OutcomeCode.Success"/> the caller holds a <see cref="ChannelLease"/>.
/// </summary>
public sealed record CallOutcome(
    string Outstation,
    string Number,
    OutcomeCode Code,
    string? Modem,
    string RawReply,
    IReadOnlyList<ModemAttempt> ModemsTried,
    DateTimeOffset StartedAt,
    DateTimeOffset EndedAt)
{
    public OutcomeCategory Category => Code.Category();

    public FaultAttribution CountedAgainst => Code.CountedAgainst();

    public bool IsSuccess => Code == OutcomeCode.Success;

    /// <summary>True when any modem tried was handed the dial (see <see cref="ModemAttempt.DialStarted"/>).</summary>
    public bool DialStarted => ModemsTried.Any(a => a.DialStarted);
}

/// <summary>A request for a dial-out connection to one outstation.</summary>
/// <param name="Outstation">The outstation's configured name (counters and logs).</param>
/// <param name="Number">The validated dial string.</param>
/// <param name="Pool">The pool to take a modem from; null = the default pool.</param>
public sealed record CallRequest(string Outstation, string Number, string? Pool = null)
{
    /// <summary>
    /// Asked before the same number is dialled on another modem after a modem refused the dial itself
    /// with BLACKLISTED / DELAYED (<see cref="OutcomeCode.CallBarredByModem"/>): the modem's own
    /// call-barring timer says the number has had too many attempts, and a second modem would happily
    /// dial it again (research note: retry only if the pool-wide repeat-call ledger allows). The
    /// scheduler supplies its ledger's answer here; null = retry on the next modem as for any set-up
    /// failure (seed 004 row 1). Returning false ends the request with CallBarredByModem.
    /// </summary>
    public Func<OutcomeCode, bool>? MayTryNextModem { get; init; }
}
