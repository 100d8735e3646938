using ChannelManager.Core;
using ChannelManager.Core.Channels;
using ChannelManager.HardwareSim.Exchange;
using ChannelManager.HardwareSim.Modems;

namespace ChannelManager.IntegrationTests.Channels;

/// <summary>
/// The soak's "line already in a call" signature, reproduced in-process with the real AT engine: a modem that hangs
/// mid-call cannot hang up (no reply to ATH or the recovery, no DTR line), so its call really holds the line — as a
/// hung physical modem would. The Channel Manager must not dial that number on another modem (BUSY, a wasted counted
/// attempt) until the hung modem proves on-hook by a successful reset.
/// </summary>
public sealed class HeldLineAgainstSimulatorTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task ConnectAsync_ModemHungMidCall_RedialWaitsForItsResetAndNeverFindsTheLineEngaged()
    {
        await using var bank = new SimulatedBank([(SimulatedBank.Modem("M1"), ModemRole.Default), (SimulatedBank.Modem("M2"), ModemRole.Default)]);
        bank.Exchange.AddLine("0500", new LineBehaviour.Answer(TimeSpan.FromMilliseconds(50), EchoCallee.ServeAsync));
        var first = await bank.Manager.ConnectAsync(new CallRequest("RTU-5", "0500"), CancellationToken.None).WaitAsync(Bound);
        Assert.Equal(OutcomeCode.Success, first.Outcome.Code);
        var hung = bank.Modems[first.Outcome.Modem == "M1" ? 0 : 1];

        hung.Fault = ModemFault.Hung;
        await first.Lease!.DisposeAsync().AsTask().WaitAsync(Bound);
        Assert.Equal(1, bank.Exchange.ActiveCallsTo("0500"));

        var redial = bank.Manager.ConnectAsync(new CallRequest("RTU-5", "0500"), CancellationToken.None);
        await Task.Delay(TimeSpan.FromSeconds(1), TimeProvider.System);
        Assert.False(redial.IsCompleted);
        Assert.Single(bank.Exchange.CallsTo("0500"));

        hung.Fault = ModemFault.None;
        await bank.CheckUntilAsync(() => redial.IsCompleted, Bound);
        var result = await redial.WaitAsync(Bound);

        Assert.Equal(OutcomeCode.Success, result.Outcome.Code);
        Assert.Empty(bank.Exchange.Violations);
        Assert.Equal(2, bank.Exchange.CallsTo("0500").Count);
        Assert.DoesNotContain(bank.Exchange.CallsTo("0500"), c => c.Result == CallResult.Busy);
        await result.Lease!.DisposeAsync().AsTask().WaitAsync(Bound);
    }
}
