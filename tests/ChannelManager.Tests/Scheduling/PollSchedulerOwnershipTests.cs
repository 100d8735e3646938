using ChannelManager.Core;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Scheduling;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;

namespace ChannelManager.Tests.Scheduling;

/// <summary>
/// The scheduler's active/active seam (docs/scale-out.md §6): an outstation another host owns is not polled — not its
/// schedule, not its pending retry, not an on-demand request (refused naming the owner) — and once this host owns it
/// (<see cref="PollScheduler.ResumeOwnedAsync"/>), the retry the previous owner left in the shared store resumes here.
/// </summary>
public sealed class PollSchedulerOwnershipTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);

    private sealed class SetOwnership : IPollOwnership
    {
        public HashSet<string> Mine { get; } = new(StringComparer.Ordinal);

        public bool Owns(string outstation) => Mine.Contains(outstation);

        public string? OwnerOf(string outstation) => Mine.Contains(outstation) ? "fe-a" : "fe-b";
    }

    private static OutstationSchedule Outstation(string name, string number) =>
        new(name, number, Substitute.For<IProtocolDriver>(), [new ReadHoldingRegisters(0, 4)], TimeSpan.FromMinutes(15), BackoffPolicy.From(new BackoffOptions()));

    [Fact]
    public async Task RunAsync_OutstationOwnedByPeer_NotPolledUntilResumedThenItsPendingRetryRunsHere()
    {
        var time = new FakeTimeProvider(T0);
        var store = new RecordingStateStore();
        // fe-b left a pending retry for B1 in the shared store: due at T0 + 90 s after one failure.
        await store.SaveRetryScheduleAsync("B1", RetrySchedule.Initial with { NextDue = T0.AddSeconds(90), LastAccess = T0.AddSeconds(-10), FailedAttempts = 1 }, CancellationToken.None);
        var book = new RepeatCallBook(CountryProfiles.UK, store);
        var executor = new ScriptedPollExecutor(book, time, (_, _) => OutcomeCode.Success);
        var ownership = new SetOwnership();
        ownership.Mine.Add("A1");
        var scheduler = new PollScheduler([Outstation("A1", "01632960001"), Outstation("B1", "01632960002")], executor, book, store, new SchedulerOptions { MaxConcurrency = 2 }, time, () => 0.5) { Ownership = ownership };
        var driver = new SchedulerDriver(scheduler, time);
        using var stop = new CancellationTokenSource();
        var run = scheduler.RunAsync(stop.Token);

        await driver.RunUntilAsync(T0.AddSeconds(100));
        Assert.Single(executor.CallsTo("A1"));
        Assert.Empty(executor.CallsTo("B1")); // its retry fell due at +90 s on fe-b's share

        var refused = await scheduler.PollNowAsync("B1", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(OutcomeCode.Cancelled, refused.Code);
        Assert.Contains("owned by host fe-b", refused.Reply, StringComparison.Ordinal);
        Assert.Empty(executor.CallsTo("B1"));

        // fe-a takes B1's shard: the retry fe-b left (overdue now) runs at once, here, exactly once.
        ownership.Mine.Add("B1");
        await scheduler.ResumeOwnedAsync(["B1"], CancellationToken.None);
        await driver.RunUntilAsync(T0.AddSeconds(200));
        var call = Assert.Single(executor.CallsTo("B1"));
        Assert.Equal(T0.AddSeconds(100), call.OffHook);

        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(10));
    }
}
