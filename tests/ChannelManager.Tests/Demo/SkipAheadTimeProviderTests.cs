using ChannelManager.Host.Demo;
using Microsoft.Extensions.Time.Testing;

namespace ChannelManager.Tests.Demo;

public sealed class SkipAheadTimeProviderTests
{
    private static readonly DateTimeOffset VirtualStart = new(2026, 1, 5, 6, 0, 0, TimeSpan.Zero);

    private readonly FakeTimeProvider _underlying = new(new DateTimeOffset(2030, 7, 1, 12, 0, 0, TimeSpan.Zero));

    [Fact]
    public void GetUtcNow_UnderlyingClockAdvances_RunsAtItsSpeedFromTheVirtualStart()
    {
        var clock = new SkipAheadTimeProvider(_underlying, VirtualStart);

        _underlying.Advance(TimeSpan.FromSeconds(3));

        Assert.Equal(VirtualStart + TimeSpan.FromSeconds(3), clock.GetUtcNow());
        Assert.Equal(TimeSpan.Zero, clock.Skipped);
    }

    [Fact]
    public void SkipTo_LaterTime_MovesNowAndElapsedTimeByTheGap()
    {
        var clock = new SkipAheadTimeProvider(_underlying, VirtualStart);
        var before = clock.GetTimestamp();
        _underlying.Advance(TimeSpan.FromSeconds(1));

        var skipped = clock.SkipTo(VirtualStart + TimeSpan.FromHours(1));

        Assert.True(skipped);
        Assert.Equal(VirtualStart + TimeSpan.FromHours(1), clock.GetUtcNow());
        Assert.Equal(TimeSpan.FromHours(1) - TimeSpan.FromSeconds(1), clock.Skipped);
        Assert.Equal(TimeSpan.FromHours(1), clock.GetElapsedTime(before));
    }

    [Fact]
    public void SkipTo_NowOrEarlier_ReturnsFalseAndNeverRunsBackwards()
    {
        var clock = new SkipAheadTimeProvider(_underlying, VirtualStart);
        _underlying.Advance(TimeSpan.FromMinutes(5));

        Assert.False(clock.SkipTo(VirtualStart + TimeSpan.FromMinutes(1)));
        Assert.False(clock.SkipTo(clock.GetUtcNow()));
        Assert.Equal(VirtualStart + TimeSpan.FromMinutes(5), clock.GetUtcNow());
    }

    [Fact]
    public void CreateTimer_SkipPastItsDueTime_FiresOnceAndOnlyThen()
    {
        var clock = new SkipAheadTimeProvider(_underlying, VirtualStart);
        var fired = new List<DateTimeOffset>();
        using var timer = clock.CreateTimer(_ => fired.Add(clock.GetUtcNow()), null, TimeSpan.FromMinutes(10), Timeout.InfiniteTimeSpan);

        clock.SkipTo(VirtualStart + TimeSpan.FromMinutes(9));
        Assert.Empty(fired);

        clock.SkipTo(VirtualStart + TimeSpan.FromMinutes(10));
        _underlying.Advance(TimeSpan.FromHours(1));

        Assert.Equal([VirtualStart + TimeSpan.FromMinutes(10)], fired);
        Assert.Equal(0, clock.ActiveTimers);
    }

