using ChannelManager.Core;
using ChannelManager.Core.Channels;
using ChannelManager.HardwareSim.Exchange;
using ChannelManager.HardwareSim.Modems;

namespace ChannelManager.IntegrationTests.Channels;

/// <summary>
/// Issue 4 acceptance through the REAL AT engine and simulated modems (in-process, real time): the
/// same scenarios as the FakeModem unit tests, now with ATZ/init/ATD/+++/ATH on the wire and the
/// simulated exchange's call log as the witness of what was dialled.
/// </summary>
public sealed class ModemChannelManagerAgainstSimulatorTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private static readonly byte[] Ping = [0x01, 0x03, 0x00, 0x00, 0x00, 0x04];

    [Fact]
    public async Task ConnectAsync_Modem1AnswersErrorToInit_CompletesOnModem2AndFaultsModem1Only()
    {
        await using var bank = new SimulatedBank([(SimulatedBank.Modem("M1", ModemFault.InitError), ModemRole.Default), (SimulatedBank.Modem("M2"), ModemRole.Default), (SimulatedBank.Modem("M3"), ModemRole.Default)]);
        bank.Exchange.AddLine("0100", new LineBehaviour.Answer(TimeSpan.FromMilliseconds(50), EchoCallee.ServeAsync));

        var result = await bank.Manager.ConnectAsync(new CallRequest("RTU-1", "0100"), CancellationToken.None).WaitAsync(Bound);

        Assert.Equal(OutcomeCode.Success, result.Outcome.Code);
        Assert.Equal("M2", result.Outcome.Modem);
        Assert.Equal([("M1", OutcomeCode.ModemError), ("M2", OutcomeCode.Success)], result.Outcome.ModemsTried.Select(t => (t.ModemName, t.Code)));
        Assert.True(await SimulatedBank.EchoAsync(result.Lease!.Link, Ping, TimeSpan.FromSeconds(10)));
        await result.Lease.DisposeAsync().AsTask().WaitAsync(Bound);

        var m1 = bank.Manager.Modems.Single(m => m.Name == "M1");
        Assert.True(m1.Faulted);
        Assert.Equal(1, m1.Statistics.Errors);
        Assert.Equal(0, bank.Manager.Modems.Single(m => m.Name == "M2").Statistics.Errors);
        Assert.Equal(0, bank.Manager.Outstations["RTU-1"].Errors);
        // One dial on the line, from M2: M1 never dialled.
        var call = Assert.Single(bank.Exchange.CallLog);
        Assert.Equal(("M2", CallResult.Connected), (call.ModemName, call.Result));
        Assert.Empty(bank.Exchange.Violations);
    }

    [Fact]
    public async Task ConnectAsync_LineBusy_BusyReturnedAfterOneDialAndCountedAgainstOutstation()
    {
        await using var bank = new SimulatedBank([(SimulatedBank.Modem("M1"), ModemRole.Default), (SimulatedBank.Modem("M2"), ModemRole.Default), (SimulatedBank.Modem("M3"), ModemRole.Default)]);
        bank.Exchange.AddLine("0200", new LineBehaviour.Busy(TimeSpan.FromMilliseconds(100)));

        var result = await bank.Manager.ConnectAsync(new CallRequest("RTU-2", "0200"), CancellationToken.None).WaitAsync(Bound);

        Assert.Equal(OutcomeCode.Busy, result.Outcome.Code);
        Assert.Null(result.Lease);
        var call = Assert.Single(bank.Exchange.CallLog);
        Assert.Equal(CallResult.Busy, call.Result);
        Assert.Equal(1, bank.Manager.Outstations["RTU-2"].Errors);
        Assert.All(bank.Manager.Modems, m => Assert.Equal(0, m.Statistics.Errors));
        Assert.All(bank.Manager.Modems, m => Assert.False(m.Faulted));
    }

    [Fact]
    public async Task ConnectAsync_AllModemsHung_NoModemAvailableThenHealthCheckRecoversUnhungModem()
    {
        await using var bank = new SimulatedBank([(SimulatedBank.Modem("M1", ModemFault.Hung), ModemRole.Default), (SimulatedBank.Modem("M2", ModemFault.Hung), ModemRole.Default), (SimulatedBank.Modem("M3", ModemFault.Hung), ModemRole.Default)], SimulatedBank.Options(maxQueue: TimeSpan.FromSeconds(3)));
        bank.Exchange.AddLine("0300", new LineBehaviour.Answer(TimeSpan.FromMilliseconds(50), EchoCallee.ServeAsync));

        var result = await bank.Manager.ConnectAsync(new CallRequest("RTU-3", "0300"), CancellationToken.None).WaitAsync(Bound);

        Assert.Equal(OutcomeCode.NoModemAvailable, result.Outcome.Code);
        Assert.Equal(["M1", "M2", "M3"], result.Outcome.ModemsTried.Select(t => t.ModemName).Order());
        Assert.All(result.Outcome.ModemsTried, t => Assert.Equal(OutcomeCode.ModemNotResponding, t.Code));
        Assert.All(bank.Manager.Modems, m => Assert.True(m.Faulted));
        Assert.Equal(0, bank.Manager.Outstations.GetValueOrDefault("RTU-3")?.Errors ?? 0);
        Assert.Empty(bank.Exchange.CallLog);

        // While still hung, a health pass (quarantine over) cannot clear the fault.
        var before = bank.Manager.Modems.Single(m => m.Name == "M2").Statistics.Errors;
        await bank.CheckUntilAsync(() => bank.Manager.Modems.Single(m => m.Name == "M2").Statistics.Errors > before, Bound);
        Assert.True(bank.Manager.Modems.Single(m => m.Name == "M2").Faulted);

        // Un-hang M2 in the simulator: the next due check (escape, ATH, ATZ, reopen, AT) clears it.
        bank.Modems[1].Fault = ModemFault.None;
        await bank.CheckUntilAsync(() => !bank.Manager.Modems.Single(m => m.Name == "M2").Faulted, Bound);
        Assert.Equal(ModemAvailability.Idle, bank.Manager.Modems.Single(m => m.Name == "M2").Availability);
        Assert.True(bank.Manager.Modems.Where(m => m.Name != "M2").All(m => m.Faulted));

        var again = await bank.Manager.ConnectAsync(new CallRequest("RTU-3", "0300"), CancellationToken.None).WaitAsync(Bound);
        Assert.Equal(OutcomeCode.Success, again.Outcome.Code);
        Assert.Equal("M2", again.Outcome.Modem);
        await again.Lease!.DisposeAsync().AsTask().WaitAsync(Bound);
    }

    [Fact]
    public async Task ConnectAsync_EightConcurrentRequestsOnFourModemsOneFaultedMidRun_EveryRequestTypedAndNoModemShared()
    {
        var behaviours = Enumerable.Range(1, 4).Select(i => (SimulatedBank.Modem($"M{i}"), ModemRole.Default)).ToArray();
        await using var bank = new SimulatedBank(behaviours);
        for (var i = 0; i < 8; i++)
        {
            bank.Exchange.AddLine($"04{i}", new LineBehaviour.Answer(TimeSpan.FromMilliseconds(100), EchoCallee.ServeAsync));
        }

        async Task<(CallOutcome Outcome, bool Echoed)> RunAsync(int i)
        {
            var result = await bank.Manager.ConnectAsync(new CallRequest($"RTU-4{i}", $"04{i}"), CancellationToken.None);
            if (result.Lease is not { } lease)
            {
                return (result.Outcome, false);
            }

            await using (lease)
            {
                var ok = true;
                for (var k = 0; k < 3; k++)
                {
                    ok &= await SimulatedBank.EchoAsync(lease.Link, Ping, TimeSpan.FromSeconds(10));
                }

                lease.ReportProtocolOutcome(ok ? OutcomeCode.Success : OutcomeCode.ConnectionLost);
                return (result.Outcome, ok);
            }
        }

        var runs = Enumerable.Range(0, 8).Select(RunAsync).ToArray();
        // Fault M2 once calls are under way: it answers ERROR to everything from now on.
        using (var wait = new CancellationTokenSource(Bound))
        {
            while (bank.Exchange.CallLog.Count(c => c.Result == CallResult.Connected) < 2)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20), TimeProvider.System, wait.Token);
            }
        }

        bank.Modems[1].Fault = ModemFault.ErrorToEverything;
        var outcomes = await Task.WhenAll(runs).WaitAsync(TimeSpan.FromSeconds(120));

        // With a 60 s queue time and three good modems every request gets through.
        Assert.All(outcomes, o => Assert.Equal(OutcomeCode.Success, o.Outcome.Code));
        Assert.All(outcomes, o => Assert.True(o.Echoed));
        Assert.Empty(bank.Exchange.Violations);
        Assert.All(bank.Modems, m => Assert.True(bank.Exchange.PeakActiveCallsOn(m.Name) <= 1, $"{m.Name} had {bank.Exchange.PeakActiveCallsOn(m.Name)} calls at once"));
        Assert.All(bank.Manager.Outstations.Values, s => Assert.Equal(0, s.Errors));
        Assert.Equal(0, bank.Manager.Modems.Where(m => m.Name != "M2").Sum(m => m.Statistics.Errors));
        // M2 took one of the first four requests; after the fault its init or ATH got ERROR, so it was faulted and never dialled again.
        var m2 = bank.Manager.Modems.Single(m => m.Name == "M2");
        Assert.True(m2.Statistics.Errors >= 1, $"M2 errors {m2.Statistics.Errors}");
        Assert.True(bank.Exchange.CallLog.Count(c => c.ModemName == "M2") <= 1);
    }

    [Fact]
    public async Task RunDialInAsync_RingWhileOtherModemsBusyWithDialOuts_AnsweredOnReservedModem()
    {
        var dialIn = SimulatedBank.Modem("IN");
        dialIn.CallerId = CallerIdFormat.Clip;
        var options = SimulatedBank.Options(maxQueue: TimeSpan.FromSeconds(2));
        options.RingsBeforeAnswer = 2; // +CLIP follows the first RING; answer on the second, caller id known.
        await using var bank = new SimulatedBank([(SimulatedBank.Modem("M1"), ModemRole.Default), (SimulatedBank.Modem("M2"), ModemRole.Default), (dialIn, new ModemRole { AnswerCalls = true, ReservedForDialIn = true })], options);
        bank.Exchange.AddLine("0501", new LineBehaviour.Answer(TimeSpan.FromMilliseconds(50), EchoCallee.ServeAsync));
        bank.Exchange.AddLine("0502", new LineBehaviour.Answer(TimeSpan.FromMilliseconds(50), EchoCallee.ServeAsync));

        using var stop = new CancellationTokenSource();
        var answered = new TaskCompletionSource<(IncomingCall Call, bool Echoed)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var dialInLoop = bank.Manager.RunDialInAsync(async (call, ct) => answered.TrySetResult((call, await SimulatedBank.EchoAsync(call.Link, Ping, TimeSpan.FromSeconds(10)))), stop.Token);

        var out1 = await bank.Manager.ConnectAsync(new CallRequest("RTU-51", "0501"), CancellationToken.None).WaitAsync(Bound);
        var out2 = await bank.Manager.ConnectAsync(new CallRequest("RTU-52", "0502"), CancellationToken.None).WaitAsync(Bound);
        Assert.Equal((OutcomeCode.Success, OutcomeCode.Success), (out1.Outcome.Code, out2.Outcome.Code));

        // Every dial-out modem is busy: a third dial-out must not take the reserved modem.
        var third = await bank.Manager.ConnectAsync(new CallRequest("RTU-53", "0501"), CancellationToken.None).WaitAsync(Bound);
        Assert.Equal(OutcomeCode.NoModemAvailable, third.Outcome.Code);

        // Wait until the dial-in modem is initialised (its port open), then ring twice.
        using (var wait = new CancellationTokenSource(Bound))
        {
            while (bank.Manager.Modems.Single(m => m.Name == "IN").Availability != ModemAvailability.Idle || !bank.Modems[2].CommandLog.Any(c => c.Contains('&', StringComparison.Ordinal)))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20), TimeProvider.System, wait.Token);
            }
        }

        bank.Modems[2].Ring("01632960999");
        bank.Modems[2].Ring("01632960999");
        var (call, echoed) = await answered.Task.WaitAsync(Bound);

        Assert.Equal("IN", call.ModemName);
        Assert.Equal("01632960999", call.CallerId);
        Assert.True(echoed);
        Assert.Equal(ModemAvailability.InCall, bank.Manager.Modems.Single(m => m.Name == "M1").Availability);
        Assert.Equal(ModemAvailability.InCall, bank.Manager.Modems.Single(m => m.Name == "M2").Availability);

        await out1.Lease!.DisposeAsync().AsTask().WaitAsync(Bound);
        await out2.Lease!.DisposeAsync().AsTask().WaitAsync(Bound);
        await stop.CancelAsync();
        await dialInLoop.WaitAsync(Bound);
        Assert.Empty(bank.Exchange.Violations);
    }

    [Fact]
    public async Task ConnectAsync_CancelledWhileDialling_ModemHungUpAndReusable()
    {
        await using var bank = new SimulatedBank([(SimulatedBank.Modem("M1"), ModemRole.Default)]);
        bank.Exchange.AddLine("0600", new LineBehaviour.Silent());
        bank.Exchange.AddLine("0601", new LineBehaviour.Answer(TimeSpan.FromMilliseconds(50), EchoCallee.ServeAsync));
        using var cancel = new CancellationTokenSource();

        var pending = bank.Manager.ConnectAsync(new CallRequest("RTU-6", "0600"), cancel.Token);
        using (var wait = new CancellationTokenSource(Bound))
        {
            while (bank.Exchange.ActiveCallsOn("M1") == 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20), TimeProvider.System, wait.Token);
            }
        }

        await cancel.CancelAsync();
        var result = await pending.WaitAsync(Bound);

        Assert.Equal(OutcomeCode.Cancelled, result.Outcome.Code);
        Assert.Null(result.Lease);
        var call = Assert.Single(bank.Exchange.CallLog);
        Assert.Equal(CallResult.Aborted, call.Result);
        Assert.NotNull(call.EndedAt);
        var m1 = bank.Manager.Modems[0];
        Assert.Equal((false, ModemAvailability.Idle, 0L), (m1.Faulted, m1.Availability, m1.Statistics.Errors));
        Assert.Equal(0, bank.Manager.Outstations.GetValueOrDefault("RTU-6")?.Errors ?? 0);

        // Known state: the same modem makes the next call at once.
        var next = await bank.Manager.ConnectAsync(new CallRequest("RTU-6b", "0601"), CancellationToken.None).WaitAsync(Bound);
        Assert.Equal(OutcomeCode.Success, next.Outcome.Code);
        await next.Lease!.DisposeAsync().AsTask().WaitAsync(Bound);
        Assert.Empty(bank.Exchange.Violations);
    }

    [Fact]
    public async Task ConnectAsync_OneModemHungDuringConcurrentRequests_OtherRequestNeverTouchesIt()
    {
        await using var bank = new SimulatedBank([(SimulatedBank.Modem("M1", ModemFault.Hung), ModemRole.Default), (SimulatedBank.Modem("M2"), ModemRole.Default), (SimulatedBank.Modem("M3"), ModemRole.Default)]);
        bank.Exchange.AddLine("0801", new LineBehaviour.Answer(TimeSpan.FromMilliseconds(50), EchoCallee.ServeAsync));
        bank.Exchange.AddLine("0802", new LineBehaviour.Answer(TimeSpan.FromMilliseconds(50), EchoCallee.ServeAsync));

        // Round-robin hands M1 (hung) to the first request and M2 to the second at once.
        var a = bank.Manager.ConnectAsync(new CallRequest("RTU-81", "0801"), CancellationToken.None);
        var b = bank.Manager.ConnectAsync(new CallRequest("RTU-82", "0802"), CancellationToken.None);
        var results = await Task.WhenAll(a, b).WaitAsync(Bound);

        Assert.All(results, r => Assert.Equal(OutcomeCode.Success, r.Outcome.Code));
        Assert.Equal([("M1", OutcomeCode.ModemNotResponding), ("M3", OutcomeCode.Success)], results[0].Outcome.ModemsTried.Select(t => (t.ModemName, t.Code)));
        Assert.Equal([("M2", OutcomeCode.Success)], results[1].Outcome.ModemsTried.Select(t => (t.ModemName, t.Code)));
        foreach (var r in results)
        {
            await r.Lease!.DisposeAsync().AsTask().WaitAsync(Bound);
        }

        Assert.True(bank.Manager.Modems[0].Faulted);
        Assert.Equal(0, bank.Manager.Outstations["RTU-81"].Errors);
        Assert.Empty(bank.Exchange.Violations);
    }
}
