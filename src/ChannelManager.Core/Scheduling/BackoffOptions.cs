using System.ComponentModel.DataAnnotations;
using System.Globalization;

namespace ChannelManager.Core.Scheduling;

/// <summary>The back-off algorithms of design.md §4, named after their seeds.</summary>
public enum BackoffStrategyKind
{
    /// <summary>Seeds 000/003 (OMA-DM): Initial, ×Factor per failure, capped at Max, at most MaxAttempts retries (ConnRetryFreq).</summary>
    Exponential,

    /// <summary>Seed 002 CMTR_LINEAR: every Delay, then every AttemptsExceededDelay (or stop when that is INFINITE).</summary>
    Linear,

    /// <summary>Seed 002 CMTR_EXPONENTIAL_RANDOMIZED_BACKOFF: 2^i·Delay with equal jitter, then as Linear.</summary>
    ExponentialRandomized,

    /// <summary>VTScada "BABT" redial cycle (research/peers.md §1): CallInterval1..N, then CycleDelay, repeat.</summary>
    RedialCycle,

    /// <summary>Seed 002 CMTR_NONE: no time-driven retries; the next poll comes from the schedule or an operator.</summary>
    None,
}

/// <summary>
/// Per-outstation back-off configuration, bound from <c>"Backoff": { … }</c> (design.md §6). Only the fields of
/// the chosen <see cref="Strategy"/> are read; <see cref="Validate"/> checks exactly those, plus the
/// server-busy fields that every strategy shares. <see cref="PerCategory"/> overrides the strategy for one
/// outcome category (design.md §4: "configurable per outstation or per outcome category").
/// </summary>
public sealed class BackoffOptions
{
    public BackoffStrategyKind Strategy { get; set; } = BackoffStrategyKind.Exponential;

    /// <summary>Exponential: wait after the first failure. Default 30 s = seed 003's InitialBackoffTime 0x7530 ms.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan Initial { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Exponential: cap on one wait. Default 120 s = seed 003's MaxBackoffTime 0x1D4C0 ms.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "7.00:00:00")]
    public TimeSpan Max { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>Exponential: growth per failure. Seed 000: "1 minute, then 2 minutes, … 4 minutes" = 2.</summary>
    [Range(1.0, 10.0)]
    public double Factor { get; set; } = 2.0;

    /// <summary>
    /// Exponential: automatic retries after the first failure (OMA-DM ConnRetryFreq, "the number of retries the
    /// DM client performs", default 3); seed 000: "stops attempting to connect if the retry frequency is reached".
    /// Total dials = 1 + MaxAttempts.
    /// </summary>
    [Range(0, 1000)]
    public int MaxAttempts { get; set; } = 3;

    /// <summary>Linear / ExponentialRandomized: seed 002's DelaySec.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan Delay { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Linear / ExponentialRandomized: seed 002's Attempts, counting the attempt that failed first (the
    /// pseudo-code's <c>for (i = 1; i &lt; Attempts; i++)</c> makes Attempts − 1 timed retries).
    /// </summary>
    [Range(1, 30)]
    public int Attempts { get; set; } = 3;

    /// <summary>Seed 002's AttemptsExceededDelaySec; <c>null</c> = INFINITE = no time-driven attempts after Attempts.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "7.00:00:00")]
    public TimeSpan? AttemptsExceededDelay { get; set; }

    /// <summary>
    /// How many AttemptsExceededDelay retries. <c>null</c> = unlimited, as seed 002's prose says ("an unlimited
    /// number of reconnection attempts"); set it to Attempts − 1 to reproduce the seed's bounded second loop.
    /// </summary>
    [Range(0, 100000)]
    public int? ExceededAttempts { get; set; }

    /// <summary>RedialCycle: VTScada CallInterval1..10, "seconds to wait after the k-th connection attempt in a call cycle fails".</summary>
    [MaxLength(10)]
    public IList<TimeSpan> CallIntervals { get; set; } = [TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60)];

    /// <summary>RedialCycle: VTScada CycleLength, how many CallIntervals one cycle uses (≤ 10).</summary>
    [Range(1, 10)]
    public int CycleLength { get; set; } = 2;