    [Fact]
    public void CreateTimer_SkipShortOfItsDueTime_FiresAfterTheRemainderOfUnderlyingTime()
    {
        var clock = new SkipAheadTimeProvider(_underlying, VirtualStart);
        var fired = 0;
        using var timer = clock.CreateTimer(_ => fired++, null, TimeSpan.FromMinutes(10), Timeout.InfiniteTimeSpan);

        clock.SkipTo(VirtualStart + TimeSpan.FromMinutes(9));
        _underlying.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal(0, fired);

        _underlying.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, fired);
    }

    [Fact]
    public async Task Delay_ClockSkipsPastIt_Completes()
    {
        var clock = new SkipAheadTimeProvider(_underlying, VirtualStart);
        var delay = Task.Delay(TimeSpan.FromMinutes(30), clock);
        Assert.False(delay.IsCompleted);

        clock.SkipTo(VirtualStart + TimeSpan.FromMinutes(30));

        await delay.WaitAsync(TimeSpan.FromSeconds(5), TimeProvider.System);
        Assert.True(delay.IsCompletedSuccessfully);
    }

    [Fact]
    public void CreateTimer_Periodic_FiresEveryPeriodAcrossSkipsAndUnderlyingTime()
    {
        var clock = new SkipAheadTimeProvider(_underlying, VirtualStart);
        var fired = 0;
        using var timer = clock.CreateTimer(_ => fired++, null, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));

        clock.SkipTo(VirtualStart + TimeSpan.FromMinutes(1));
        Assert.Equal(1, fired);
        _underlying.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(2, fired);
        clock.SkipTo(VirtualStart + TimeSpan.FromMinutes(3));
        Assert.Equal(3, fired);
        Assert.Equal(1, clock.ActiveTimers);
    }

    [Fact]
    public void Dispose_BeforeDue_NeverFiresAndIsForgotten()
    {
        var clock = new SkipAheadTimeProvider(_underlying, VirtualStart);
        var fired = 0;
        var timer = clock.CreateTimer(_ => fired++, null, TimeSpan.FromMinutes(1), Timeout.InfiniteTimeSpan);
        Assert.Equal(1, clock.ActiveTimers);

        timer.Dispose();
        clock.SkipTo(VirtualStart + TimeSpan.FromHours(1));
        _underlying.Advance(TimeSpan.FromHours(1));

        Assert.Equal(0, fired);
        Assert.Equal(0, clock.ActiveTimers);
        Assert.False(timer.Change(TimeSpan.Zero, Timeout.InfiniteTimeSpan));
    }

    [Fact]
    public void Change_AfterFiring_ReArmsByVirtualTime()
    {
        var clock = new SkipAheadTimeProvider(_underlying, VirtualStart);
        var fired = 0;
        using var timer = clock.CreateTimer(_ => fired++, null, TimeSpan.FromMinutes(1), Timeout.InfiniteTimeSpan);
        clock.SkipTo(VirtualStart + TimeSpan.FromMinutes(1));
        Assert.Equal(1, fired);

        Assert.True(timer.Change(TimeSpan.FromMinutes(5), Timeout.InfiniteTimeSpan));
        clock.SkipTo(VirtualStart + TimeSpan.FromMinutes(5));
        Assert.Equal(1, fired);
        clock.SkipTo(VirtualStart + TimeSpan.FromMinutes(6));

        Assert.Equal(2, fired);
    }

    [Fact]
    public void SkipTo_PastSeveralTimersOnASynchronousClock_FiresThemInDueOrder()
    {
        var clock = new SkipAheadTimeProvider(_underlying, VirtualStart);
        var order = new List<string>();
        using var late = clock.CreateTimer(_ => order.Add("late"), null, TimeSpan.FromMinutes(20), Timeout.InfiniteTimeSpan);
        using var early = clock.CreateTimer(_ => order.Add("early"), null, TimeSpan.FromMinutes(5), Timeout.InfiniteTimeSpan);

        clock.SkipTo(VirtualStart + TimeSpan.FromHours(1));

        Assert.Equal(["early", "late"], order);
    }

    [Fact]
    public void PendingDueTimes_ArmedDisposedAndFiredTimers_ListsOnlyTheArmedOnes()
    {
        var clock = new SkipAheadTimeProvider(_underlying, VirtualStart);
        using var armed = clock.CreateTimer(_ => { }, null, TimeSpan.FromMinutes(20), Timeout.InfiniteTimeSpan);
        var disposed = clock.CreateTimer(_ => { }, null, TimeSpan.FromMinutes(10), Timeout.InfiniteTimeSpan);
        using var fired = clock.CreateTimer(_ => { }, null, TimeSpan.FromMinutes(1), Timeout.InfiniteTimeSpan);
        using var idle = clock.CreateTimer(_ => { }, null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        disposed.Dispose();

        clock.SkipTo(VirtualStart + TimeSpan.FromMinutes(1));

        Assert.Equal([VirtualStart + TimeSpan.FromMinutes(20)], clock.PendingDueTimes());
    }
}
