using ChannelManager.Core.Scheduling;
using ChannelManager.Host.Demo;

namespace ChannelManager.Tests.Demo;

public sealed class DemoClockDriverTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 5, 6, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset End = Now + TimeSpan.FromHours(3);

    private static OutstationStatus Station(string name, DateTimeOffset? due, bool running = false, int queued = 0) =>
        new(name, "0", 0, due, running, queued, null, 0, false, null, null, null, null, LedgerState.Ready);

    [Fact]
    public void NextSkip_AllIdle_SkipsToTheEarliestDueTime()
    {
        var status = new[] { Station("a", Now.AddMinutes(7)), Station("b", Now.AddMinutes(2)), Station("c", null) };

        Assert.Equal(Now.AddMinutes(2), DemoClockDriver.NextSkip(Now, status, busyElsewhere: false, [], End));
    }

    [Fact]
    public void NextSkip_PollRunning_DoesNotSkip()
    {
        var status = new[] { Station("a", Now.AddMinutes(7)), Station("b", null, running: true) };

        Assert.Null(DemoClockDriver.NextSkip(Now, status, busyElsewhere: false, [], End));
    }

    [Fact]
    public void NextSkip_OnDemandQueued_DoesNotSkip()
    {
        var status = new[] { Station("a", Now.AddMinutes(7), queued: 1) };

        Assert.Null(DemoClockDriver.NextSkip(Now, status, busyElsewhere: false, [], End));
    }

    [Fact]
    public void NextSkip_CallOnTheLineOrOperatorWaiting_DoesNotSkip()
    {
        var status = new[] { Station("a", Now.AddMinutes(7)) };

        Assert.Null(DemoClockDriver.NextSkip(Now, status, busyElsewhere: true, [], End));
    }

    [Fact]
    public void NextSkip_SomethingAlreadyDue_LetsRealTimeRun()
    {
        var status = new[] { Station("a", Now), Station("b", Now.AddMinutes(7)) };

        Assert.Null(DemoClockDriver.NextSkip(Now, status, busyElsewhere: false, [], End));
    }

    [Fact]
    public void NextSkip_ScriptedActionFirst_StopsThere()
    {
        var status = new[] { Station("a", Now.AddMinutes(50)) };

        Assert.Equal(Now.AddMinutes(40), DemoClockDriver.NextSkip(Now, status, busyElsewhere: false, [Now.AddMinutes(40)], End));
    }

    [Fact]
    public void NextSkip_NothingDueBeforeTheEnd_SkipsToTheEndOnly()
    {
        var status = new[] { Station("a", End.AddHours(1)) };

        Assert.Equal(End, DemoClockDriver.NextSkip(Now, status, busyElsewhere: false, [], End));
        Assert.Null(DemoClockDriver.NextSkip(End, status, busyElsewhere: false, [], End));
    }
}
