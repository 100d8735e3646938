using ChannelManager.Core;
using ChannelManager.Core.Scheduling;
using CsCheck;

namespace ChannelManager.Tests.Scheduling;

/// <summary>
/// CsCheck properties: for random options, outcome sequences and clock jumps, no strategy returns a delay outside its
/// bounds, and the guard never lets a number's attempts exceed its profile's count or spacing.
/// </summary>
public sealed class SchedulingPropertyTests
{
    private const long Iterations = 5_000;

    private static readonly DateTimeOffset T0 = new(2026, 1, 5, 8, 0, 0, TimeSpan.Zero);

    private static readonly OutcomeCode[] Outcomes = Enum.GetValues<OutcomeCode>();

    private static readonly Gen<TimeSpan> GenSeconds = Gen.Int[0, 86_400].Select(s => TimeSpan.FromSeconds(s));

    private static readonly Gen<DateTimeOffset> GenNow = Gen.Long[-100_000_000, 100_000_000].Select(s => T0.AddSeconds(s));

    private static readonly Gen<double> GenRandom = Gen.OneOf(Gen.Double[0, 1], Gen.OneOf(double.NaN, -1.0, 2.0, 1.0, 0.0));

    [Fact]
    public void Next_ExponentialRandomOptions_DelayBetweenInitialAndMaxAndGiveUpOnlyAfterMaxAttempts()
    {
        Gen.Select(GenSeconds, GenSeconds, Gen.Double[1, 10], Gen.Int[0, 50], Gen.Int[1, 2_000], GenNow)
            .Sample((a, b, factor, retries, attempt, now) =>
            {
                var (initial, max) = a <= b ? (a, b) : (b, a);
                if (initial == TimeSpan.Zero)
                    initial = TimeSpan.FromSeconds(1);
                if (max < initial)
                    max = initial;
                var policy = BackoffPolicy.From(new BackoffOptions { Initial = initial, Max = max, Factor = factor, MaxAttempts = retries });
                var d = policy.Next(attempt, OutcomeCode.NoAnswer, now, () => 0.5);
                Assert.Equal(attempt > retries, d.GiveUp);
                if (!d.GiveUp)
                {
                    Assert.InRange(d.Delay, initial, max);
                    Assert.Equal(now + d.Delay, d.RetryAt);
                    if (attempt > 1)
                        Assert.True(policy.Next(attempt - 1, OutcomeCode.NoAnswer, now, () => 0.5).Delay <= d.Delay, "exponential back-off must not shrink");
                }
            }, iter: Iterations);
    }

    [Fact]
    public void Next_Seed002StrategiesRandomOptions_DelayInsideSeedBounds()
    {
        Gen.Select(Gen.Int[1, 3_600], Gen.Int[1, 30], Gen.Int[0, 86_400].Select(s => s == 0 ? (int?)null : s), Gen.Int[1, 500], GenRandom, GenNow, Gen.Bool)
            .Sample((delaySec, attempts, exceededSec, attempt, r, now, randomized) =>
            {
                var delay = TimeSpan.FromSeconds(delaySec);
                TimeSpan? exceeded = exceededSec is { } e ? TimeSpan.FromSeconds(e) : null;
                var options = new BackoffOptions
                {
                    Strategy = randomized ? BackoffStrategyKind.ExponentialRandomized : BackoffStrategyKind.Linear,
                    Delay = delay, Attempts = attempts, AttemptsExceededDelay = exceeded,
                };
                var tooLong = randomized && delay.Ticks * Math.Pow(2, attempts - 1) > TimeSpan.FromDays(7).Ticks;
                Assert.Equal(tooLong, options.Validate().Count > 0);
                if (tooLong)
                {
                    Assert.Throws<ArgumentException>(() => BackoffPolicy.From(options));
                    return;
                }
                var policy = BackoffPolicy.From(options);
                var d = policy.Next(attempt, OutcomeCode.Busy, now, () => r);
                if (attempt >= attempts)
                {
                    Assert.Equal(exceeded is null, d.GiveUp);
                    if (exceeded is { } x)
                        Assert.Equal(x, d.Delay);
                    return;
                }
                Assert.False(d.GiveUp);
                if (!randomized)
                {
                    Assert.Equal(delay, d.Delay);
                    return;
                }
                var low = TimeSpan.FromTicks(delay.Ticks * (1L << (attempt - 1)));
                var high = TimeSpan.FromTicks(delay.Ticks * (1L << attempt));
                Assert.InRange(d.Delay, low, high);
            }, iter: Iterations);
    }

