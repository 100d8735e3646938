using ChannelManager.Core;
using ChannelManager.Core.Channels;
using Microsoft.Extensions.Time.Testing;

namespace ChannelManager.Tests.Channels;

public sealed class ModemChannelManagerTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 23, 8, 0, 0, TimeSpan.Zero));

    private static ChannelManagerOptions Options(TimeSpan? maxQueue = null, TimeSpan? onHook = null) => new()
    {
        MaxQueueTime = maxQueue ?? TimeSpan.FromSeconds(60),
        MinOnHookTime = onHook ?? TimeSpan.Zero,
        QuarantineInitial = TimeSpan.FromSeconds(30),
        HealthCheckInterval = TimeSpan.FromMinutes(5),
    };

    private ModemChannelManager Manager(ChannelManagerOptions options, params FakeModem[] modems) =>
        new(modems.Select(m => ((IModemDevice)m, ModemRole.Default)), options, _time);

    [Fact]
    public async Task ConnectAsync_FirstModemAnswersErrorToInit_CompletesOnSecondModem()
    {
        var m1 = new FakeModem("M1") { OnInitialize = _ => FakeModem.Result(OutcomeCode.ModemError, "ATE0V1Q0X4&D2\nERROR") };
        var m2 = new FakeModem("M2");
        var m3 = new FakeModem("M3");
        await using var manager = Manager(Options(), m1, m2, m3);

        var result = await manager.ConnectAsync(new CallRequest("RTU-1", "0123"), CancellationToken.None);

        Assert.Equal(OutcomeCode.Success, result.Outcome.Code);
        Assert.Equal("M2", result.Outcome.Modem);
        Assert.Equal(["M1", "M2"], result.Outcome.ModemsTried.Select(t => t.ModemName));
        Assert.Equal(OutcomeCode.ModemError, result.Outcome.ModemsTried[0].Code);
        var snapshot = manager.Modems.Single(m => m.Name == "M1");
        Assert.True(snapshot.Faulted);
        Assert.Equal(1, snapshot.Statistics.Errors);
        Assert.Equal(ModemAvailability.Quarantined, snapshot.Availability);
        Assert.Equal(0, manager.Outstations["RTU-1"].Errors);
        Assert.Empty(m1.Dials);
        await result.Lease!.DisposeAsync();
    }

    [Theory]
    [InlineData(OutcomeCode.Busy, "BUSY")]
    [InlineData(OutcomeCode.NoAnswer, "NO ANSWER")]
    [InlineData(OutcomeCode.NoCarrier, "NO CARRIER")]
    [InlineData(OutcomeCode.DialTimeout, "")]
    public async Task ConnectAsync_ConnectionEstablishmentFailure_ReturnedWithoutSecondDial(OutcomeCode code, string reply)
    {
        var modems = new[] { new FakeModem("M1"), new FakeModem("M2"), new FakeModem("M3") };
        foreach (var m in modems)
        {
            m.OnDial = (_, _) => FakeModem.Result(code, reply);
        }

        await using var manager = Manager(Options(), modems);
        var result = await manager.ConnectAsync(new CallRequest("RTU-2", "0456"), CancellationToken.None);

        Assert.Equal(code, result.Outcome.Code);
        Assert.Equal(OutcomeCategory.ConnectionEstablishment, result.Outcome.Category);
        Assert.Equal(FaultAttribution.Outstation, result.Outcome.CountedAgainst);
        Assert.Null(result.Lease);
        Assert.Equal(1, modems.Sum(m => m.Dials.Count));
        Assert.Equal(1, manager.Outstations["RTU-2"].Errors);
        Assert.All(manager.Modems, m => Assert.Equal(0, m.Statistics.Errors));
        Assert.All(manager.Modems, m => Assert.Equal(ModemAvailability.Idle, m.Availability));
    }

    [Theory]
    [InlineData(OutcomeCode.NoDialTone)]
    [InlineData(OutcomeCode.CallBarredByModem)]
    [InlineData(OutcomeCode.ModemError)]
    [InlineData(OutcomeCode.TransportFailure)]
    public async Task ConnectAsync_DialSetUpFailure_TriesNextModemAndFaultsTheFirst(OutcomeCode code)
    {
        var m1 = new FakeModem("M1") { OnDial = (_, _) => FakeModem.Result(code, code.ToString()) };
        var m2 = new FakeModem("M2");
        await using var manager = Manager(Options(), m1, m2);

        var result = await manager.ConnectAsync(new CallRequest("RTU-3", "0789"), CancellationToken.None);

        Assert.Equal(OutcomeCode.Success, result.Outcome.Code);
        Assert.Equal("M2", result.Outcome.Modem);
        Assert.Equal(1, manager.Modems.Single(m => m.Name == "M1").Statistics.Errors);
        Assert.Equal(0, manager.Outstations["RTU-3"].Errors);
        await result.Lease!.DisposeAsync();
    }

    [Fact]
    public async Task ConnectAsync_EveryModemFailsSetUp_NoModemAvailableListingEachModem()
    {
        var modems = new[] { "M1", "M2", "M3" }.Select(n => new FakeModem(n) { OnInitialize = _ => FakeModem.Result(OutcomeCode.ModemNotResponding, "") }).ToArray();
        await using var manager = Manager(Options(), modems);

        var result = await manager.ConnectAsync(new CallRequest("RTU-4", "0111"), CancellationToken.None);

        Assert.Equal(OutcomeCode.NoModemAvailable, result.Outcome.Code);
        Assert.Equal(["M1", "M2", "M3"], result.Outcome.ModemsTried.Select(t => t.ModemName).Order());
        Assert.All(result.Outcome.ModemsTried, t => Assert.Equal(OutcomeCode.ModemNotResponding, t.Code));
        Assert.Equal(FaultAttribution.None, result.Outcome.CountedAgainst);
        Assert.False(manager.Outstations.ContainsKey("RTU-4"));
    }

    [Fact]
    public async Task ConnectAsync_SuccessiveCalls_RoundRobinFromLastUsed()
    {
        var modems = new[] { new FakeModem("M1"), new FakeModem("M2"), new FakeModem("M3") };
        await using var manager = Manager(Options(), modems);
        var used = new List<string?>();
        for (var i = 0; i < 4; i++)
        {
            var r = await manager.ConnectAsync(new CallRequest("RTU", "01"), CancellationToken.None);
            used.Add(r.Outcome.Modem);
            await r.Lease!.DisposeAsync();
        }

        Assert.Equal(["M1", "M2", "M3", "M1"], used);
    }

    [Fact]
    public async Task ConnectAsync_OnlyModemBusy_WaitsMaxQueueTimeThenNoModemAvailable()
    {
        var m1 = new FakeModem("M1");
        await using var manager = Manager(Options(maxQueue: TimeSpan.FromSeconds(30)), m1);
        var first = await manager.ConnectAsync(new CallRequest("A", "01"), CancellationToken.None);

        var second = manager.ConnectAsync(new CallRequest("B", "02"), CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(29));
        await Task.Yield();
        Assert.False(second.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(2));
        var result = await second.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(OutcomeCode.NoModemAvailable, result.Outcome.Code);
        Assert.Empty(result.Outcome.ModemsTried);
        await first.Lease!.DisposeAsync();
    }

    [Fact]
    public async Task ConnectAsync_ModemReleasedWhileQueued_QueuedRequestGetsItAfterOnHookTime()
    {
        var m1 = new FakeModem("M1");
        await using var manager = Manager(Options(maxQueue: TimeSpan.FromMinutes(2), onHook: TimeSpan.FromSeconds(10)), m1);
        var first = await manager.ConnectAsync(new CallRequest("A", "01"), CancellationToken.None);
        var second = manager.ConnectAsync(new CallRequest("B", "02"), CancellationToken.None);

        await first.Lease!.DisposeAsync();
        await Task.Yield();
        Assert.False(second.IsCompleted); // the line rule keeps the modem on-hook 10 s
        _time.Advance(TimeSpan.FromSeconds(10));
        var result = await second.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(OutcomeCode.Success, result.Outcome.Code);
        Assert.Equal(["01", "02"], m1.Dials);
        await result.Lease!.DisposeAsync();
    }

    [Fact]
    public async Task ConnectAsync_ReservedDialInModem_NeverUsedForDialOut()
    {
        var m1 = new FakeModem("M1");
        var dialIn = new FakeModem("IN");
        await using var manager = new ModemChannelManager(
            [(m1, ModemRole.Default), (dialIn, new ModemRole { AnswerCalls = true, ReservedForDialIn = true })], Options(maxQueue: TimeSpan.Zero), _time);
        var first = await manager.ConnectAsync(new CallRequest("A", "01"), CancellationToken.None);

        var second = await manager.ConnectAsync(new CallRequest("B", "02"), CancellationToken.None);

        Assert.Equal(OutcomeCode.NoModemAvailable, second.Outcome.Code);
        Assert.Empty(dialIn.Dials);
        await first.Lease!.DisposeAsync();
    }

    [Fact]
    public async Task ConnectAsync_PoolNamed_UsesOnlyThatPool()
    {
        var gsm = new FakeModem("GSM1");
        var pstn = new FakeModem("PSTN1");
        await using var manager = new ModemChannelManager(
            [(pstn, new ModemRole { Pools = ["pstn"] }), (gsm, new ModemRole { Pools = ["gsm"] })], Options(), _time);

        var result = await manager.ConnectAsync(new CallRequest("A", "07700900123", Pool: "gsm"), CancellationToken.None);

        Assert.Equal("GSM1", result.Outcome.Modem);
        var none = await manager.ConnectAsync(new CallRequest("B", "01", Pool: "satellite"), CancellationToken.None);
        Assert.Equal(OutcomeCode.NoModemAvailable, none.Outcome.Code);
        Assert.Contains("satellite", none.Outcome.RawReply, StringComparison.Ordinal);
        await result.Lease!.DisposeAsync();
    }

    [Fact]
    public async Task CheckIdleModemsAsync_HungModemUnhung_RecoveredAfterQuarantine()
    {
        var hung = true;
        var m1 = new FakeModem("M1");
        m1.OnInitialize = _ => hung ? FakeModem.Result(OutcomeCode.ModemNotResponding, "") : FakeModem.Ok();
        m1.OnCheck = _ => hung ? FakeModem.Result(OutcomeCode.ModemNotResponding, "") : FakeModem.Ok();
        m1.OnReset = _ => hung ? FakeModem.Result(OutcomeCode.ModemNotResponding, "") : FakeModem.Ok();
        await using var manager = Manager(Options(maxQueue: TimeSpan.Zero), m1);

        var result = await manager.ConnectAsync(new CallRequest("A", "01"), CancellationToken.None);
        Assert.Equal(OutcomeCode.NoModemAvailable, result.Outcome.Code);
        Assert.Equal(ModemAvailability.Quarantined, manager.Modems[0].Availability);

        // Still hung when the quarantine ends: the check fails and the quarantine doubles.
        _time.Advance(TimeSpan.FromSeconds(30));
        await manager.CheckIdleModemsAsync(CancellationToken.None);
        Assert.True(manager.Modems[0].Faulted);
        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromSeconds(60), manager.Modems[0].QuarantinedUntil);

        hung = false;
        _time.Advance(TimeSpan.FromSeconds(60));
        await manager.CheckIdleModemsAsync(CancellationToken.None);

        var snapshot = manager.Modems[0];
        Assert.False(snapshot.Faulted);
        Assert.Equal(ModemAvailability.Idle, snapshot.Availability);
        Assert.Equal(2, snapshot.Statistics.Errors);
        var after = await manager.ConnectAsync(new CallRequest("A", "01"), CancellationToken.None);
        Assert.Equal(OutcomeCode.Success, after.Outcome.Code);
        await after.Lease!.DisposeAsync();
    }

    [Fact]
    public async Task CheckIdleModemsAsync_ModemInCall_NotChecked()
    {
        var m1 = new FakeModem("M1");
        await using var manager = Manager(Options(), m1);
        var lease = (await manager.ConnectAsync(new CallRequest("A", "01"), CancellationToken.None)).Lease!;
        _time.Advance(TimeSpan.FromMinutes(10));

        await manager.CheckIdleModemsAsync(CancellationToken.None);

        Assert.Equal(0, m1.Checks);
        Assert.False(m1.Overlapped);
        await lease.DisposeAsync();
        await manager.CheckIdleModemsAsync(CancellationToken.None);
        Assert.Equal(1, m1.Checks);
    }

    [Fact]
    public async Task ConnectAsync_EightConcurrentRequestsOnFourModemsOneFaultsMidRun_AllTypedNoOverlap()
    {
        var modems = Enumerable.Range(1, 4).Select(i => new FakeModem($"M{i}")).ToArray();
        var m3Calls = 0;
        modems[2].OnInitialize = _ => Interlocked.Increment(ref m3Calls) > 1 ? FakeModem.Result(OutcomeCode.ModemError, "ERROR") : FakeModem.Ok();
        var gates = new List<TaskCompletionSource>();
        foreach (var m in modems)
        {
            m.OnDial = async (_, ct) =>
            {
                var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                lock (gates)
                {
                    gates.Add(gate);
                }

                await gate.Task.WaitAsync(ct);
                return new Core.Modems.ModemResult(OutcomeCode.Success, "CONNECT", null, TimeSpan.FromSeconds(20));
            };
        }

        await using var manager = Manager(Options(maxQueue: TimeSpan.FromMinutes(5)), modems);
        var requests = Enumerable.Range(1, 8).Select(i => Task.Run(async () =>
        {
            var r = await manager.ConnectAsync(new CallRequest($"RTU-{i}", $"0{i}"), CancellationToken.None);
            if (r.Lease is not null)
            {
                await r.Lease.DisposeAsync();
            }

            return r.Outcome;
        })).ToArray();

        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        int Pending()
        {
            lock (gates)
            {
                return gates.Count(g => !g.Task.IsCompleted);
            }
        }

        void ReleaseAll()
        {
            lock (gates)
            {
                foreach (var g in gates)
                {
                    g.TrySetResult();
                }
            }
        }

        async Task UntilAsync(Func<bool> condition)
        {
            while (!condition())
            {
                await Task.Delay(TimeSpan.FromMilliseconds(1), TimeProvider.System, guard.Token);
            }
        }

        // Wave 1: all four modems dialling, the other four requests queued behind them.
        await UntilAsync(() => Pending() == 4);
        ReleaseAll();

        // Mid-run fault: the other modems are held in their second dials, so a queued request must try M3,
        // whose init now fails; that request then waits for a healthy modem.
        await UntilAsync(() => Volatile.Read(ref m3Calls) >= 2);

        // Release dials as they arrive until every request has an outcome.
        while (!requests.All(r => r.IsCompleted))
        {
            guard.Token.ThrowIfCancellationRequested();
            ReleaseAll();
            _time.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(TimeSpan.FromMilliseconds(1), TimeProvider.System);
        }

        var outcomes = await Task.WhenAll(requests);
        Assert.All(outcomes, o => Assert.Equal(OutcomeCode.Success, o.Code));
        Assert.All(modems, m => Assert.False(m.Overlapped));
        Assert.True(manager.Modems.Single(m => m.Name == "M3").Statistics.Errors >= 1);
        Assert.Equal(8, modems.Sum(m => m.Dials.Count));
    }

    [Fact]
    public async Task ConnectAsync_CancelledDuringDial_ModemHungUpAndFree()
    {
        var m1 = new FakeModem("M1")
        {
            OnDial = async (_, ct) =>
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, TimeProvider.System, ct);
                throw new InvalidOperationException("unreachable");
            },
        };
        await using var manager = Manager(Options(), m1);
        using var cts = new CancellationTokenSource();

        var pending = manager.ConnectAsync(new CallRequest("A", "01"), cts.Token);
        await cts.CancelAsync();
        var result = await pending.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(OutcomeCode.Cancelled, result.Outcome.Code);
        Assert.Equal(1, m1.HangUps);
        Assert.Equal(ModemAvailability.Idle, manager.Modems[0].Availability);
        Assert.Equal(0, manager.Modems[0].Statistics.Errors);
    }

    [Fact]
    public async Task ReportProtocolOutcome_ConnectionLost_CountsOutstationAndRequestsModemRecheck()
    {
        var m1 = new FakeModem("M1");
        await using var manager = Manager(Options(), m1);
        var lease = (await manager.ConnectAsync(new CallRequest("RTU-9", "09"), CancellationToken.None)).Lease!;

        lease.ReportProtocolOutcome(OutcomeCode.ConnectionLost);
        await lease.DisposeAsync();
        await manager.CheckIdleModemsAsync(CancellationToken.None);

        Assert.Equal(1, manager.Outstations["RTU-9"].Errors);
        Assert.Equal(1, manager.Outstations["RTU-9"].FailuresByCode[OutcomeCode.ConnectionLost]);
        Assert.Equal(0, manager.Modems[0].Statistics.Errors);
        Assert.Equal(1, m1.Checks); // re-checked at once, not after the 5-minute interval
    }

    [Fact]
    public async Task ReleaseAsync_HangUpAndRecoveryFail_ModemFaulted()
    {
        var m1 = new FakeModem("M1")
        {
            OnHangUp = _ => FakeModem.Result(OutcomeCode.ModemNotResponding, ""),
            OnReset = _ => FakeModem.Result(OutcomeCode.ModemNotResponding, ""),
        };
        await using var manager = Manager(Options(), m1);
        var lease = (await manager.ConnectAsync(new CallRequest("A", "01"), CancellationToken.None)).Lease!;

        await lease.DisposeAsync();

        Assert.True(manager.Modems[0].Faulted);
        Assert.Equal(ModemAvailability.Quarantined, manager.Modems[0].Availability);
    }

    [Fact]
    public async Task RunDialInAsync_RingWhileDialOutModemsBusy_AnsweredOnReservedModemWithCallerId()
    {
        var m1 = new FakeModem("M1");
        var dialIn = new FakeModem("IN");
        await using var manager = new ModemChannelManager(
            [(m1, ModemRole.Default), (dialIn, new ModemRole { AnswerCalls = true, ReservedForDialIn = true })], Options(), _time);
        var outbound = await manager.ConnectAsync(new CallRequest("A", "01"), CancellationToken.None);
        var answered = new TaskCompletionSource<IncomingCall>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = new CancellationTokenSource();
        var dialInLoop = manager.RunDialInAsync((call, _) =>
        {
            answered.TrySetResult(call);
            return Task.CompletedTask;
        }, stop.Token);

        dialIn.Ring(clip: "01632960999");
        var call = await answered.Task.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal("IN", call.ModemName);
        Assert.Equal("01632960999", call.CallerId);
        Assert.Same(dialIn.DataChannel, call.Link);
        await outbound.Lease!.DisposeAsync();
        await stop.CancelAsync();
        await dialInLoop.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(1, dialIn.HangUps);
    }

    [Fact]
    public async Task ReleaseAsync_HangUpFailsButRecoveryPasses_ModemIdleWithoutFault()
    {
        var resets = 0;
        var m1 = new FakeModem("M1")
        {
            OnHangUp = _ => FakeModem.Result(OutcomeCode.TransportFailure, "link closed"),
            OnReset = _ =>
            {
                resets++;
                return FakeModem.Ok();
            },
        };
        await using var manager = Manager(Options(), m1);
        var lease = (await manager.ConnectAsync(new CallRequest("A", "01"), CancellationToken.None)).Lease!;

        await lease.DisposeAsync();

        Assert.Equal(1, resets);
        Assert.False(manager.Modems[0].Faulted);
        Assert.Equal(0, manager.Modems[0].Statistics.Errors);
        Assert.Equal(ModemAvailability.Idle, manager.Modems[0].Availability);
    }

    [Fact]
    public void Constructor_DuplicateModemNames_Rejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => Manager(Options(), new FakeModem("M1"), new FakeModem("m1")));
        Assert.Contains("M1", ex.Message, StringComparison.OrdinalIgnoreCase);
    }
}
