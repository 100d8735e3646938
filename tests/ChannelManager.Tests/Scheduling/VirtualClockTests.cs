using ChannelManager.Benchmarks.Scale;

namespace ChannelManager.Tests.Scheduling;

/// <summary>
/// The scale bench's virtual clock (issue 9): a re-armed timer keeps one queue entry that moves lazily, so these pin
/// the behaviour that must not change with it: every armed timer fires once at its last due time, in due order and,
/// at one instant, in the order the timers were armed.
/// </summary>
public sealed class VirtualClockTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset End = T0.AddHours(1);

    [Fact]
    public void AdvanceToNext_TimersFireInDueOrder_TiesInArmingOrder()
    {
        var clock = new VirtualClock(T0);
        var fired = new List<string>();
        var b = Timer(clock, "b", fired, Seconds(2));
        var a = Timer(clock, "a", fired, Seconds(1));
        var c = Timer(clock, "c", fired, Seconds(2));

        RunAll(clock);

        Assert.Equal(["a@1", "b@2", "c@2"], fired);
        GC.KeepAlive((a, b, c));
    }

    [Fact]
    public void Change_ReArmedLater_FiresOnceAtTheLaterTime()
    {
        var clock = new VirtualClock(T0);
        var fired = new List<string>();
        var t = Timer(clock, "t", fired, Seconds(1));
        t.Change(Seconds(3), Timeout.InfiniteTimeSpan);
        var other = Timer(clock, "o", fired, Seconds(3));

        RunAll(clock);

        // Re-armed before "o" was armed, so it fires first at 3 s even though its first entry was queued for 1 s.
        Assert.Equal(["t@3", "o@3"], fired);
        GC.KeepAlive(other);
    }

    [Fact]
    public void Change_ReArmedEarlierThenLater_FiresOnceAtTheLastDueTime()
    {
        var clock = new VirtualClock(T0);
        var fired = new List<string>();
        var t = Timer(clock, "t", fired, Seconds(5));
        t.Change(Seconds(1), Timeout.InfiniteTimeSpan);
        t.Change(Seconds(5), Timeout.InfiniteTimeSpan);
        t.Change(Seconds(4), Timeout.InfiniteTimeSpan);

        RunAll(clock);

        Assert.Equal(["t@4"], fired);
    }

    [Fact]
    public void Change_StoppedOrDisposed_NeverFires_AndCanBeArmedAgainAfterStop()
    {
        var clock = new VirtualClock(T0);
        var fired = new List<string>();
        var stopped = Timer(clock, "stopped", fired, Seconds(1));
        var disposed = Timer(clock, "disposed", fired, Seconds(1));
        stopped.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        disposed.Dispose();
        Assert.False(disposed.Change(Seconds(1), Timeout.InfiniteTimeSpan));

        Assert.True(clock.AdvanceToNext(End) is false);
        stopped.Change(Seconds(2), Timeout.InfiniteTimeSpan);   // 2 s after the limit the clock was moved to
        RunAll(clock, End.AddHours(1));

        Assert.Equal(["stopped@3602"], fired);
    }

    [Fact]
    public void CreateTimer_Periodic_FiresEveryPeriodUntilStopped()
    {
        var clock = new VirtualClock(T0);
        var fired = new List<string>();
        ITimer? timer = null;
        timer = clock.CreateTimer(_ =>
        {
            fired.Add($"p@{(clock.GetUtcNow() - T0).TotalSeconds:0}");
            if (fired.Count == 3)
                timer!.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }, null, Seconds(1), Seconds(2));

        RunAll(clock);

        Assert.Equal(["p@1", "p@3", "p@5"], fired);
    }

    private static ITimer Timer(VirtualClock clock, string name, List<string> fired, TimeSpan due) =>
        clock.CreateTimer(_ => fired.Add($"{name}@{(clock.GetUtcNow() - T0).TotalSeconds:0}"), null, due, Timeout.InfiniteTimeSpan);

    private static void RunAll(VirtualClock clock, DateTimeOffset? limit = null)
    {
        while (clock.AdvanceToNext(limit ?? End))
        {
        }
    }

    private static TimeSpan Seconds(int s) => TimeSpan.FromSeconds(s);
}
