namespace ChannelManager.Core.Scheduling;

/// <summary>
/// One outstation's retry state as a value (style.md §3.2, opendnp3 TaskBehavior without the mutation): the
/// failure counter a <see cref="BackoffPolicy"/> reads, the pending retry and seed 003's diagnostics
/// (ServerLastAccessTime / ServerLastSuccessTime / ServerLastFailureTime). Every method returns a new value.
/// </summary>
public sealed record RetrySchedule
{
    public static RetrySchedule Initial { get; } = new();

    /// <summary>Counted failures in a row (connection-establishment and protocol failures); 0 after a success.</summary>
    public int FailedAttempts { get; init; }

    /// <summary>Uncounted short retries in a row (server busy, channel allocation).</summary>
    public int BusyRetries { get; init; }

    /// <summary>When the next automatic attempt is due; <c>null</c> = none queued (seed 003: the retry task is deleted on success).</summary>
    public DateTimeOffset? NextDue { get; init; }

    /// <summary>True once the policy gave up: no automatic retries until a success or an operator action.</summary>
    public bool Exhausted { get; init; }

    public BackoffDecision? LastDecision { get; init; }

    public DateTimeOffset? LastAccess { get; init; }

    public DateTimeOffset? LastSuccess { get; init; }

    public DateTimeOffset? LastFailure { get; init; }

    public OutcomeCode? LastOutcome { get; init; }

    /// <summary>
    /// Applies one transaction outcome. Success resets the counter ("resetting to 1 when connection is connected",
    /// seed 002) and removes the pending retry (seed 003). Connection-establishment and protocol failures are
    /// counted and backed off. Server busy (<paramref name="serverBusy"/>) and channel-allocation failures get
    /// the short uncounted retry (seed 004: never the outstation's fault). Cancelled and the scheduler's own
    /// codes leave the counters alone and queue nothing.
    /// </summary>
    public RetrySchedule OnOutcome(BackoffPolicy policy, OutcomeCode outcome, DateTimeOffset now, Func<double> random, bool serverBusy = false)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var accessed = this with { LastAccess = now, LastOutcome = outcome };
        if (outcome == OutcomeCode.Success)
        {
            return accessed with
            {
                FailedAttempts = 0, BusyRetries = 0, NextDue = null, Exhausted = false, LastDecision = null, LastSuccess = now,
            };
        }

        var category = outcome.Category();
        if (serverBusy || category == OutcomeCategory.ChannelAllocation)
        {
            var busy = policy.NextServerBusy(BusyRetries, FailedAttempts, now, random);
            return accessed with
            {
                BusyRetries = BusyRetries + 1,
                NextDue = busy.GiveUp ? null : busy.RetryAt,
                Exhausted = busy.GiveUp,
                LastDecision = busy,
            };
        }

        if (category == OutcomeCategory.Scheduling)
            return accessed;

        var failed = FailedAttempts + 1;
        var decision = policy.Next(failed, outcome, now, random);
        return accessed with
        {
            FailedAttempts = failed,
            BusyRetries = 0,
            NextDue = decision.GiveUp ? null : decision.RetryAt,
            Exhausted = decision.GiveUp,
            LastDecision = decision,
            LastFailure = now,
        };
    }

    /// <summary>An operator's "try again": clears exhaustion and the counter (the repeat-call guard still decides when).</summary>
    public RetrySchedule Rearm(DateTimeOffset now) =>
        this with { FailedAttempts = 0, BusyRetries = 0, Exhausted = false, NextDue = now, LastDecision = null };
}