    /// <summary>RedialCycle: VTScada CycleDelay, the wait "before beginning the entire call cycle again".</summary>
    [Range(typeof(TimeSpan), "00:00:00", "7.00:00:00")]
    public TimeSpan CycleDelay { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>RedialCycle: how many whole cycles before giving up; <c>null</c> = keep cycling (the guard still bounds dialling).</summary>
    [Range(1, 100000)]
    public int? MaxCycles { get; set; }

    /// <summary>
    /// Wait before re-trying after "server busy" (seed 000: HTTP 503 → "The DM client calls HTTP again";
    /// Modbus exception 06 SERVER DEVICE BUSY) or a channel-allocation failure; not counted as a failure.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan ServerBusyDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Consecutive uncounted short retries before the strategy's own (longer) delay is used instead.</summary>
    [Range(0, 100)]
    public int ServerBusyMaxRetries { get; set; } = 3;

    /// <summary>Optional per-category strategies (ConnectionEstablishment, ProtocolCommand); nested overrides are not allowed.</summary>
    public IDictionary<OutcomeCategory, BackoffOptions>? PerCategory { get; set; }

    /// <summary>
    /// The OMA-DM client defaults (DMClient CSP ConnRetryFreq = 3; w7 APPLICATION CSP INITIALBACKOFFTIME 16 000 ms,
    /// MAXBACKOFFTIME 86 400 000 ms — the two times are from that page's text as we recall it; re-verify).
    /// </summary>
    public static BackoffOptions OmaDmDefaults() => new()
    {
        Strategy = BackoffStrategyKind.Exponential,
        Initial = TimeSpan.FromMilliseconds(16_000),
        Max = TimeSpan.FromMilliseconds(86_400_000),
        Factor = 2,
        MaxAttempts = 3,
    };

    /// <summary>
    /// Every invalid value, each named by its path under <paramref name="path"/> (e.g. "Outstations[3].Backoff").
    /// DataAnnotations ranges first, then the cross-field rules of the chosen strategy.
    /// </summary>
    public IReadOnlyList<ConfigError> Validate(string path = "Backoff")
    {
        var errors = new List<ConfigError>();
        Validate(path, errors, allowPerCategory: true);
        return errors;
    }

    private void Validate(string path, List<ConfigError> errors, bool allowPerCategory)
    {
        errors.AddRange(ConfigError.FromAnnotations(this, path));

        if (!Enum.IsDefined(Strategy))
            errors.Add(new(ConfigError.Join(path, nameof(Strategy)), $"unknown strategy '{Strategy}'"));

        switch (Strategy)
        {
            case BackoffStrategyKind.Exponential:
                if (Max < Initial)
                    errors.Add(new(ConfigError.Join(path, nameof(Max)), $"must be ≥ Initial ({Format(Initial)})"));
                if (Initial <= TimeSpan.Zero)
                    errors.Add(new(ConfigError.Join(path, nameof(Initial)), "must be > 00:00:00 for an exponential back-off"));
                break;
            case BackoffStrategyKind.Linear or BackoffStrategyKind.ExponentialRandomized:
                if (Delay <= TimeSpan.Zero)
                    errors.Add(new(ConfigError.Join(path, nameof(Delay)), "must be > 00:00:00"));
                if (Strategy == BackoffStrategyKind.ExponentialRandomized && Delay.Ticks * Math.Pow(2, Attempts - 1) > MaxRandomizedWait.Ticks)
                    errors.Add(new(ConfigError.Join(path, nameof(Attempts)), $"2^(Attempts-1) × Delay must be ≤ {Format(MaxRandomizedWait)} (the longest wait of the sequence)"));
                if (ExceededAttempts is not null && AttemptsExceededDelay is null)
                    errors.Add(new(ConfigError.Join(path, nameof(ExceededAttempts)), "needs AttemptsExceededDelay (null means INFINITE: no further attempts)"));
                break;
            case BackoffStrategyKind.RedialCycle:
                if (CallIntervals is null)
                {
                    // "CallIntervals": null in JSON binds null: a config error, not a NullReferenceException (issue 10 fuzzing).
                    errors.Add(new(ConfigError.Join(path, nameof(CallIntervals)), "is required for RedialCycle (a list of up to 10 waits)"));
                    break;
                }

                if (CallIntervals.Count < CycleLength)
                    errors.Add(new(ConfigError.Join(path, nameof(CallIntervals)), $"has {CallIntervals.Count} entries but CycleLength is {CycleLength}"));
                for (var i = 0; i < CallIntervals.Count; i++)
                {
                    if (CallIntervals[i] < TimeSpan.Zero || CallIntervals[i] > TimeSpan.FromDays(1))
                        errors.Add(new($"{ConfigError.Join(path, nameof(CallIntervals))}[{i}]", "must be between 00:00:00 and 1.00:00:00"));
                }
                break;
        }

        if (PerCategory is null)
            return;
        var perCategoryPath = ConfigError.Join(path, nameof(PerCategory));
        if (!allowPerCategory)
        {
            errors.Add(new(perCategoryPath, "nested per-category overrides are not allowed"));
            return;
        }
        foreach (var (category, inner) in PerCategory)
        {
            var innerPath = ConfigError.Join(perCategoryPath, category.ToString());
            if (category is not (OutcomeCategory.ConnectionEstablishment or OutcomeCategory.ProtocolCommand))
                errors.Add(new(innerPath, "only ConnectionEstablishment and ProtocolCommand failures are backed off (design.md §3)"));
            if (inner is null)
                errors.Add(new(innerPath, "must not be null"));
            else
                inner.Validate(innerPath, errors, allowPerCategory: false);
        }
    }

    /// <summary>Longest single wait ExponentialRandomized may reach (2^(Attempts−1)·Delay); beyond a week a retry is not a back-off.</summary>
    internal static readonly TimeSpan MaxRandomizedWait = TimeSpan.FromDays(7);

    private static string Format(TimeSpan t) => t.ToString("c", CultureInfo.InvariantCulture);
}
