using System.Globalization;

namespace ChannelManager.Core.Scheduling;

/// <summary>
/// A back-off algorithm as an immutable value (style.md "Retry policies are pure values", §1.3, §3.2): the
/// delay depends only on the arguments; the attempt counter lives with the caller (<see cref="RetrySchedule"/>).
/// Only the scheduler waits. Every result is later clamped by <see cref="RepeatCallGuard"/> — the guard wins
/// (design.md §4).
/// </summary>
public abstract record BackoffPolicy
{
    /// <summary>Upper bound for any computed delay, so factor/2^i arithmetic cannot overflow a DateTimeOffset.</summary>
    internal static readonly TimeSpan Ceiling = TimeSpan.FromDays(365);

    private protected BackoffPolicy(TimeSpan serverBusyDelay, int serverBusyMaxRetries)
    {
        ServerBusyDelay = serverBusyDelay;
        ServerBusyMaxRetries = serverBusyMaxRetries;
    }

    public TimeSpan ServerBusyDelay { get; }

    public int ServerBusyMaxRetries { get; }

    /// <summary>Builds the policy from validated options. Invalid options are a configuration bug: <see cref="ArgumentException"/> listing every path.</summary>
    public static BackoffPolicy From(BackoffOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate();
        if (errors.Count > 0)
            throw new ArgumentException("Invalid back-off options: " + string.Join("; ", errors), nameof(options));
        return Build(options, allowPerCategory: true);
    }

    private static BackoffPolicy Build(BackoffOptions o, bool allowPerCategory)
    {
        BackoffPolicy own = o.Strategy switch
        {
            BackoffStrategyKind.Exponential => new Exponential(o.Initial, o.Max, o.Factor, o.MaxAttempts, o.ServerBusyDelay, o.ServerBusyMaxRetries),
            BackoffStrategyKind.Linear => new Linear(o.Delay, o.Attempts, o.AttemptsExceededDelay, o.ExceededAttempts, o.ServerBusyDelay, o.ServerBusyMaxRetries),
            BackoffStrategyKind.ExponentialRandomized => new ExponentialRandomized(o.Delay, o.Attempts, o.AttemptsExceededDelay, o.ExceededAttempts, o.ServerBusyDelay, o.ServerBusyMaxRetries),
            BackoffStrategyKind.RedialCycle => new RedialCycle([.. o.CallIntervals.Take(o.CycleLength)], o.CycleDelay, o.MaxCycles, o.ServerBusyDelay, o.ServerBusyMaxRetries),
            BackoffStrategyKind.None => new NoRetry(o.ServerBusyDelay, o.ServerBusyMaxRetries),
            _ => throw new ArgumentOutOfRangeException(nameof(o), o.Strategy, "Unknown back-off strategy."),
        };
        if (!allowPerCategory || o.PerCategory is null || o.PerCategory.Count == 0)
            return own;
        var map = o.PerCategory.ToDictionary(kv => kv.Key, kv => Build(kv.Value, allowPerCategory: false));
        return new ByCategory(own, map);
    }

    /// <summary>
    /// The decision after <paramref name="attempt"/> counted failures in a row (1-based: 1 = the first dial
    /// failed). <paramref name="random"/> must return values in [0, 1); values outside are clamped so a bad
    /// source can never push a delay out of its bounds.
    /// </summary>
    public BackoffDecision Next(int attempt, OutcomeCode lastOutcome, DateTimeOffset now, Func<double> random)
    {
        CheckAttempt(attempt);
        ArgumentNullException.ThrowIfNull(random);
        return Decide(attempt, lastOutcome, now, random);
    }

    /// <summary>The strategy's rule; <paramref name="attempt"/> ≥ 1 is checked by <see cref="Next"/>.</summary>
    private protected abstract BackoffDecision Decide(int attempt, OutcomeCode lastOutcome, DateTimeOffset now, Func<double> random);

