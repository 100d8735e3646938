using ChannelManager.Core;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Scheduling;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;

namespace ChannelManager.Tests.Scheduling;

/// <summary>
/// A wake-up less than 1 ms away (issue 9, found by the scale bench): <c>Task.Delay</c> truncates to whole milliseconds,
/// so the loop used to get a completed delay and re-plan at the same instant — a busy loop until the clock moved (for
/// ever on a virtual clock). The wait is rounded up to the next whole millisecond and the park announces that time.
/// </summary>
[Collection(nameof(PollSchedulerTests))]
public sealed class PollSchedulerSubMillisecondTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 5, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Interval = TimeSpan.FromMinutes(15);
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task RunAsync_DueInUnderOneMillisecond_ParksUntilTheNextWholeMillisecondThenPollsOnce()
    {
        var time = new FakeTimeProvider(T0);
        var store = new RecordingStateStore();
        var dueAt = T0 + TimeSpan.FromTicks(4_000);   // 0.4 ms from now
        await store.SaveRetryScheduleAsync("RTU-1", RetrySchedule.Initial with { LastAccess = dueAt - Interval }, CancellationToken.None);
        var book = new RepeatCallBook(CountryProfiles.UK, store);
        var executor = new ScriptedPollExecutor(book, time, (_, _) => OutcomeCode.Success);
        var backoff = BackoffPolicy.From(new BackoffOptions { Initial = TimeSpan.FromSeconds(30), Max = TimeSpan.FromSeconds(120), Factor = 2, MaxAttempts = 3 });
        OutstationSchedule[] outstations = [new("RTU-1", "01632960001", Substitute.For<IProtocolDriver>(), [new ReadHoldingRegisters(0, 4)], Interval, backoff)];
        var scheduler = new PollScheduler(outstations, executor, book, store, new SchedulerOptions { MaxConcurrency = 1 }, time, () => 0.5);
        using var stop = new CancellationTokenSource();

        // On a pool thread: a regression spins inside RunAsync and must not take the test thread with it.
        var run = Task.Run(() => scheduler.RunAsync(stop.Token));
        try
        {
            using var bound = new CancellationTokenSource(Timeout);
            var park = await scheduler.WaitForParkAsync(0, 0, bound.Token);

            Assert.Equal(T0 + TimeSpan.FromMilliseconds(1), park.WakeAt);
            Assert.Empty(executor.Calls);

            // Parked means parked: no re-planning while the clock stands still.
            for (var i = 0; i < 200; i++)
                Thread.SpinWait(1_000);
            Assert.Equal(park.Sequence, scheduler.Parked.Sequence);

            time.Advance(TimeSpan.FromMilliseconds(1));
            var next = await scheduler.WaitForParkAsync(park.Sequence, 0, bound.Token);

            var call = Assert.Single(executor.Calls);
            Assert.Equal(T0 + TimeSpan.FromMilliseconds(1), call.OffHook);
            Assert.Equal(OutcomeCode.Success, call.Code);
            Assert.Equal(T0 + TimeSpan.FromMilliseconds(1) + Interval, next.WakeAt);
        }
        finally
        {
            await stop.CancelAsync();
            await run.WaitAsync(Timeout);
        }
    }
}
