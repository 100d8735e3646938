using ChannelManager.Core;
using ChannelManager.Core.Channels;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.HardwareSim.Exchange;
using ChannelManager.HardwareSim.Modems;
using ChannelManager.HardwareSim.Outstations;
using ChannelManager.Host.Hosting;

namespace ChannelManager.IntegrationTests.Channels;

/// <summary>The starred issue 4 acceptance tests: real AT engine on real ptys (socat) and through ser2net.</summary>
public sealed class ModemChannelManagerThroughPtyTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task ConnectAsync_Modem1AnswersErrorToInitOverPty_CompletesOnModem2()
    {
        await using var bank = await PtyBank.StartAsync([(SimulatedBank.Modem("M1", ModemFault.InitError), false), (SimulatedBank.Modem("M2"), false), (SimulatedBank.Modem("M3"), false)], SimulatedBank.Options());
        bank.Exchange.AddLine("0100", new LineBehaviour.Answer(TimeSpan.FromMilliseconds(50), EchoCallee.ServeAsync));

        var result = await bank.Manager.ConnectAsync(new CallRequest("RTU-1", "0100"), CancellationToken.None).WaitAsync(Bound);

        Assert.Equal(OutcomeCode.Success, result.Outcome.Code);
        Assert.Equal("M2", result.Outcome.Modem);
        Assert.True(await SimulatedBank.EchoAsync(result.Lease!.Link, [0x01, 0x03, 0x00, 0x00, 0x00, 0x04], TimeSpan.FromSeconds(10)));
        await result.Lease.DisposeAsync().AsTask().WaitAsync(Bound);
        var m1 = bank.Manager.Modems.Single(m => m.Name == "M1");
        Assert.True(m1.Faulted);
        Assert.Equal(1, m1.Statistics.Errors);
        Assert.Equal(0, bank.Manager.Outstations["RTU-1"].Errors);
        var call = Assert.Single(bank.Exchange.CallLog);
        Assert.Equal("M2", call.ModemName);
        Assert.Empty(bank.Exchange.Violations);
    }

    [Fact]
    public async Task ConnectAsync_LineBusyOverPty_OneDialOnlyAndCountedAgainstOutstation()
    {
        await using var bank = await PtyBank.StartAsync([(SimulatedBank.Modem("M1"), false), (SimulatedBank.Modem("M2"), false), (SimulatedBank.Modem("M3"), false)], SimulatedBank.Options());
        bank.Exchange.AddLine("0200", new LineBehaviour.Busy(TimeSpan.FromMilliseconds(100)));

        var result = await bank.Manager.ConnectAsync(new CallRequest("RTU-2", "0200"), CancellationToken.None).WaitAsync(Bound);

        Assert.Equal(OutcomeCode.Busy, result.Outcome.Code);
        Assert.Equal(CallResult.Busy, Assert.Single(bank.Exchange.CallLog).Result);
        Assert.Equal(1, bank.Manager.Outstations["RTU-2"].Errors);
        Assert.All(bank.Manager.Modems, m => Assert.Equal(0, m.Statistics.Errors));
    }

    [Fact]
    public async Task Lease_Ser2NetSessionKilledMidCall_ConnectionLostAgainstOutstationAndModemRechecked()
    {
        await using var bank = await PtyBank.StartAsync([(SimulatedBank.Modem("NET1"), true)], SimulatedBank.Options());
        var map = new ModbusRegisterMap();
        map.SetHoldingRegisters(0, 1001, 2317, 48, 1);
        var rtu = new ModbusRtuOutstation(1, TimeProvider.System, map);
        bank.Exchange.AddLine("0300", new LineBehaviour.Answer(TimeSpan.FromMilliseconds(50), rtu.ServeAsync));
        var master = new ModbusRtuMaster(new ModbusRtuOptions { UnitId = 1, BaudRate = 19200, Parity = Core.Transport.SerialParity.None, ResponseTimeout = TimeSpan.FromMilliseconds(800), TimeoutRetries = 1 }, TimeProvider.System);
        ReadHoldingRegisters[] poll = [new(0, 4)];

        var connect = await bank.Manager.ConnectAsync(new CallRequest("RTU-3", "0300"), CancellationToken.None).WaitAsync(Bound);
        Assert.Equal(OutcomeCode.Success, connect.Outcome.Code);
        var lease = connect.Lease!;
        var first = await master.ExecuteAsync(lease.Link, poll, CancellationToken.None).WaitAsync(Bound);
        Assert.Equal(OutcomeCode.Success, first.Code);

        // The serial server drops the TCP session in the middle of the call.
        await bank.Ser2Net["NET1"].DisconnectClientAsync().WaitAsync(Bound);
        var second = await master.ExecuteAsync(lease.Link, poll, CancellationToken.None).WaitAsync(Bound);
        lease.ReportProtocolOutcome(second.Code);
        await lease.DisposeAsync().AsTask().WaitAsync(Bound);

        Assert.Equal(OutcomeCode.ConnectionLost, second.Code);
        var outstation = bank.Manager.Outstations["RTU-3"];
        Assert.Equal(1, outstation.Errors);
        Assert.Equal(1, outstation.FailuresByCode[OutcomeCode.ConnectionLost]);

        // The hang-up could not be confirmed on the dead session, so the modem was recovered at once on a
        // new TCP session (escape, ATH, ATZ): the call is over on the exchange and the modem is clean.
        var snapshot = bank.Manager.Modems[0];
        Assert.Equal((false, ModemAvailability.Idle, 0L), (snapshot.Faulted, snapshot.Availability, snapshot.Statistics.Errors));
        Assert.Contains("ATH", bank.Modems[0].CommandLog.Skip(3));
        Assert.All(bank.Exchange.CallLog, c => Assert.NotNull(c.EndedAt));
        var again = await bank.Manager.ConnectAsync(new CallRequest("RTU-3", "0300"), CancellationToken.None).WaitAsync(Bound);
        Assert.Equal(OutcomeCode.Success, again.Outcome.Code);
        Assert.Equal(OutcomeCode.Success, (await master.ExecuteAsync(again.Lease!.Link, poll, CancellationToken.None).WaitAsync(Bound)).Code);
        await again.Lease.DisposeAsync().AsTask().WaitAsync(Bound);
        Assert.Empty(bank.Exchange.Violations);
        Assert.Equal(1, bank.Exchange.PeakActiveCallsOn("NET1"));
    }

    [Fact]
    public async Task ModemBankFactory_MixedPtyAndSer2NetModems_BothDialThroughOneExchange()
    {
        await using var bank = await PtyBank.StartAsync(
            [(SimulatedBank.Modem("COM1"), false), (SimulatedBank.Modem("NET1"), true)],
            SimulatedBank.Options(),
            config => ModemBankFactory.Create(config, SimulatedBank.Options(), TimeProvider.System));
        bank.Exchange.AddLine("0701", new LineBehaviour.Answer(TimeSpan.FromMilliseconds(50), EchoCallee.ServeAsync));
        bank.Exchange.AddLine("0702", new LineBehaviour.Answer(TimeSpan.FromMilliseconds(50), EchoCallee.ServeAsync));
        Assert.Equal([("COM1", true), ("NET1", false)], bank.Config.Select(c => (c.Name, c.Port is not null)));

        var first = await bank.Manager.ConnectAsync(new CallRequest("RTU-71", "0701"), CancellationToken.None).WaitAsync(Bound);
        var second = await bank.Manager.ConnectAsync(new CallRequest("RTU-72", "0702"), CancellationToken.None).WaitAsync(Bound);

        Assert.Equal((OutcomeCode.Success, OutcomeCode.Success), (first.Outcome.Code, second.Outcome.Code));
        Assert.Equal(["COM1", "NET1"], new[] { first.Outcome.Modem, second.Outcome.Modem }.Order());
        Assert.True(await SimulatedBank.EchoAsync(first.Lease!.Link, [1, 2, 3], TimeSpan.FromSeconds(10)));
        Assert.True(await SimulatedBank.EchoAsync(second.Lease!.Link, [4, 5, 6], TimeSpan.FromSeconds(10)));
        await first.Lease.DisposeAsync().AsTask().WaitAsync(Bound);
        await second.Lease.DisposeAsync().AsTask().WaitAsync(Bound);
        Assert.Equal(["COM1", "NET1"], bank.Exchange.CallLog.Select(c => c.ModemName).Order());
        Assert.All(bank.Exchange.CallLog, c => Assert.Equal(CallResult.Connected, c.Result));
        Assert.Empty(bank.Exchange.Violations);
    }
}
