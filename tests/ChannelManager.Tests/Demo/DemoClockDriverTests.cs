using ChannelManager.Core.Scheduling;
using ChannelManager.Host.Demo;

namespace ChannelManager.Tests.Demo;

public sealed class DemoClockDriverTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 5, 6, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset End = Now + TimeSpan.FromHours(3);

    private static OutstationStatus Station(string name, DateTimeOffset? due, bool running = false, int queued = 0) =>
        new(name, "0", 0, due, running, queued, null, 0, false, null, null, null, null, LedgerState.Ready);

    private static DateTimeOffset? Skip(IReadOnlyList<OutstationStatus> status, DateTimeOffset[] timers, bool busy = false, DateTimeOffset[]? pending = null, bool patience = false, DateTimeOffset? now = null) =>
        DemoClockDriver.NextSkip(now ?? Now, status, busy, pending ?? [], End, timers, patience);

    [Fact]
    public void NextSkip_IdleAndTheSchedulerArmedForItsNextDue_SkipsToThatTimer()
    {
        var status = new[] { Station("a", Now.AddMinutes(7)), Station("b", Now.AddMinutes(2)), Station("c", null) };
        var armed = Now.AddMinutes(2).AddMilliseconds(3);

        Assert.Equal(armed, Skip(status, [armed, Now.AddMinutes(50)]));
    }

    [Fact]
    public void NextSkip_TimerRoundedAHairEarly_StillCountsAsArmed()
    {
        var status = new[] { Station("a", Now.AddMinutes(2)) };
        var armed = Now.AddMinutes(2).AddTicks(-5000);

        Assert.Equal(armed, Skip(status, [armed]));
    }

    [Fact]
    public void NextSkip_SchedulerNotArmedYet_WaitsInRealTime()
    {
        // The scheduler read the clock and has not armed its Task.Delay: a jump now would push its timer late.
        var status = new[] { Station("a", Now.AddMinutes(2)) };

        Assert.Null(Skip(status, []));
        Assert.Null(Skip(status, [Now.AddMinutes(30)]));
    }

    [Fact]
    public void NextSkip_NotArmedButPatienceExpired_SkipsToTheEarliestTimer()
    {
        var status = new[] { Station("a", Now.AddMinutes(2)) };

        Assert.Equal(Now.AddMinutes(30), Skip(status, [Now.AddMinutes(30), Now.AddMinutes(40)], patience: true));
        Assert.Equal(Now.AddMinutes(2), Skip(status, [], patience: true));
    }

    [Fact]
    public void NextSkip_PollRunningOrOnDemandQueued_DoesNotSkip()
    {
        var armed = Now.AddMinutes(7);

        Assert.Null(Skip([Station("a", armed), Station("b", null, running: true)], [armed], patience: true));
        Assert.Null(Skip([Station("a", armed, queued: 1)], [armed], patience: true));
    }

    [Fact]
    public void NextSkip_CallOnTheLineOrOperatorWaiting_DoesNotSkip()
    {
        var armed = Now.AddMinutes(7);

        Assert.Null(Skip([Station("a", armed)], [armed], busy: true, patience: true));
    }

    [Fact]
    public void NextSkip_SomethingAlreadyDue_LetsRealTimeRun()
    {
        Assert.Null(Skip([Station("a", Now), Station("b", Now.AddMinutes(7))], [Now.AddMinutes(7)], patience: true));
    }

    [Fact]
    public void NextSkip_ScriptedActionBeforeTheNextPoll_StopsAtTheAction()
    {
        var armed = Now.AddMinutes(50);

        Assert.Equal(Now.AddMinutes(40), Skip([Station("a", armed)], [armed], pending: [Now.AddMinutes(40)]));
    }

    [Fact]
    public void NextSkip_NothingDueBeforeTheEnd_SkipsToTheEndOnly()
    {
        var armed = End.AddHours(1);

        Assert.Equal(End, Skip([Station("a", armed)], [armed]));
        Assert.Null(Skip([Station("a", armed)], [armed], now: End));
    }
}
