using ChannelManager.Core;
using ChannelManager.Core.Scheduling;

namespace ChannelManager.Tests.Scheduling;

public sealed class RetryScheduleTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 5, 8, 0, 0, TimeSpan.Zero);

    private static double Mid() => 0.5;

    [Fact]
    public void OnOutcome_Seed000Scenario503ThenTwoFailuresThenSuccess_RetriesAtOnceThen1Then2MinutesThenClears()
    {
        // Seed 000 steps 4–8: 503 → "calls HTTP again"; waits 1 minute; waits another 2 minutes; succeeds.
        var policy = BackoffPolicy.From(new BackoffOptions { Initial = TimeSpan.FromMinutes(1), Max = TimeSpan.FromHours(1), MaxAttempts = 3, ServerBusyDelay = TimeSpan.Zero });
        var s = RetrySchedule.Initial;

        s = s.OnOutcome(policy, OutcomeCode.ExceptionResponse, T0, Mid, serverBusy: true);
        Assert.Equal((T0, 0), (s.NextDue.GetValueOrDefault(), s.FailedAttempts));   // "calls HTTP again", not counted

        s = s.OnOutcome(policy, OutcomeCode.ConnectionLost, T0.AddSeconds(1), Mid);
        Assert.Equal(T0.AddSeconds(1).AddMinutes(1), s.NextDue);

        s = s.OnOutcome(policy, OutcomeCode.ConnectionLost, T0.AddMinutes(2), Mid);
        Assert.Equal(T0.AddMinutes(4), s.NextDue);

        s = s.OnOutcome(policy, OutcomeCode.Success, T0.AddMinutes(5), Mid);
        Assert.Null(s.NextDue);                                          // seed 003: the retry task is deleted
        Assert.Equal(0, s.FailedAttempts);
        Assert.Equal(T0.AddMinutes(5), s.LastSuccess);
        Assert.Equal(T0.AddMinutes(2), s.LastFailure);
        Assert.Equal(T0.AddMinutes(5), s.LastAccess);
    }

    [Fact]
    public void OnOutcome_ExponentialRandomizedAfterConnect_ResetsToFirstWindow()
    {
        // Seed 002: "i increasing after each successive failed attempt, resetting to 1 when connection is connected".
        var policy = BackoffPolicy.From(new BackoffOptions { Strategy = BackoffStrategyKind.ExponentialRandomized, Delay = TimeSpan.FromSeconds(10), Attempts = 6 });
        var s = RetrySchedule.Initial
            .OnOutcome(policy, OutcomeCode.NoAnswer, T0, () => 1.0)
            .OnOutcome(policy, OutcomeCode.NoAnswer, T0, () => 1.0);
        Assert.Equal(TimeSpan.FromSeconds(40), s.LastDecision.GetValueOrDefault().Delay);

        s = s.OnOutcome(policy, OutcomeCode.Success, T0, () => 1.0).OnOutcome(policy, OutcomeCode.NoAnswer, T0, () => 1.0);

        Assert.Equal(TimeSpan.FromSeconds(20), s.LastDecision.GetValueOrDefault().Delay);
        Assert.Equal(1, s.FailedAttempts);
    }

    [Fact]
    public void OnOutcome_ChannelAllocationFailure_NotCountedAgainstOutstation()
    {
        var policy = BackoffPolicy.From(new BackoffOptions { ServerBusyDelay = TimeSpan.FromSeconds(5) });

        var s = RetrySchedule.Initial.OnOutcome(policy, OutcomeCode.NoModemAvailable, T0, Mid);

        Assert.Equal(0, s.FailedAttempts);
        Assert.Equal(T0.AddSeconds(5), s.NextDue);
        Assert.Null(s.LastFailure);
    }

    [Fact]
    public void OnOutcome_RetriesExhausted_ExhaustedWithNothingQueued()
    {
        var policy = BackoffPolicy.From(new BackoffOptions { MaxAttempts = 1 });

        var s = RetrySchedule.Initial.OnOutcome(policy, OutcomeCode.Busy, T0, Mid).OnOutcome(policy, OutcomeCode.Busy, T0, Mid);

        Assert.True(s.Exhausted);
        Assert.Null(s.NextDue);
        Assert.True(s.Rearm(T0).NextDue == T0 && !s.Rearm(T0).Exhausted);
    }
}
