namespace ChannelManager.Core.Channels;

/// <summary>Per-modem counters (issue 4 item 4), as a snapshot value.</summary>
public sealed record ModemStatistics
{
    public long Calls { get; init; }

    public long Connects { get; init; }

    /// <summary>Faults counted against this modem (allocation/set-up failures, failed health checks).</summary>
    public long Errors { get; init; }

    public IReadOnlyDictionary<OutcomeCode, long> FailuresByCode { get; init; } = new Dictionary<OutcomeCode, long>();

    public TimeSpan TotalTimeToConnect { get; init; }

    public TimeSpan? MeanTimeToConnect => Connects == 0 ? null : TotalTimeToConnect / Connects;

    public DateTimeOffset? LastGood { get; init; }

    public DateTimeOffset? LastBad { get; init; }
}

/// <summary>Per-outstation counters kept by the Channel Manager: only failures attributed to the outstation land here.</summary>
public sealed record OutstationStatistics
{
    public long Calls { get; init; }

    public long Errors { get; init; }

    public IReadOnlyDictionary<OutcomeCode, long> FailuresByCode { get; init; } = new Dictionary<OutcomeCode, long>();

    public DateTimeOffset? LastSuccess { get; init; }

    public DateTimeOffset? LastFailure { get; init; }
}