    [Fact]
    public void Next_RedialCycleRandomOptions_DelayIsAConfiguredIntervalOrCycleDelay()
    {
        Gen.Select(GenSeconds.Array[1, 10], Gen.Int[1, 10], GenSeconds, Gen.Int[1, 300], GenNow)
            .Sample((intervals, length, cycleDelay, attempt, now) =>
            {
                var cycleLength = Math.Min(length, intervals.Length);
                var policy = BackoffPolicy.From(new BackoffOptions
                {
                    Strategy = BackoffStrategyKind.RedialCycle, CallIntervals = intervals, CycleLength = cycleLength, CycleDelay = cycleDelay,
                });
                var d = policy.Next(attempt, OutcomeCode.NoAnswer, now, () => 0.5);
                Assert.False(d.GiveUp);
                var position = (attempt - 1) % (cycleLength + 1);
                Assert.Equal(position < cycleLength ? intervals[position] : cycleDelay, d.Delay);
            }, iter: Iterations);
    }

    [Fact]
    public void OnOutcome_RandomOutcomeSequencesAndClockJumps_NextDueWithinPolicyBoundsOfNow()
    {
        var options = new BackoffOptions { Initial = TimeSpan.FromSeconds(30), Max = TimeSpan.FromSeconds(120), MaxAttempts = 6, ServerBusyDelay = TimeSpan.FromSeconds(5) };
        var policy = BackoffPolicy.From(options);
        var step = Gen.Select(Gen.OneOf(Outcomes), Gen.Int[-86_400, 86_400], Gen.Bool);
        step.Array[1, 60].Sample(steps =>
        {
            var s = RetrySchedule.Initial;
            var now = T0;
            var counted = 0;
            foreach (var (outcome, jump, busy) in steps)
            {
                now = now.AddSeconds(jump);   // the clock may step backwards as well as forwards
                var before = s;
                s = s.OnOutcome(policy, outcome, now, () => 0.5, busy);
                var category = outcome.Category();
                var countedFailure = !busy && outcome != OutcomeCode.Success && category is OutcomeCategory.ConnectionEstablishment or OutcomeCategory.ProtocolCommand;
                if (outcome == OutcomeCode.Success)
                    counted = 0;
                else if (countedFailure)
                    counted++;
                Assert.Equal(counted, s.FailedAttempts);
                if (outcome == OutcomeCode.Success)
                    Assert.Null(s.NextDue);
                else if (!busy && category == OutcomeCategory.Scheduling)
                    Assert.Equal(before.NextDue, s.NextDue);   // cancellation and refusals leave the schedule alone
                else if (s.NextDue is { } due)
                    Assert.InRange(due - now, TimeSpan.Zero, options.Max);   // a fresh decision is bounded from this "now"
                if (countedFailure)
                    Assert.Equal(counted > options.MaxAttempts, s.Exhausted);
            }
        }, iter: Iterations);
    }

    private sealed record Op(int Advance, bool BackJump, OutcomeCode Outcome, int CallSeconds, string Modem, bool OperatorReset);

    private static readonly Gen<OutcomeCode> GenAttemptOutcome = Gen.Frequency(
        (6, Gen.OneOf(OutcomeCode.Busy)),
        (4, Gen.OneOf(OutcomeCode.NoAnswer, OutcomeCode.NoCarrier, OutcomeCode.DialTimeout)),
        (2, Gen.OneOf(OutcomeCode.CommandTimeout, OutcomeCode.ConnectionLost, OutcomeCode.MalformedFrame)),
        (2, Gen.OneOf(OutcomeCode.NoDialTone, OutcomeCode.ModemError, OutcomeCode.CallBarredByModem)),
        (1, Gen.OneOf(OutcomeCode.Success)));

    private static readonly Gen<Op> GenOp = Gen.Select(
        Gen.Frequency((5, Gen.Int[0, 200]), (2, Gen.Int[200, 8_000]), (1, Gen.Int[0, 100_000])),
        Gen.Int[0, 30].Select(i => i == 0),
        GenAttemptOutcome,
        Gen.Int[0, 90],
        Gen.OneOf("A", "B", "C"),
        Gen.Int[0, 60].Select(i => i == 0),
        (adv, back, outcome, call, modem, reset) => new Op(adv, back, outcome, call, modem, reset));

    private static readonly string[] ProfileNames = [.. CountryProfiles.All.Keys, "UK+GSM", "DE+NZ", "US+DE"];

