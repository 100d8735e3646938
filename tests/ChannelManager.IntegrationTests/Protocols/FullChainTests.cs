using System.Globalization;
using ChannelManager.Core;
using ChannelManager.Core.Modems;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Transport;
using ChannelManager.HardwareSim.Exchange;
using ChannelManager.HardwareSim.Modems;
using ChannelManager.HardwareSim.Outstations;
using ChannelManager.IntegrationTests.Support;
using ChannelManager.Transport.Serial;

namespace ChannelManager.IntegrationTests.Protocols;

/// <summary>
/// Issue 5 acceptance "full chain": master → serial adapter → pty → simulated modem (dial, CONNECT) →
/// simulated outstation → values back, and a carrier drop mid-poll gives ConnectionLost. Once with every
/// piece a separate process (socat, `channelmanager-sim modem`, `channelmanager-sim outstation` behind the
/// modem's TCP-bridge callee), once in-process (SimulatedModemBank + ModbusRtuOutstation) as a fast check.
/// </summary>
public sealed class FullChainTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    /// <summary>What the slow outstation waits before replying; a drop must end the poll well before it.</summary>
    private static readonly TimeSpan SlowReply = TimeSpan.FromSeconds(3);

    private static readonly ushort[] Holding = [100, 101, 102, 103, 104, 105, 106, 107, 108, 109];

    private readonly string _dir = Directory.CreateTempSubdirectory("cm-chain-").FullName;

    [Fact]
    public async Task ExecuteAsync_ProcessChainThroughPtyModemAndOutstation_ReadsWritesAndCarrierDropIsConnectionLost()
    {
        await using var healthy = ExternalProcess.StartSimulator("outstation", "--listen", "tcp://127.0.0.1:0", "--unit", "1", "--holding", "0=" + string.Join(',', Holding));
        await using var slow = ExternalProcess.StartSimulator("outstation", "--listen", "tcp://127.0.0.1:0", "--unit", "1", "--holding", "0=7,8", "--fault", "slow:" + SlowReply.TotalMilliseconds.ToString(CultureInfo.InvariantCulture));
        var healthyEndpoint = await ListeningEndpointAsync(healthy);
        var slowEndpoint = await ListeningEndpointAsync(slow);

        // S12 = 10: a 0.2 s escape guard, below the engine's 0.3 s (helper brief "lesson learned").
        var scenario = WriteScenario($$"""
            {
              "modems": [ { "name": "M1", "sRegisters": { "12": 10 } } ],
              "lines": [
                { "number": "01632960200", "behaviour": "Answer", "delay": "00:00:00.300", "callee": "{{healthyEndpoint}}" },
                { "number": "01632960201", "behaviour": "Answer", "delay": "00:00:00.300", "callee": "{{slowEndpoint}}" }
              ]
            }
            """);
        await using var pty = await SocatPtyPair.StartAsync();
        await using var sim = ExternalProcess.StartSimulator("modem", "--port", pty.B, "--scenario", scenario, "--baud", "19200");
        await sim.WaitForLineAsync("READY", Bound);

        var time = TimeProvider.System;
        var port = new SerialChannelTransport(new SerialTransportOptions { PortName = pty.A, BaudRate = 19200 }, time);
        await port.OpenAsync(CancellationToken.None).WaitAsync(Bound);
        await using var modem = new AtModem(port, ownsTransport: true, ModemOptions(), time);
        var master = new ModbusRtuMaster(MasterOptions(TimeSpan.FromSeconds(2)), time);

        // Healthy call: values travel master → pty → modem → exchange → TCP bridge → outstation and back.
        await DialAsync(modem, "01632960200");
        var poll = await master.ExecuteAsync(modem.DataChannel, Poll(), CancellationToken.None).WaitAsync(Bound);
        AssertPoll(poll);
        Assert.True((await modem.HangUpAsync(CancellationToken.None).WaitAsync(Bound)).IsSuccess);

        // Carrier drop mid-poll: the outstation holds its reply for 3 s; the modem loses carrier first.
        await DialAsync(modem, "01632960201");
        var slowMaster = new ModbusRtuMaster(MasterOptions(TimeSpan.FromSeconds(8)), time);
        var pending = slowMaster.ExecuteAsync(modem.DataChannel, [new ReadHoldingRegisters(0, 2)], CancellationToken.None);
        // Long enough for the request to cross pty, modem and bridge; far shorter than the slow reply.
        await Task.Delay(TimeSpan.FromMilliseconds(800), time);
        Assert.False(pending.IsCompleted, "the poll ended before the carrier was dropped");
        await sim.WriteLineAsync("drop M1");
        await sim.WaitForLineAsync("OK drop M1", Bound);
        var dropped = await pending.WaitAsync(Bound);

        Assert.Equal(OutcomeCode.ConnectionLost, dropped.Code);
        Assert.Equal(FaultAttribution.Outstation, dropped.Code.CountedAgainst());
        Assert.True(dropped.EndedAt - dropped.StartedAt < SlowReply, $"took {dropped.EndedAt - dropped.StartedAt}: the slow reply, not the drop, ended the poll");

        // The modem is back in command state and usable for the next call.
        Assert.True((await modem.InitializeAsync(CancellationToken.None).WaitAsync(Bound)).IsSuccess);
    }

    [Fact]
    public async Task ExecuteAsync_InProcessChainModemBankAndOutstation_ReadsWritesAndCarrierDropIsConnectionLost()
    {
        var time = TimeProvider.System;
        var outstation = new ModbusRtuOutstation(1, time);
        outstation.Map.SetHoldingRegisters(0, Holding);
        var exchange = new PstnExchange(time);
        exchange.AddLine("01632960200", new LineBehaviour.Answer(TimeSpan.FromMilliseconds(20), outstation.ServeAsync));
        using var stop = new CancellationTokenSource();
        var ports = SimulatedModemBank.StartInProcess([new ModemBehaviour { Name = "M1", SRegisters = { [12] = 10 } }], exchange, time, stop.Token);
        await using var modem = new AtModem(ports[0].HostEnd, ownsTransport: true, ModemOptions(), time);
        var master = new ModbusRtuMaster(MasterOptions(TimeSpan.FromSeconds(2)), time);

        await DialAsync(modem, "01632960200");
        AssertPoll(await master.ExecuteAsync(modem.DataChannel, Poll(), CancellationToken.None).WaitAsync(Bound));
        Assert.True((await modem.HangUpAsync(CancellationToken.None).WaitAsync(Bound)).IsSuccess);

        outstation.Fault = OutstationFault.SlowReply(SlowReply);
        await DialAsync(modem, "01632960200");
        var seen = outstation.RequestCount;
        var pending = master.ExecuteAsync(modem.DataChannel, [new ReadHoldingRegisters(0, 2)], CancellationToken.None);
        // Drop only once the outstation holds the request, so the master is certainly waiting for the reply.
        using (var wait = new CancellationTokenSource(Bound))
        {
            while (outstation.RequestCount == seen)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(5), time, wait.Token);
            }
        }

        ports[0].Modem.DropCarrier();
        var dropped = await pending.WaitAsync(Bound);

        Assert.Equal(OutcomeCode.ConnectionLost, dropped.Code);
        Assert.Equal(1, dropped.TotalAttempts);
        Assert.True(dropped.EndedAt - dropped.StartedAt < SlowReply, $"took {dropped.EndedAt - dropped.StartedAt}");
        Assert.Equal(3, outstation.ReplyCount);   // the three healthy commands were answered, the slow one never
        Assert.Equal(2, exchange.CallsTo("01632960200").Count);
        Assert.Empty(exchange.Violations);
        await stop.CancelAsync();
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static ProtocolCommand[] Poll() => [new ReadHoldingRegisters(0, 10), new WriteSingleRegister(5, 4242), new ReadHoldingRegisters(4, 3)];

    private static void AssertPoll(ProtocolResult poll)
    {
        Assert.True(poll.IsSuccess, $"{poll.Code}: {poll.Detail}");
        Assert.Equal(Holding, poll.Commands[0].Registers);
        Assert.Equal(new ushort[] { 104, 4242, 106 }, poll.Commands[2].Registers);
        Assert.All(poll.Commands, c => Assert.Equal(1, c.Attempts));
    }

    private static async Task DialAsync(AtModem modem, string number)
    {
        var init = await modem.InitializeAsync(CancellationToken.None).WaitAsync(Bound);
        Assert.True(init.IsSuccess, $"init {init.Code} '{init.RawReply}'");
        var dial = await modem.DialAsync(number, CancellationToken.None).WaitAsync(Bound);
        Assert.True(dial.IsSuccess, $"dial {dial.Code} '{dial.RawReply}'");
    }

    private static AtModemOptions ModemOptions() => new()
    {
        Name = "M1",
        CommandTimeout = TimeSpan.FromSeconds(2),
        DialTimeout = TimeSpan.FromSeconds(10),
        EscapeGuardTime = TimeSpan.FromMilliseconds(300),
    };

    private static ModbusRtuOptions MasterOptions(TimeSpan responseTimeout) => new()
    {
        UnitId = 1,
        BaudRate = 19200,
        Parity = SerialParity.None,
        ResponseTimeout = responseTimeout,
        TimeoutRetries = 0,
    };

    private static async Task<string> ListeningEndpointAsync(ExternalProcess outstation)
    {
        await outstation.WaitForLineAsync("READY unit", Bound);
        var line = outstation.Output.Split('\n').First(l => l.StartsWith("READY unit", StringComparison.Ordinal));
        return line[line.IndexOf("tcp://", StringComparison.Ordinal)..].Trim();
    }

    private string WriteScenario(string json)
    {
        var path = Path.Combine(_dir, $"scenario-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }
}
