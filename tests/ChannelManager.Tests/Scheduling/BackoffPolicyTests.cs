using ChannelManager.Core;
using ChannelManager.Core.Scheduling;

namespace ChannelManager.Tests.Scheduling;

/// <summary>Each seed's algorithm reproduces the seed's own numbers.</summary>
public sealed class BackoffPolicyTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 5, 8, 0, 0, TimeSpan.Zero);

    private static readonly int[] LinearAttempts = [1, 2, 3, 4, 5, 1000];

    private static double Never() => throw new InvalidOperationException("this strategy must not draw random numbers");

    private static TimeSpan Sec(double s) => TimeSpan.FromSeconds(s);

    [Fact]
    public void Next_Seed000ExponentialOneMinute_Waits1Then2Then4MinutesThenStopsAtRetryFrequency()
    {
        // Seed 000: "if the first wait time is 60 seconds … the next … 2 minutes, on the third attempt it is 4
        // minutes … The DM client stops attempting to connect if the retry frequency is reached."
        var policy = BackoffPolicy.From(new BackoffOptions { Initial = TimeSpan.FromMinutes(1), Max = TimeSpan.FromHours(1), MaxAttempts = 3 });

        var waits = Enumerable.Range(1, 3).Select(n => policy.Next(n, OutcomeCode.NoAnswer, T0, Never)).ToList();

        Assert.Equal([TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(4)], waits.Select(d => d.Delay));
        Assert.All(waits, d => Assert.False(d.GiveUp));
        Assert.Equal(T0.AddMinutes(4), waits[2].RetryAt);
        Assert.True(policy.Next(4, OutcomeCode.NoAnswer, T0, Never).GiveUp);
    }

    [Fact]
    public void Next_Seed003IntuneSample_30SecondsDoublingCappedAt120ForSixRetries()
    {
        // Seed 003: InitialBackOffTime 0x7530 = 30 000 ms, MaxBackOffTime 0x1D4C0 = 120 000 ms; the enrolment
        // sample sets CONNRETRYFREQ = 6.
        var policy = BackoffPolicy.From(new BackoffOptions
        {
            Initial = TimeSpan.FromMilliseconds(0x7530), Max = TimeSpan.FromMilliseconds(0x1D4C0), MaxAttempts = 6,
        });

        var waits = Enumerable.Range(1, 6).Select(n => policy.Next(n, OutcomeCode.DialTimeout, T0, Never).Delay);

        Assert.Equal([Sec(30), Sec(60), Sec(120), Sec(120), Sec(120), Sec(120)], waits);
        Assert.True(policy.Next(7, OutcomeCode.DialTimeout, T0, Never).GiveUp);
    }

    [Fact]
    public void OmaDmDefaults_ConnRetryFreqThree_ThreeRetriesThenGiveUp()
    {
        var policy = BackoffPolicy.From(BackoffOptions.OmaDmDefaults());

        Assert.Equal(Sec(16), policy.Next(1, OutcomeCode.Busy, T0, Never).Delay);
        Assert.Equal(Sec(64), policy.Next(3, OutcomeCode.Busy, T0, Never).Delay);
        Assert.True(policy.Next(4, OutcomeCode.Busy, T0, Never).GiveUp);
    }

    [Fact]
    public void Next_Seed002LinearWithExceededDelay_DelayForAttemptsMinusOneThenExceededDelayUnlimited()
    {
        // Seed 002 CMTR_LINEAR: for (i = 1; i < Attempts; i++) wait DelaySec; then (prose) "an unlimited number of
        // reconnection attempts are made every AttemptsExceededDelaySec seconds".
        var policy = BackoffPolicy.From(new BackoffOptions
        {
            Strategy = BackoffStrategyKind.Linear, Delay = Sec(10), Attempts = 4, AttemptsExceededDelay = Sec(300),
        });

        var waits = LinearAttempts.Select(n => policy.Next(n, OutcomeCode.NoCarrier, T0, Never)).ToList();

        Assert.Equal([Sec(10), Sec(10), Sec(10), Sec(300), Sec(300), Sec(300)], waits.Select(d => d.Delay));
        Assert.All(waits, d => Assert.False(d.GiveUp));
    }

    [Fact]
    public void Next_Seed002LinearExceededDelayInfinite_StopsAfterAttempts()
    {
        // Seed 002: "If AttemptsExceededDelaySec == INFINITE then no time-driven attempts are made beyond the number in Attempts."
        var policy = BackoffPolicy.From(new BackoffOptions { Strategy = BackoffStrategyKind.Linear, Delay = Sec(10), Attempts = 4, AttemptsExceededDelay = null });

        Assert.False(policy.Next(3, OutcomeCode.NoCarrier, T0, Never).GiveUp);
        Assert.True(policy.Next(4, OutcomeCode.NoCarrier, T0, Never).GiveUp);
    }

    [Fact]
    public void Next_Seed002LinearPseudoCodeBoundedSecondLoop_StopsAfterAttemptsMinusOneExceededRetries()
    {
        // The seed's pseudo-code bounds the second loop too (i = 1 … Attempts−1): ExceededAttempts = Attempts − 1.
        var policy = BackoffPolicy.From(new BackoffOptions
        {
            Strategy = BackoffStrategyKind.Linear, Delay = Sec(10), Attempts = 4, AttemptsExceededDelay = Sec(300), ExceededAttempts = 3,
        });

        var delays = Enumerable.Range(1, 7).Select(n => policy.Next(n, OutcomeCode.NoCarrier, T0, Never)).ToList();

        Assert.Equal([Sec(10), Sec(10), Sec(10), Sec(300), Sec(300), Sec(300)], delays.Take(6).Select(d => d.Delay));
        Assert.True(delays[6].GiveUp);
    }

    [Theory]
    [InlineData(0.0, 10, 20, 40)]   // lower end of the equal-jitter window: 2^(i-1)·Delay
    [InlineData(0.5, 15, 30, 60)]
    [InlineData(1.0, 20, 40, 80)]   // upper end = the seed's own 2^i·Delay
    public void Next_Seed002ExponentialRandomized_EqualJitterBetweenHalfAndSeedValue(double r, double w1, double w2, double w3)
    {
        // Seed 002: "every 2^i * DelaySec, with i = 1, 2, …" and randomized: equal jitter in [2^(i-1)·D, 2^i·D].
        var policy = BackoffPolicy.From(new BackoffOptions { Strategy = BackoffStrategyKind.ExponentialRandomized, Delay = Sec(10), Attempts = 4 });

        var waits = Enumerable.Range(1, 3).Select(n => policy.Next(n, OutcomeCode.Busy, T0, () => r).Delay);

        Assert.Equal([Sec(w1), Sec(w2), Sec(w3)], waits);
        Assert.True(policy.Next(4, OutcomeCode.Busy, T0, () => r).GiveUp);
    }

    [Fact]
    public void Next_ExponentialRandomizedSeededRandom_DrawsDifferOnlyWithinWindow()
    {
        var policy = (BackoffPolicy.ExponentialRandomized)BackoffPolicy.From(new BackoffOptions { Strategy = BackoffStrategyKind.ExponentialRandomized, Delay = Sec(10), Attempts = 8 });
        var random = new Random(1234);

        var draws = Enumerable.Range(0, 200).Select(_ => policy.Next(3, OutcomeCode.Busy, T0, random.NextDouble).Delay).ToList();

        Assert.All(draws, d => Assert.InRange(d, Sec(40), Sec(80)));
        Assert.True(draws.Distinct().Count() > 100, "a seeded random source must actually spread the delays");
        Assert.Equal((Sec(40), Sec(80)), policy.Window(3));
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(-3.0)]
    [InlineData(7.0)]
    [InlineData(double.PositiveInfinity)]
    public void Next_RandomSourceOutOfRange_DelayStaysInWindow(double bad)
    {
        var policy = BackoffPolicy.From(new BackoffOptions { Strategy = BackoffStrategyKind.ExponentialRandomized, Delay = Sec(10), Attempts = 5 });

        var d = policy.Next(2, OutcomeCode.Busy, T0, () => bad);

        Assert.InRange(d.Delay, Sec(20), Sec(40));
    }

    [Fact]
    public void Next_RedialCycle_CallIntervalsThenCycleDelayThenAgain()
    {
        // VTScada: CallInterval1 = 5 s, CallInterval2 = 60 s (its defaults), CycleLength 2, CycleDelay before the cycle restarts.
        var policy = BackoffPolicy.From(new BackoffOptions
        {
            Strategy = BackoffStrategyKind.RedialCycle, CallIntervals = [Sec(5), Sec(60), Sec(999)], CycleLength = 2,
            CycleDelay = TimeSpan.FromMinutes(30), MaxCycles = 2,
        });

        var waits = Enumerable.Range(1, 5).Select(n => policy.Next(n, OutcomeCode.NoAnswer, T0, Never).Delay);

        Assert.Equal([Sec(5), Sec(60), TimeSpan.FromMinutes(30), Sec(5), Sec(60)], waits);
        Assert.True(policy.Next(6, OutcomeCode.NoAnswer, T0, Never).GiveUp);
    }

    [Fact]
    public void Next_None_NeverRetriesOnTime()
    {
        var policy = BackoffPolicy.From(new BackoffOptions { Strategy = BackoffStrategyKind.None });

        Assert.True(policy.Next(1, OutcomeCode.NoAnswer, T0, Never).GiveUp);
    }

    [Fact]
    public void Next_PerCategoryOverride_ProtocolFailuresUseTheirOwnStrategy()
    {
        var policy = BackoffPolicy.From(new BackoffOptions
        {
            Initial = TimeSpan.FromMinutes(1), Max = TimeSpan.FromMinutes(10), MaxAttempts = 5,
            PerCategory = new Dictionary<OutcomeCategory, BackoffOptions>
            {
                [OutcomeCategory.ProtocolCommand] = new() { Strategy = BackoffStrategyKind.Linear, Delay = TimeSpan.FromMinutes(15), Attempts = 3 },
            },
        });

        Assert.Equal(TimeSpan.FromMinutes(2), policy.Next(2, OutcomeCode.NoCarrier, T0, Never).Delay);
        Assert.Equal(TimeSpan.FromMinutes(15), policy.Next(2, OutcomeCode.CommandTimeout, T0, Never).Delay);
        Assert.True(policy.Next(3, OutcomeCode.MalformedFrame, T0, Never).GiveUp);
    }

    [Fact]
    public void NextServerBusy_WithinLimit_ShortRetryNotCounted()
    {
        var policy = BackoffPolicy.From(new BackoffOptions { Initial = TimeSpan.FromMinutes(1), MaxAttempts = 3, Max = TimeSpan.FromMinutes(10), ServerBusyDelay = Sec(5), ServerBusyMaxRetries = 2 });

        var first = policy.NextServerBusy(0, 0, T0, Never);
        var second = policy.NextServerBusy(1, 0, T0, Never);
        var third = policy.NextServerBusy(2, 2, T0, Never);

        Assert.Equal((Sec(5), false), (first.Delay, first.CountsAsFailure));
        Assert.Equal(Sec(5), second.Delay);
        // Busy for longer than the short-retry budget: the strategy's delay for the current count, still not counted.
        Assert.Equal((TimeSpan.FromMinutes(2), false, false), (third.Delay, third.CountsAsFailure, third.GiveUp));
    }

    [Theory]
    [InlineData(OutcomeCode.ExceptionResponse, (byte)0x06, true)]
    [InlineData(OutcomeCode.ExceptionResponse, (byte)0x02, false)]
    [InlineData(OutcomeCode.Busy, (byte)0x06, false)]
    public void IsServerBusy_ModbusException6Only_ReportsServerBusy(OutcomeCode code, byte exception, bool expected) =>
        Assert.Equal(expected, BackoffPolicy.IsServerBusy(code, exception));

    [Fact]
    public void Next_AttemptZero_IsACallerBug()
    {
        var policy = BackoffPolicy.From(new BackoffOptions());

        Assert.Throws<ArgumentOutOfRangeException>(() => policy.Next(0, OutcomeCode.Busy, T0, Never));
    }

    [Fact]
    public void Next_HugeAttemptAndFactor_SaturatesAtMaxInsteadOfOverflowing()
    {
        var policy = BackoffPolicy.From(new BackoffOptions { Initial = TimeSpan.FromDays(1), Max = TimeSpan.FromDays(7), Factor = 10, MaxAttempts = 1000 });

        Assert.Equal(TimeSpan.FromDays(7), policy.Next(999, OutcomeCode.Busy, T0, Never).Delay);
    }
}