    /// <summary>
    /// The short, uncounted retry after "server busy" (seed 000 step 5: after HTTP 503 "the DM client calls
    /// HTTP again"; Modbus exception 06 is the analogue) or a channel-allocation failure (seed 004: never the
    /// outstation's fault). <paramref name="busyRetries"/> = such retries already made in a row. After
    /// <see cref="ServerBusyMaxRetries"/> the strategy's own delay for the current count is used instead
    /// (still uncounted), so a permanently busy peer is not hammered.
    /// </summary>
    public BackoffDecision NextServerBusy(int busyRetries, int failedAttempts, DateTimeOffset now, Func<double> random)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(busyRetries);
        ArgumentOutOfRangeException.ThrowIfNegative(failedAttempts);
        if (busyRetries < ServerBusyMaxRetries)
            return BackoffDecision.Retry(now, ServerBusyDelay, $"server busy: short retry {busyRetries + 1} of {ServerBusyMaxRetries}, not counted", countsAsFailure: false);
        var fallback = Next(Math.Max(1, failedAttempts), OutcomeCode.ExceptionResponse, now, random);
        return fallback.GiveUp
            ? fallback
            : BackoffDecision.Retry(now, Max(fallback.Delay, ServerBusyDelay), $"server busy {busyRetries + 1} times in a row: strategy delay, not counted", countsAsFailure: false);
    }

    /// <summary>Modbus Application Protocol V1.1b3 §7: exception code 06 = SERVER DEVICE BUSY ("retransmit the message later").</summary>
    public static bool IsServerBusy(OutcomeCode code, byte? modbusExceptionCode) =>
        code == OutcomeCode.ExceptionResponse && modbusExceptionCode == 0x06;

    private protected static void CheckAttempt(int attempt) => ArgumentOutOfRangeException.ThrowIfLessThan(attempt, 1);

    private protected static double Unit(Func<double> random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var r = random();
        return double.IsNaN(r) ? 0 : Math.Clamp(r, 0, 1);
    }

    /// <summary>baseDelay × multiplier, saturating at <paramref name="cap"/> instead of overflowing.</summary>
    private protected static TimeSpan Scaled(TimeSpan baseDelay, double multiplier, TimeSpan cap)
    {
        var ticks = baseDelay.Ticks * multiplier;
        return double.IsNaN(ticks) || ticks >= cap.Ticks ? cap : TimeSpan.FromTicks((long)ticks);
    }

    private protected static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private protected static string S(TimeSpan t) => t.ToString("c", CultureInfo.InvariantCulture);

    /// <summary>
    /// Seeds 000/003: the wait after failure k is Initial·Factor^(k−1), capped at Max; after MaxAttempts retries
    /// (ConnRetryFreq) the policy gives up. Seed 000: 1, 2, 4 min; seed 003: 30 s, 60 s, 120 s, 120 s …
    /// </summary>
    public sealed record Exponential(TimeSpan Initial, TimeSpan MaxDelay, double Factor, int MaxRetries, TimeSpan BusyDelay, int BusyMaxRetries)
        : BackoffPolicy(BusyDelay, BusyMaxRetries)
    {
        private protected override BackoffDecision Decide(int attempt, OutcomeCode lastOutcome, DateTimeOffset now, Func<double> random)
        {
            if (attempt > MaxRetries)
                return BackoffDecision.Stop(now, $"retry frequency reached: {MaxRetries} retries after the first failure (seed 000)");
            var delay = Scaled(Initial, Math.Pow(Factor, attempt - 1), MaxDelay);
            return BackoffDecision.Retry(now, delay, $"exponential retry {attempt} of {MaxRetries}: {S(delay)}");
        }
    }

    /// <summary>
    /// Seed 002 CMTR_LINEAR. Phase 1: failures 1 … Attempts−1 wait Delay (the pseudo-code's first loop; the
    /// attempt that failed first is attempt 1 of Attempts). Phase 2: if AttemptsExceededDelay is set (not
    /// INFINITE), further attempts every AttemptsExceededDelay — unlimited as the prose says, or
    /// ExceededAttempts of them (Attempts−1 reproduces the pseudo-code's bounded second loop).
    /// </summary>
    public sealed record Linear(TimeSpan Delay, int Attempts, TimeSpan? ExceededDelay, int? ExceededAttempts, TimeSpan BusyDelay, int BusyMaxRetries)
        : BackoffPolicy(BusyDelay, BusyMaxRetries)
    {
        private protected override BackoffDecision Decide(int attempt, OutcomeCode lastOutcome, DateTimeOffset now, Func<double> random)
        {
            return attempt < Attempts
                ? BackoffDecision.Retry(now, Delay, $"linear retry {attempt} of {Attempts - 1}: {S(Delay)}")
                : Exceeded(attempt, Attempts, ExceededDelay, ExceededAttempts, now);
        }
    }

    /// <summary>
    /// Seed 002 CMTR_EXPONENTIAL_RANDOMIZED_BACKOFF: "every 2^i * DelaySec, with i = 1, 2, …" — and randomized,
    /// which the seed's pseudo-code leaves out. We use <b>equal jitter</b>: after failure i the wait is uniform in
    /// [2^(i−1)·Delay, 2^i·Delay]. The upper end is the seed's own value, so we never wait longer than the seed;
    /// the lower half keeps a floor so a bad draw never produces a near-zero redial (full jitter could), which
    /// matters under repeat-call rules. Resetting "to 1 when connected" is the caller's counter reset on Success.
    /// </summary>
    public sealed record ExponentialRandomized(TimeSpan Delay, int Attempts, TimeSpan? ExceededDelay, int? ExceededAttempts, TimeSpan BusyDelay, int BusyMaxRetries)
        : BackoffPolicy(BusyDelay, BusyMaxRetries)
    {
        /// <summary>The jitter window [low, high] for failure <paramref name="attempt"/> (phase 1 only).</summary>
        public (TimeSpan Low, TimeSpan High) Window(int attempt)
        {
            CheckAttempt(attempt);
            var high = Scaled(Delay, Math.Pow(2, Math.Min(attempt, 62)), Ceiling);
            var low = Scaled(Delay, Math.Pow(2, Math.Min(attempt - 1, 62)), Ceiling);
            return (low, high);
        }

        private protected override BackoffDecision Decide(int attempt, OutcomeCode lastOutcome, DateTimeOffset now, Func<double> random)
        {
            if (attempt >= Attempts)
                return Exceeded(attempt, Attempts, ExceededDelay, ExceededAttempts, now);
            var (low, high) = Window(attempt);
            var delay = low + TimeSpan.FromTicks((long)((high - low).Ticks * Unit(random)));
            if (delay > high)
                delay = high;
            return BackoffDecision.Retry(now, delay, $"randomized exponential retry {attempt} of {Attempts - 1}: {S(delay)} in [{S(low)}, {S(high)}]");
        }
    }

    /// <summary>
    /// VTScada's redial cycle (research/peers.md §1, "BABT British Telecom rules"): CallIntervalk is the wait after
    /// the k-th attempt of a cycle fails; CycleLength intervals make a cycle of CycleLength+1 attempts; after the
    /// last attempt of a cycle fails the wait is CycleDelay, and the cycle begins again (at most MaxCycles).
    /// </summary>
    public sealed record RedialCycle(IReadOnlyList<TimeSpan> CallIntervals, TimeSpan CycleDelay, int? MaxCycles, TimeSpan BusyDelay, int BusyMaxRetries)
        : BackoffPolicy(BusyDelay, BusyMaxRetries)
    {
        private protected override BackoffDecision Decide(int attempt, OutcomeCode lastOutcome, DateTimeOffset now, Func<double> random)
        {
            var perCycle = CallIntervals.Count + 1;
            var cycle = (attempt - 1) / perCycle + 1;
            var position = (attempt - 1) % perCycle;
            if (position < CallIntervals.Count)
                return BackoffDecision.Retry(now, CallIntervals[position], $"redial cycle {cycle}: CallInterval{position + 1} = {S(CallIntervals[position])}");
            if (MaxCycles is { } max && cycle >= max)
                return BackoffDecision.Stop(now, $"redial cycle: {max} cycles exhausted");
            return BackoffDecision.Retry(now, CycleDelay, $"redial cycle {cycle} exhausted: CycleDelay {S(CycleDelay)}");
        }
    }

    /// <summary>Seed 002 CMTR_NONE: "No retries based on time will be attempted."</summary>
    public sealed record NoRetry(TimeSpan BusyDelay, int BusyMaxRetries) : BackoffPolicy(BusyDelay, BusyMaxRetries)
    {
        private protected override BackoffDecision Decide(int attempt, OutcomeCode lastOutcome, DateTimeOffset now, Func<double> random)
        {
            return BackoffDecision.Stop(now, "no time-based retries (CMTR_NONE)");
        }
    }

    /// <summary>Per-category strategies (design.md §4): the last outcome's category picks the policy; others use the default.</summary>
    public sealed record ByCategory(BackoffPolicy Default, IReadOnlyDictionary<OutcomeCategory, BackoffPolicy> Overrides)
        : BackoffPolicy(Default.ServerBusyDelay, Default.ServerBusyMaxRetries)
    {
        public BackoffPolicy For(OutcomeCode outcome) =>
            Overrides.TryGetValue(outcome.Category(), out var p) ? p : Default;

        private protected override BackoffDecision Decide(int attempt, OutcomeCode lastOutcome, DateTimeOffset now, Func<double> random) =>
            For(lastOutcome).Next(attempt, lastOutcome, now, random);
    }

    private static BackoffDecision Exceeded(int attempt, int attempts, TimeSpan? exceededDelay, int? exceededAttempts, DateTimeOffset now)
    {
        if (exceededDelay is not { } delay)
            return BackoffDecision.Stop(now, $"{attempts} attempts made and AttemptsExceededDelay is INFINITE (seed 002)");
        var extra = attempt - attempts + 1;
        if (exceededAttempts is { } limit && extra > limit)
            return BackoffDecision.Stop(now, $"{limit} attempts after AttemptsExceededDelay made");
        return BackoffDecision.Retry(now, delay, $"attempts exceeded: retry every {S(delay)}");
    }
}
