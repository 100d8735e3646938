using ChannelManager.Core;
using ChannelManager.Core.Scheduling;

namespace ChannelManager.Tests.Scheduling;

/// <summary>The worked timelines of research/repeat-call-rules.md §3.5 (t in seconds; "on" = on-hook time).</summary>
public sealed class RepeatCallGuardTimelineTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 5, 8, 0, 0, TimeSpan.Zero);

    private static DateTimeOffset At(double seconds) => T0.AddSeconds(seconds);

    private sealed class Line(CountryProfile profile, string number = "01632960123")
    {
        public NumberLedger Ledger { get; private set; } = new(number);

        public List<LedgerEvent> Events { get; } = [];

        public GuardDecision Check(double t, string? modem = null) => RepeatCallGuard.Check(Ledger, profile, At(t), modem);

        public LedgerUpdate Dial(double t, OutcomeCode outcome, double on, string modem = "A", string? reply = null, DateTimeOffset? blockedUntil = null)
        {
            Apply(RepeatCallGuard.RecordAttemptStarted(Ledger, profile, At(t), modem));
            return Apply(RepeatCallGuard.RecordOutcome(Ledger, profile, new AttemptResult(outcome, At(on)) { Modem = modem, RawReply = reply, ModemBlockedUntil = blockedUntil }));
        }

        public LedgerUpdate Apply(LedgerUpdate u)
        {
            Ledger = u.Ledger;
            Events.AddRange(u.Events);
            return u;
        }

        public int Alarms => Events.Count(e => e.Kind == LedgerEventKind.AlarmRaised);
    }

    [Fact]
    public void Timeline_UkDefault_WaitsLocksAlarmsOnceAndOperatorResetAllowsDial()
    {
        var line = new Line(CountryProfiles.UK);

        line.Dial(0, OutcomeCode.Busy, on: 3);
        Assert.Equal(At(123), line.Ledger.NextAllowedAt);

        var refused = line.Check(60);
        Assert.Equal((false, GuardRefusal.Waiting, At(123)), (refused.Allowed, refused.Refusal, refused.NextAllowedAt));
        Assert.Equal(OutcomeCode.RepeatCallLimit, refused.Outcome);
        Assert.False(line.Check(122.999).Allowed);

        line.Dial(123, OutcomeCode.NoAnswer, on: 178);
        Assert.Equal(At(418), line.Ledger.NextAllowedAt);

        line.Dial(418, OutcomeCode.NoCarrier, on: 460);
        Assert.Equal(At(820), line.Ledger.NextAllowedAt);

        var fourth = line.Dial(820, OutcomeCode.Busy, on: 823);
        Assert.Equal(LedgerState.Locked, line.Ledger.State);
        Assert.True(fourth.RaisedAlarm);
        Assert.Equal(1, line.Alarms);

        var late = line.Check(10_000);
        Assert.Equal((false, GuardRefusal.Locked, (DateTimeOffset?)null), (late.Allowed, late.Refusal, late.NextAllowedAt));
        line.Apply(RepeatCallGuard.Refresh(line.Ledger, CountryProfiles.UK, At(10_000)));
        Assert.Equal(1, line.Alarms);   // one alarm per number, not one per refused request

        var reset = line.Apply(RepeatCallGuard.OperatorReset(line.Ledger, "j.smith", "line fault cleared by BT", At(10_100)));
        var audit = Assert.Single(reset.Events, e => e.Kind == LedgerEventKind.OperatorReset);
        Assert.Equal("j.smith", audit.Operator);
        Assert.Contains("line fault cleared by BT", audit.Detail, StringComparison.Ordinal);
        Assert.Contains(reset.Events, e => e.Kind == LedgerEventKind.AlarmCleared);
        Assert.True(line.Check(10_100).Allowed);

        line.Apply(RepeatCallGuard.RecordAttemptStarted(line.Ledger, CountryProfiles.UK, At(10_100), "A"));
        Assert.Equal(1, line.Ledger.AttemptsInSequence);
    }

    [Fact]
    public void Timeline_UkDefaultRefusedRequest_RetryPlanMovedToNextAllowedTime()
    {
        var line = new Line(CountryProfiles.UK);
        line.Dial(0, OutcomeCode.Busy, on: 3);
        var backoff = BackoffDecision.Retry(At(60), TimeSpan.Zero, "request at t=60");

        var plan = RepeatCallGuard.Plan(backoff, line.Ledger, CountryProfiles.UK);

        Assert.Equal(At(123), plan.At);
        Assert.Equal(OutcomeCode.RepeatCallLimit, plan.Outcome);
        Assert.Equal(GuardRefusal.Waiting, plan.Refusal);
    }

    [Fact]
    public void Plan_Seed003BackoffUnderUkProfile_GuardMovesThirtySecondsToTwoMinutesAfterOnHook()
    {
        // Seed 003's 30 s first retry is shorter than the UK profile's 120 s gap: the guard wins.
        var line = new Line(CountryProfiles.UK);
        line.Dial(0, OutcomeCode.Busy, on: 3);
        var policy = BackoffPolicy.From(new BackoffOptions { Initial = TimeSpan.FromSeconds(30), Max = TimeSpan.FromSeconds(120), MaxAttempts = 6 });
        var schedule = RetrySchedule.Initial.OnOutcome(policy, OutcomeCode.Busy, At(3), () => 0.5);

        var plan = RepeatCallGuard.Plan(schedule.LastDecision.GetValueOrDefault(), line.Ledger, CountryProfiles.UK);

        Assert.Equal(At(33), schedule.NextDue);
        Assert.Equal(At(123), plan.At);
        Assert.True(plan.ClampedByGuard);
    }

    [Fact]
    public void Timeline_De_TwelveFailuresLockFor120MinutesFromLastOnHook()
    {
        var line = new Line(CountryProfiles.DE);
        for (var k = 0; k < 12; k++)
        {
            var t = k * 35.0;
            Assert.True(line.Check(t).Allowed, $"dial {k + 1} at t={t}");
            line.Dial(t, OutcomeCode.NoAnswer, on: t + 5);
        }

        Assert.Equal(LedgerState.Locked, line.Ledger.State);
        Assert.Equal(At(390), line.Ledger.LockedAt);
        var before = line.Check(7_589);
        Assert.Equal((GuardRefusal.Locked, At(7_590)), (before.Refusal, before.NextAllowedAt.GetValueOrDefault()));
        Assert.True(line.Check(7_590).Allowed);

        var released = line.Apply(RepeatCallGuard.Refresh(line.Ledger, CountryProfiles.DE, At(7_590)));
        Assert.Contains(released.Events, e => e.Kind == LedgerEventKind.AutoReleased);
        Assert.Equal(LedgerState.Ready, line.Ledger.StateAt(At(7_590)));
        Assert.Equal(0, line.Ledger.AttemptsInSequence);
    }

    [Fact]
    public void Timeline_De_DialsEarlierThan30SecondsAfterOnHookAreRefused()
    {
        var line = new Line(CountryProfiles.DE);
        line.Dial(0, OutcomeCode.NoAnswer, on: 5);

        Assert.False(line.Check(34.999).Allowed);
        Assert.True(line.Check(35).Allowed);
    }

    [Fact]
    public void Timeline_De_ConnectBeforeTwelfthFailureResetsCounter()
    {
        var line = new Line(CountryProfiles.DE);
        for (var k = 0; k < 11; k++)
            line.Dial(k * 35.0, OutcomeCode.NoAnswer, on: k * 35.0 + 5);
        Assert.Equal(11, line.Ledger.AttemptsInSequence);

        line.Dial(385, OutcomeCode.Success, on: 445);

        Assert.Equal(0, line.Ledger.AttemptsInSequence);
        Assert.Equal(LedgerState.Ready, line.Ledger.State);
        Assert.True(line.Check(445).Allowed);
    }

    [Fact]
    public void Timeline_Us_FifteenBusyWithNoGapThenLockedForAnHour()
    {
        var line = new Line(CountryProfiles.US);
        var t = 0.0;
        for (var k = 1; k <= 15; k++)
        {
            Assert.True(line.Check(t).Allowed, $"busy attempt {k}");
            line.Dial(t, OutcomeCode.Busy, on: t + 10);
            t += 10;   // gap 0: redial at the on-hook instant
        }

        Assert.Equal(LedgerState.Locked, line.Ledger.State);
        Assert.Equal(At(150 + 3_600), line.Check(200).NextAllowedAt);
        Assert.False(line.Check(150 + 3_599).Allowed);
        Assert.True(line.Check(150 + 3_600).Allowed);
    }

    [Fact]
    public void Timeline_Us_NoCarrierThenBusy_LockedAfterSecondAttempt()
    {
        var line = new Line(CountryProfiles.US);
        line.Dial(0, OutcomeCode.NoCarrier, on: 50);
        line.Dial(50, OutcomeCode.Busy, on: 55);

        Assert.Equal(LedgerState.Locked, line.Ledger.State);
        Assert.Equal(At(55 + 3_600), line.Ledger.ReleaseAt);
    }

    [Fact]
    public void Timeline_Au_FifteenFailuresLockWithoutAutoReleaseUntilOperatorReset()
    {
        var line = new Line(CountryProfiles.AU);
        for (var k = 0; k < 15; k++)
            line.Dial(k * 10.0, OutcomeCode.NoAnswer, on: k * 10.0 + 5);

        Assert.Equal(LedgerState.Locked, line.Ledger.State);
        var dayLater = line.Check(145 + 86_400);
        Assert.Equal((false, GuardRefusal.Locked, (DateTimeOffset?)null), (dayLater.Allowed, dayLater.Refusal, dayLater.NextAllowedAt));

        line.Apply(RepeatCallGuard.OperatorReset(line.Ledger, "ops", "customer confirmed line", At(145 + 86_400)));
        Assert.True(line.Check(145 + 86_400).Allowed);
    }

    [Fact]
    public void Timeline_ModemLock_BlacklistedNotCountedOtherModemDialsAtOnceAlarmOnce()
    {
        var line = new Line(CountryProfiles.UK);
        line.Dial(0, OutcomeCode.NoAnswer, on: 30);                     // attempt 1 → next allowed 150

        var blocked = line.Dial(150, OutcomeCode.CallBarredByModem, on: 151, modem: "A", reply: "BLACKLISTED");
        Assert.Equal(1, line.Ledger.AttemptsInSequence);                  // BLACKLISTED was not a network attempt
        Assert.True(blocked.RaisedAlarm);
        Assert.Equal(LedgerState.ModemBlocked, line.Ledger.State);
        Assert.Equal(GuardRefusal.ModemBlocked, line.Check(151, "A").Refusal);
        Assert.True(line.Check(151, "B").Allowed);                       // the ledger allows it at once

        line.Dial(151, OutcomeCode.NoCarrier, on: 200, modem: "B");       // counted: attempt 2 → next 200 + 240
        Assert.Equal(2, line.Ledger.AttemptsInSequence);
        Assert.Equal(At(440), line.Ledger.NextAllowedAt);
        Assert.Equal(GuardRefusal.ModemBlocked, line.Check(440, "A").Refusal);

        line.Apply(RepeatCallGuard.ClearModemBlock(line.Ledger, "A", At(300), "health check passed"));
        Assert.Equal(GuardRefusal.Waiting, line.Check(300, "A").Refusal);  // the ledger's own wait still applies
        Assert.True(line.Check(440, "A").Allowed);

        line.Dial(440, OutcomeCode.CallBarredByModem, on: 441, modem: "A", reply: "DELAYED", blockedUntil: At(500));
        Assert.Equal(1, line.Alarms);                                     // still one alarm for the number
        Assert.True(line.Check(500, "A").Allowed);                        // the modem's own timer has passed
    }

    [Fact]
    public void Timeline_Restart_AttemptWithoutOnHookCountsAsFailedAtRestartTime()
    {
        var profile = CountryProfiles.UK;
        var ledger = RepeatCallGuard.RecordAttemptStarted(new NumberLedger("01632960123"), profile, At(500), "A").Ledger;  // persisted before ATD

        var recovered = RepeatCallGuard.RecoverAfterRestart(ledger, profile, At(700));

        Assert.Equal(LedgerEventKind.RecoveredAfterRestart, recovered.Events[0].Kind);
        Assert.Equal(1, recovered.Ledger.AttemptsInSequence);
        Assert.Equal(At(700), recovered.Ledger.LastOnHook);
        Assert.Equal(At(700 + 120), recovered.Ledger.NextAllowedAt);
        Assert.False(RepeatCallGuard.Check(recovered.Ledger, profile, At(819)).Allowed);
    }

    [Fact]
    public void Check_ClockMovesBackwards_WaitIsNotShortened()
    {
        var line = new Line(CountryProfiles.UK);
        line.Dial(1_000, OutcomeCode.Busy, on: 1_003);

        var back = line.Check(-5_000);

        Assert.Equal((GuardRefusal.Waiting, At(1_123)), (back.Refusal, back.NextAllowedAt.GetValueOrDefault()));
    }

    [Fact]
    public void RecordOutcome_OnHookBeforeOffHookAfterClockStep_GapMeasuredFromOffHook()
    {
        var line = new Line(CountryProfiles.UK);

        line.Dial(1_000, OutcomeCode.NoAnswer, on: 900);

        Assert.Equal(At(1_120), line.Ledger.NextAllowedAt);
    }

    [Fact]
    public void Check_AttemptInProgress_SecondModemRefused()
    {
        var ledger = RepeatCallGuard.RecordAttemptStarted(new NumberLedger("123"), CountryProfiles.UK, At(0), "A").Ledger;

        Assert.Equal(GuardRefusal.AttemptInProgress, RepeatCallGuard.Check(ledger, CountryProfiles.UK, At(1), "B").Refusal);
    }

    [Fact]
    public void RecordAttemptStarted_WhenRefused_IsACallerBug()
    {
        var line = new Line(CountryProfiles.UK);
        line.Dial(0, OutcomeCode.Busy, on: 3);

        Assert.Throws<InvalidOperationException>(() => RepeatCallGuard.RecordAttemptStarted(line.Ledger, CountryProfiles.UK, At(60), "A"));
    }

    [Theory]
    [InlineData(OutcomeCode.NoDialTone)]
    [InlineData(OutcomeCode.ModemError)]
    [InlineData(OutcomeCode.TransportFailure)]
    public void RecordOutcome_ChannelAllocationFailure_NotCounted(OutcomeCode code)
    {
        var line = new Line(CountryProfiles.UK);

        var u = line.Dial(0, code, on: 1);

        Assert.Equal(0, line.Ledger.AttemptsInSequence);
        Assert.Contains(u.Events, e => e.Kind == LedgerEventKind.AttemptNotCounted);
        Assert.True(line.Check(1).Allowed);
        Assert.False(u.RaisedAlarm);
    }

    [Fact]
    public void Timeline_Nz_TenCallsInRollingWindowThenWaitsForOldestToLeave()
    {
        var line = new Line(CountryProfiles.NZ);
        for (var k = 0; k < 10; k++)
            line.Dial(k * 40.0, OutcomeCode.NoAnswer, on: k * 40.0 + 10);   // gaps of 30 s

        var full = line.Check(400);
        Assert.Equal((GuardRefusal.Waiting, At(1_800)), (full.Refusal, full.NextAllowedAt.GetValueOrDefault()));
        Assert.True(line.Check(1_800).Allowed);
        Assert.NotEqual(LedgerState.Locked, line.Ledger.State);
    }

    [Fact]
    public void Timeline_It_ReleaseCountsFromFirstFailure()
    {
        var line = new Line(CountryProfiles.IT);
        var t = 0.0;
        for (var k = 1; k <= 10; k++)
        {
            var next = line.Ledger.NextAllowedAt is { } n ? (n - T0).TotalSeconds : 0;
            t = Math.Max(t, next);
            line.Dial(t, OutcomeCode.Busy, on: t + 5);
            t += 5;
        }

        Assert.Equal(LedgerState.Locked, line.Ledger.State);
        Assert.Equal(At(5 + 7_200), line.Ledger.ReleaseAt);
    }

    [Fact]
    public void Combine_GuardWins_BackoffEarlierThanGuardMovedLaterAndLockedGivesNoTime()
    {
        var backoff = BackoffDecision.Retry(At(0), TimeSpan.FromSeconds(30), "x");

        Assert.Equal(At(30), RepeatCallGuard.Combine(backoff, new GuardDecision(true, GuardRefusal.None, null, "")).At);
        var moved = RepeatCallGuard.Combine(backoff, new GuardDecision(false, GuardRefusal.Waiting, At(120), "gap"));
        Assert.Equal((At(120), OutcomeCode.RepeatCallLimit), (moved.At.GetValueOrDefault(), moved.Outcome.GetValueOrDefault()));
        var locked = RepeatCallGuard.Combine(backoff, new GuardDecision(false, GuardRefusal.Locked, null, "locked"));
        Assert.Equal(((DateTimeOffset?)null, OutcomeCode.RepeatCallLimit, false), (locked.At, locked.Outcome.GetValueOrDefault(), locked.GiveUp));
        var earlierGuard = RepeatCallGuard.Combine(backoff, new GuardDecision(false, GuardRefusal.Waiting, At(10), "gap"));
        Assert.Equal(At(30), earlierGuard.At);
        Assert.True(RepeatCallGuard.Combine(BackoffDecision.Stop(At(0), "done"), new GuardDecision(true, GuardRefusal.None, null, "")).GiveUp);
    }
}