    [Fact]
    public void Guard_RandomRequestsOutcomesAndClockJumps_NeverExceedsProfileAttemptsOrSpacing()
    {
        Gen.Select(Gen.OneOf(ProfileNames), GenOp.Array[1, 120]).Sample((name, ops) =>
        {
            var profile = CountryProfiles.Get(name);
            var ledger = new NumberLedger("01632960123");
            var now = T0;
            // Independent oracle: the counted attempts of the current sequence, (off-hook, on-hook, outcome).
            var sequence = new List<(DateTimeOffset Off, DateTimeOffset On, OutcomeCode Outcome)>();
            var alarmsSinceReset = 0;
            foreach (var op in ops)
            {
                now = op.BackJump ? now.AddSeconds(-op.Advance) : now.AddSeconds(op.Advance);
                if (op.OperatorReset)
                {
                    ledger = RepeatCallGuard.OperatorReset(ledger, "prop", "property test", now).Ledger;
                    sequence.Clear();
                    alarmsSinceReset = 0;
                    continue;
                }
                var decision = RepeatCallGuard.Check(ledger, profile, now, op.Modem);
                if (!decision.Allowed)
                {
                    Assert.Equal(OutcomeCode.RepeatCallLimit, decision.Outcome);
                    if (decision.NextAllowedAt is { } next)
                    {
                        Assert.True(next > now, "a refusal's next allowed time lies in the future");
                        // Liveness: the promised time really is allowed (for the number; a modem block is per modem).
                        if (decision.Refusal is GuardRefusal.Waiting or GuardRefusal.Locked)
                            Assert.True(RepeatCallGuard.Check(ledger, profile, next).Allowed, $"{name}: not allowed at the promised {next:O}");
                    }
                    var refusedLedger = ledger;
                    var refusedAt = now;
                    Assert.Throws<InvalidOperationException>(() => { _ = RepeatCallGuard.RecordAttemptStarted(refusedLedger, profile, refusedAt, op.Modem); });
                    continue;
                }
                var started = RepeatCallGuard.RecordAttemptStarted(ledger, profile, now, op.Modem);
                if (started.Events.Any(e => e.Kind == LedgerEventKind.AutoReleased))
                {
                    Assert.NotNull(profile.AutoRelease);
                    sequence.Clear();
                    alarmsSinceReset = 0;
                }
                var offHook = now;
                var onHook = now.AddSeconds(op.CallSeconds);
                var done = RepeatCallGuard.RecordOutcome(started.Ledger, profile, new AttemptResult(op.Outcome, onHook) { Modem = op.Modem, RawReply = "X" });
                ledger = done.Ledger;
                now = onHook;
                alarmsSinceReset += done.Events.Count(e => e.Kind == LedgerEventKind.AlarmRaised);
                if (done.Events.Any(e => e.Kind == LedgerEventKind.AlarmCleared))
                    alarmsSinceReset = 0;
                Assert.InRange(alarmsSinceReset, 0, 1);

                if (op.Outcome == OutcomeCode.Success)
                {
                    sequence.Clear();
                    continue;
                }
                if (op.Outcome.Category() == OutcomeCategory.ChannelAllocation)
                    continue;

                // Spacing: this off-hook is at least the profile's gap after the previous failure's on-hook.
                if (sequence.Count > 0)
                {
                    var previous = sequence[^1];
                    Assert.True(offHook >= previous.On + profile.GapAfter(sequence.Count),
                        $"{name}: attempt {sequence.Count + 1} at {offHook:O} earlier than {previous.On:O} + gap {profile.GapAfter(sequence.Count)}");
                }
                // Count: never more than the profile allows in a sequence. US: 15 only while every failure so far
                // was BUSY — judged when the attempt is started, since its own outcome is not known yet.
                int Limit(IEnumerable<OutcomeCode> failures) =>
                    profile.AllBusyMaxAttempts is { } busy && failures.All(o => o == OutcomeCode.Busy) ? busy : profile.MaxAttempts;
                var limitAtStart = Limit(sequence.Select(a => a.Outcome));
                sequence.Add((offHook, onHook < offHook ? offHook : onHook, op.Outcome));
                if (profile.AfterMax == LockKind.Locked)
                {
                    Assert.InRange(sequence.Count, 1, limitAtStart);
                    Assert.Equal(sequence.Count >= Limit(sequence.Select(a => a.Outcome)), ledger.State == LedgerState.Locked);
                }
                else if (profile.RollingWindow is { } window)
                {
                    var inWindow = sequence.Count(a => a.Off > offHook - window && a.Off <= offHook);
                    Assert.InRange(inWindow, 1, profile.MaxAttempts);
                }
                Assert.Equal(sequence.Count, ledger.AttemptsInSequence);
            }
        }, iter: Iterations);
    }
}
