using ChannelManager.Core;
using ChannelManager.Core.Channels;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Scheduling;
using ChannelManager.Tests.Channels;
using Microsoft.Extensions.Time.Testing;

namespace ChannelManager.Tests.Scheduling;

/// <summary>
/// Issue 6 item 1: dispatch concurrency = the pool's usable modems (optionally capped), following modems going out of
/// and back into service; and "the next attempt after a failure goes to the next available modem".
/// </summary>
[Collection(nameof(PollSchedulerTests))]
public sealed class SchedulerCapacityTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 5, 0, 0, 0, TimeSpan.Zero);

    private static readonly BackoffPolicy Seed003 = BackoffPolicy.From(new BackoffOptions
    {
        Initial = TimeSpan.FromSeconds(30), Max = TimeSpan.FromSeconds(120), Factor = 2, MaxAttempts = 3,
    });

    [Fact]
    public async Task RunAsync_CapacityFromChannelManager_ConcurrencyFollowsModemsOutOfAndBackIntoService()
    {
        // 12 outstations, 5-minute calls, 15-minute interval: 4 modems are exactly enough; 2 are not (a backlog forms).
        await using var rig = new CapacityRig(12, [null, null, null, null], new SchedulerOptions { MaxQueueTime = TimeSpan.FromHours(2) });

        await rig.Driver.RunUntilAsync(T0.AddMinutes(14), rig.Executor);
        Assert.True(rig.Channels.SetOutOfService("M3", true));
        Assert.True(rig.Channels.SetOutOfService("M4", true));
        await rig.Driver.RunUntilAsync(T0.AddMinutes(29.5), rig.Executor);
        Assert.True(rig.Channels.SetOutOfService("M3", false));
        Assert.True(rig.Channels.SetOutOfService("M4", false));
        await rig.Driver.RunUntilAsync(T0.AddMinutes(45), rig.Executor);

        Assert.Equal(4, MaxOverlap(rig.Executor.Calls, T0, T0.AddMinutes(14)));
        Assert.Equal(12, rig.Executor.Calls.Count(c => c.OffHook < T0.AddMinutes(14)));
        Assert.Equal(2, MaxOverlap(rig.Executor.Calls, T0.AddMinutes(14), T0.AddMinutes(29.5)));
        Assert.Equal(6, rig.Executor.Calls.Count(c => c.OffHook >= T0.AddMinutes(14) && c.OffHook < T0.AddMinutes(29.5)));
        Assert.Equal(4, MaxOverlap(rig.Executor.Calls, T0.AddMinutes(29.5), T0.AddMinutes(45)));
        Assert.Equal(2, rig.Executor.Calls.Count(c => c.OffHook == T0.AddMinutes(29.5)));
    }

    [Fact]
    public async Task RunAsync_MaxConcurrencyBelowUsableModems_CapWins()
    {
        await using var rig = new CapacityRig(12, [null, null, null, null], new SchedulerOptions { MaxConcurrency = 3, MaxQueueTime = TimeSpan.FromHours(2) });

        await rig.Driver.RunUntilAsync(T0.AddMinutes(30), rig.Executor);

        Assert.Equal(3, MaxOverlap(rig.Executor.Calls, T0, T0.AddMinutes(30)));
        Assert.Equal(3, rig.Executor.MaxInFlight);
    }

    [Fact]
    public async Task RunAsync_TwoPools_EachRunsAsManyAsItsUsableModems()
    {
        // M1, M2 serve "north"; M3 serves "south"; M4 is reserved for dial-in and never counts.
        await using var rig = new CapacityRig(
            12,
            ["north", "north", "south", "dial-in"],
            new SchedulerOptions { MaxQueueTime = TimeSpan.FromHours(2) },
            pool: i => i % 2 == 0 ? "north" : "south");

        await rig.Driver.RunUntilAsync(T0.AddMinutes(30), rig.Executor);

        var north = rig.Executor.Calls.Where(c => int.Parse(c.Outstation[4..], System.Globalization.CultureInfo.InvariantCulture) % 2 == 0).ToList();
        var south = rig.Executor.Calls.Except(north).ToList();
        Assert.Equal(2, MaxOverlap(north, T0, T0.AddMinutes(30)));
        Assert.Equal(1, MaxOverlap(south, T0, T0.AddMinutes(30)));
        Assert.Equal(3, rig.Channels.UsableModemCount("north") + rig.Channels.UsableModemCount("south"));
    }

    [Fact]
    public async Task RunAsync_NoUsableModem_NothingDispatchedUntilOneReturns()
    {
        await using var rig = new CapacityRig(2, [null], new SchedulerOptions { MaxQueueTime = TimeSpan.FromHours(2) }, outOfService: ["M1"]);

        await rig.Driver.RunUntilAsync(T0.AddMinutes(10), rig.Executor);
        Assert.Empty(rig.Executor.Calls);
        rig.Channels.SetOutOfService("M1", false);
        await rig.Driver.RunUntilAsync(T0.AddMinutes(20), rig.Executor);

        Assert.Equal([T0.AddMinutes(10), T0.AddMinutes(15)], rig.Executor.Calls.Select(c => c.OffHook));
    }

    [Theory]
    [InlineData(2, new[] { "M1", "M2", "M2" })]          // round-robin alone would put the retry back on M1
    [InlineData(3, new[] { "M1", "M2", "M3" })]
    public async Task RunAsync_ConnectionFailure_RetryGoesToAnotherFreeModem(int modemCount, string[] expected)
    {
        var time = new FakeTimeProvider(T0);
        var modems = Enumerable.Range(1, modemCount).Select(i => new FakeModem($"M{i}")).ToList();
        var dials = new List<(string Modem, string Number, DateTimeOffset At)>();
        var failedOnce = false;
        foreach (var m in modems)
        {
            m.OnDial = (number, _) =>
            {
                dials.Add((m.Name, number, time.GetUtcNow()));
                if (number == "0100" && !failedOnce)
                {
                    failedOnce = true;
                    return FakeModem.Result(OutcomeCode.NoAnswer, "NO ANSWER");
                }

                return FakeModem.Result(OutcomeCode.Success, "CONNECT 9600");
            };
        }

        await using var channels = new ModemChannelManager(modems.Select(m => ((IModemDevice)m, ModemRole.Default)), new ChannelManagerOptions { MinOnHookTime = TimeSpan.Zero }, time);
        var book = new RepeatCallBook(CountryProfiles.UK);
        var driver = new InstantDriver();
        OutstationSchedule Outstation(string name, string number) => new(name, number, driver, [new ReadHoldingRegisters(0, 2)], TimeSpan.FromHours(1), Seed003);
        var scheduler = new PollScheduler([Outstation("RTU-A", "0100"), Outstation("RTU-B", "0200")], new PollTransaction(channels, book, time), book, null, new SchedulerOptions(), time, () => 0.5)
        {
            Capacity = new ChannelManagerCapacity(channels),
        };
        using var stop = new CancellationTokenSource();
        var run = scheduler.RunAsync(stop.Token);

        await new SchedulerDriver(scheduler, time).RunUntilAsync(T0.AddMinutes(5));
        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(10));

        // RTU-A fails on M1, RTU-B takes the next modem, RTU-A's retry (UK: 2 min after on-hook) avoids M1.
        Assert.Equal([("M1", "0100", T0), (expected[1], "0200", T0), (expected[2], "0100", T0.AddMinutes(2))], dials);
        Assert.Equal(OutcomeCode.Success, scheduler.Status.Single(s => s.Name == "RTU-A").LastOutcome);
    }

    /// <summary>Most calls on the line at one instant among calls that went off-hook in [from, to).</summary>
    private static int MaxOverlap(IReadOnlyList<ScriptedCall> calls, DateTimeOffset from, DateTimeOffset to)
    {
        var window = calls.Where(c => c.OffHook >= from && c.OffHook < to).ToList();
        return window.Count == 0 ? 0 : window.Max(c => window.Count(o => o.OffHook <= c.OffHook && c.OffHook < o.OnHook));
    }

    private sealed class CapacityRig : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _run;

        public CapacityRig(int outstations, string?[] modemPools, SchedulerOptions options, Func<int, string?>? pool = null, string[]? outOfService = null)
        {
            Time = new FakeTimeProvider(T0);
            var modems = modemPools.Select((p, i) => ((IModemDevice)new FakeModem($"M{i + 1}"), p switch
            {
                null => ModemRole.Default,
                "dial-in" => new ModemRole { AnswerCalls = true, ReservedForDialIn = true },
                _ => new ModemRole { Pools = [p] },
            }));
            Channels = new ModemChannelManager(modems, new ChannelManagerOptions(), Time);
            foreach (var name in outOfService ?? [])
            {
                Channels.SetOutOfService(name, true);
            }

            var book = new RepeatCallBook(CountryProfiles.UK);
            Executor = new ScriptedPollExecutor(book, Time, (_, _) => OutcomeCode.Success) { CallDuration = TimeSpan.FromMinutes(5) };
            var driver = new InstantDriver();
            var schedules = Enumerable.Range(0, outstations).Select(i => new OutstationSchedule($"RTU-{i:D2}", $"01{i:D2}", driver, [new ReadHoldingRegisters(0, 2)], TimeSpan.FromMinutes(15), Seed003) { Pool = pool?.Invoke(i) });
            Scheduler = new PollScheduler(schedules, Executor, book, null, options, Time, () => 0.5) { Capacity = new ChannelManagerCapacity(Channels) };
            Driver = new SchedulerDriver(Scheduler, Time);
            _run = Scheduler.RunAsync(_stop.Token);
        }

        public FakeTimeProvider Time { get; }

        public ModemChannelManager Channels { get; }

        public ScriptedPollExecutor Executor { get; }

        public PollScheduler Scheduler { get; }

        public SchedulerDriver Driver { get; }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _run.WaitAsync(TimeSpan.FromSeconds(10));
            await Channels.DisposeAsync();
            _stop.Dispose();
        }
    }
}
