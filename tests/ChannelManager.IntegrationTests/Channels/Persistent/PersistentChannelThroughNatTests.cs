using System.Globalization;
using System.Net;
using System.Net.Sockets;
using ChannelManager.Core;
using ChannelManager.Core.Channels.Persistent;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Scheduling;
using ChannelManager.HardwareSim.Nat;
using ChannelManager.IntegrationTests.Support;
using ChannelManager.Persistence.Sqlite;
using ChannelManager.Transport.Tcp;
using Microsoft.Data.Sqlite;

namespace ChannelManager.IntegrationTests.Channels.Persistent;

/// <summary>
/// Issue 7 acceptance through a real TCP NAT proxy on 127.0.0.1 with times shortened to seconds: the persistent
/// channel learns the heartbeat, keeps polling across silent drops and resets with no poll lost, reconnects by the
/// configured strategy, and its learned heartbeat survives a store reopen. Outstations: our simulator (RTU over TCP)
/// and pymodbus 3.0 (Modbus TCP).
/// </summary>
public sealed class PersistentChannelThroughNatTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Ms100 = TimeSpan.FromMilliseconds(100);
    private static readonly IReadOnlyList<ProtocolCommand> HeartbeatRead = [new ReadHoldingRegisters(0, 1)];
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("cm-ipchan-");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _dir.Delete(recursive: true);
    }

    /// <summary>pymodbus 3.0.0rc1 Modbus TCP server (socket framer), unit 1, zero-based addresses.</summary>
    private const string PymodbusTcpServer = """
        import logging, sys
        from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
        from pymodbus.server import StartTcpServer
        logging.basicConfig(level=logging.WARNING)
        store = ModbusSlaveContext(
            co=ModbusSequentialDataBlock(0, [1, 0, 1, 1, 0, 0, 1, 0] + [0] * 92),
            di=ModbusSequentialDataBlock(0, [0, 1, 1, 0, 1, 0, 0, 1] + [0] * 92),
            hr=ModbusSequentialDataBlock(0, list(range(100, 110)) + [0] * 90),
            ir=ModbusSequentialDataBlock(0, list(range(200, 210)) + [0] * 90),
            zero_mode=True)
        print("READY", flush=True)
        StartTcpServer(context=ModbusServerContext(slaves={1: store}, single=False), address=("127.0.0.1", int(sys.argv[1])))
        """;

    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    private static PersistentChannelOptions Options(string name = "RTU-IP-1", TimeSpan? heartbeatMin = null) => new()
    {
        Name = name,
        // Seconds instead of minutes: 1 s steps between 1 and 6 s (a 1 s reply timeout stays clear of CI scheduling jitter).
        Heartbeat = new HeartbeatOptions
        {
            Default = heartbeatMin ?? Second, Min = heartbeatMin ?? Second, Increment = Second, Max = heartbeatMin is { } m && m > 6 * Second ? m : 6 * Second, SuccessesBeforeRaise = 1, ReprobeAfterSuccesses = null,
        },
        Reconnect = new BackoffOptions { Strategy = BackoffStrategyKind.Linear, Delay = 2 * Ms100, Attempts = 3, AttemptsExceededDelay = 10 * Ms100 },
        MaxPollWait = TimeSpan.FromSeconds(15),
    };

    private static TcpChannelTransport Link(IPEndPoint endpoint) =>
        new(new TcpTransportOptions { Host = "127.0.0.1", Port = endpoint.Port, ConnectTimeout = TimeSpan.FromSeconds(2) }, TimeProvider.System);

    private static ModbusRtuMaster RtuOverTcp(TimeSpan? responseTimeout = null) => new(new ModbusRtuOptions
    {
        UnitId = 1, BaudRate = 19200, Parity = Core.Transport.SerialParity.None, ResponseTimeout = responseTimeout ?? Second, TimeoutRetries = 0,
    }, TimeProvider.System);

    private static string Describe(PersistentChannel channel) =>
        string.Join('\n', channel.Events.Select(e => $"{e.At:HH:mm:ss.fff} {e.Kind} {e.Detail}")) + $"\n{channel.Heartbeat}";

    [Fact]
    public async Task RtuOverTcp_SimOutstationBehindNat_LearnsHeartbeatPollsAcrossDropsAndRemembersAfterReopen()
    {
        await using var outstation = ExternalProcess.StartSimulator("outstation", "--listen", "tcp://127.0.0.1:0", "--unit", "1", "--holding", "0=11,22,33");
        var target = await ListeningEndpointAsync(outstation);
        await WarmUpAsync(target);
        await using var nat = NatProxy.Start(new IPEndPoint(IPAddress.Loopback, 0), target, 35 * Ms100, TimeProvider.System);
        var dbPath = Path.Combine(_dir.FullName, "state.db");
        var store = await SqliteStateStore.OpenAsync(new SqliteStateStoreOptions { Path = dbPath }, CancellationToken.None);
        var channel = new PersistentChannel(Options(), () => Link(nat.LocalEndpoint), RtuOverTcp(), HeartbeatRead, TimeProvider.System, store: store);
        await using (channel)
        {
            await channel.StartAsync(CancellationToken.None);

            // NAT drops after 3.5 s idle: 1, 2, 3 s answered; 4 s silently dropped → reconnect → settled in [2.5, 3.5).
            await UntilAsync(() => channel.Count(ChannelEventKind.SilentDropConfirmed) >= 1, channel);
            Assert.InRange(channel.Heartbeat.Interval, 25 * Ms100, 34 * Ms100);
            Assert.True(channel.Heartbeat.LastFailed >= 35 * Ms100, channel.Heartbeat.ToString());
            Assert.True(channel.Heartbeat.IsSettled);
            Assert.True(nat.SilentDrops >= 1);

            // Polls keep working; half of them hit a link the NAT has just forgotten. None is lost.
            var results = new List<PersistentPollResult>();
            for (var i = 0; i < 6; i++)
            {
                if (i % 2 == 1)
                    nat.DropAll();
                results.Add(await channel.PollAsync([new ReadHoldingRegisters(0, 3)], CancellationToken.None).WaitAsync(Bound));
            }

            Assert.All(results, r => Assert.True(r.Code == OutcomeCode.Success, $"{r.Code}: {r.Detail}\n{Describe(channel)}"));
            Assert.All(results, r => Assert.Equal(new ushort[] { 11, 22, 33 }, r.Protocol?.Commands[0].Registers));
            Assert.Equal(3, results.Count(r => r.RetriedAfterReconnect));

            // The NAT gets stricter at run time (2.5 s): the interval re-converges into [1.5, 2.5).
            nat.IdleTimeout = 25 * Ms100;
            await UntilAsync(() => channel.Heartbeat.Interval < 25 * Ms100 && channel.Heartbeat.IsSettled, channel);
            Assert.InRange(channel.Heartbeat.Interval, 15 * Ms100, 24 * Ms100);
            Assert.True(channel.Heartbeat.LastFailed >= 25 * Ms100, channel.Heartbeat.ToString());
            var poll = await channel.PollAsync([new ReadHoldingRegisters(1, 2)], CancellationToken.None).WaitAsync(Bound);
            Assert.Equal(new ushort[] { 22, 33 }, poll.Protocol?.Commands[0].Registers);
        }

        var learned = channel.Heartbeat;
        await store.DisposeAsync();

        // Restart: a new store on the same file and a new channel start from the learned value, not Default.
        await using var reopened = await SqliteStateStore.OpenAsync(new SqliteStateStoreOptions { Path = dbPath }, CancellationToken.None);
        var saved = await reopened.LoadHeartbeatAsync("RTU-IP-1", CancellationToken.None);
        Assert.Equal(learned.Interval, saved?.Interval);
        Assert.Equal(learned.LastFailed, saved?.LastFailed);
        await using var restarted = new PersistentChannel(Options(), () => Link(nat.LocalEndpoint), RtuOverTcp(), HeartbeatRead, TimeProvider.System, store: reopened);
        await restarted.StartAsync(CancellationToken.None);
        Assert.Equal(learned.Interval, restarted.Heartbeat.Interval);
        Assert.Equal(learned.LastFailed, restarted.Heartbeat.LastFailed);
        Assert.NotEqual(Options().Heartbeat.Default, restarted.Heartbeat.Interval);
    }

    [Fact]
    public async Task ModbusTcp_PymodbusBehindNat_ResetAndSilentDropRetriedNoPollLost()
    {
        var port = Loopback.FreeTcpPort();
        var script = Path.Combine(_dir.FullName, "server.py");
        await File.WriteAllTextAsync(script, PymodbusTcpServer);
        await using var server = ExternalProcess.Start("/usr/bin/python3", script, port.ToString(CultureInfo.InvariantCulture));
        await server.WaitForLineAsync("READY", Bound);
        await using var nat = NatProxy.Start(new IPEndPoint(IPAddress.Loopback, 0), new IPEndPoint(IPAddress.Loopback, port), TimeSpan.FromSeconds(30), TimeProvider.System);
        var master = new ModbusTcpMaster(new ModbusTcpOptions { ResponseTimeout = Second, TimeoutRetries = 0 }, TimeProvider.System);
        // Heartbeats at 20 s: none during this test, so every event below comes from a poll.
        await using var channel = new PersistentChannel(Options("PLC-TCP", heartbeatMin: 20 * Second), () => Link(nat.LocalEndpoint), master, HeartbeatRead, TimeProvider.System);
        await channel.StartAsync(CancellationToken.None);

        // pymodbus prints READY before it listens: the first poll may need the reconnect strategy.
        var first = await channel.PollAsync([new ReadHoldingRegisters(0, 10)], CancellationToken.None).WaitAsync(Bound);
        nat.ResetAll();
        var afterReset = await channel.PollAsync([new ReadInputRegisters(0, 3)], CancellationToken.None).WaitAsync(Bound);
        nat.DropAll();
        var afterDrop = await channel.PollAsync([new ReadCoils(0, 8)], CancellationToken.None).WaitAsync(Bound);

        Assert.Equal(OutcomeCode.Success, first.Code);
        Assert.Equal(Enumerable.Range(100, 10).Select(v => (ushort)v), first.Protocol?.Commands[0].Registers);
        Assert.Equal(OutcomeCode.Success, afterReset.Code);
        Assert.Equal(new ushort[] { 200, 201, 202 }, afterReset.Protocol?.Commands[0].Registers);
        Assert.True(afterReset.RetriedAfterReconnect);
        Assert.Equal(OutcomeCode.Success, afterDrop.Code);
        Assert.Equal(new[] { true, false, true, true, false, false, true, false }, afterDrop.Protocol?.Commands[0].Bits);
        Assert.True(afterDrop.RetriedAfterReconnect);
        Assert.Equal(1, channel.Count(ChannelEventKind.ConnectionLost));
        Assert.Equal(1, channel.Count(ChannelEventKind.SilentDropConfirmed));
    }

    [Fact]
    public async Task ModbusTcp_PymodbusDirect_ReadsAndWritesEveryFunction()
    {
        var port = Loopback.FreeTcpPort();
        var script = Path.Combine(_dir.FullName, "server.py");
        await File.WriteAllTextAsync(script, PymodbusTcpServer);
        await using var server = ExternalProcess.Start("/usr/bin/python3", script, port.ToString(CultureInfo.InvariantCulture));
        await server.WaitForLineAsync("READY", Bound);
        await using var link = Link(new IPEndPoint(IPAddress.Loopback, port));
        await UntilAsync(async () =>
        {
            try
            {
                await link.OpenAsync(CancellationToken.None);
                return true;
            }
            catch (Core.Transport.TransportFailureException)
            {
                return false;
            }
        });
        var master = new ModbusTcpMaster(new ModbusTcpOptions(), TimeProvider.System);

        var result = await master.ExecuteAsync(link, [
            new ReadHoldingRegisters(0, 10),
            new ReadInputRegisters(0, 10),
            new ReadCoils(0, 8),
            new ReadDiscreteInputs(0, 8),
            new WriteSingleRegister(20, 777),
            new WriteMultipleRegisters(21, [1, 2, 3]),
            new WriteSingleCoil(40, true),
            new WriteMultipleCoils(41, [true, false, true]),
            new ReadHoldingRegisters(20, 4),
            new ReadCoils(40, 4),
        ], CancellationToken.None).WaitAsync(Bound);

        Assert.True(result.IsSuccess, result.Detail);
        Assert.Equal(Enumerable.Range(100, 10).Select(v => (ushort)v), result.Commands[0].Registers);
        Assert.Equal(Enumerable.Range(200, 10).Select(v => (ushort)v), result.Commands[1].Registers);
        Assert.Equal(new[] { true, false, true, true, false, false, true, false }, result.Commands[2].Bits);
        Assert.Equal(new[] { false, true, true, false, true, false, false, true }, result.Commands[3].Bits);
        Assert.Equal(new ushort[] { 777, 1, 2, 3 }, result.Commands[8].Registers);
        Assert.Equal(new[] { true, true, false, true }, result.Commands[9].Bits);

        var illegal = await master.ExecuteAsync(link, [new ReadHoldingRegisters(95, 10)], CancellationToken.None).WaitAsync(Bound);
        Assert.Equal(OutcomeCode.ExceptionResponse, illegal.Code);
        Assert.Equal(ModbusExceptionCode.IllegalDataAddress, illegal.Commands[0].ModbusException());
    }

    [Fact]
    public async Task Reconnect_OutstationNotListeningYet_LinearDelaysThenConnectsAndQueuedPollServed()
    {
        var port = Loopback.FreeTcpPort();
        var endpoint = new IPEndPoint(IPAddress.Loopback, port);
        // A 5 s reply timeout: the first request meets a freshly started (JIT-compiling) simulator process.
        await using var channel = new PersistentChannel(Options(), () => Link(endpoint), RtuOverTcp(TimeSpan.FromSeconds(5)), HeartbeatRead, TimeProvider.System);
        await channel.StartAsync(CancellationToken.None);
        await UntilAsync(() => channel.Count(ChannelEventKind.ConnectFailed) >= 4, channel);

        var poll = channel.PollAsync([new ReadHoldingRegisters(0, 2)], CancellationToken.None);
        await using var outstation = ExternalProcess.StartSimulator("outstation", "--listen", $"tcp://127.0.0.1:{port}", "--unit", "1", "--holding", "0=5,6");
        var result = await poll.WaitAsync(Bound);

        Assert.True(result.Code == OutcomeCode.Success, $"{result.Code}: {result.Detail}\n{Describe(channel)}");
        Assert.Equal(new ushort[] { 5, 6 }, result.Protocol?.Commands[0].Registers);
        var failures = channel.Events.Where(e => e.Kind == ChannelEventKind.ConnectFailed).Select(e => e.At).ToList();
        var scheduled = channel.Events.Where(e => e.Kind == ChannelEventKind.ReconnectScheduled).Select(e => e.Detail.Split(' ')[0]).Take(4).ToList();
        // Seed 002 CMTR_LINEAR, Delay 0.2 s, Attempts 3, AttemptsExceededDelay 1 s.
        Assert.Equal(["200", "200", "1000", "1000"], scheduled);
        // The wall clock the events are stamped with and the timer's clock differ by a millisecond or two, so a
        // 1 s wait can measure 0.999 s: allow 20 ms (a retry without the back-off would come ~0 ms later).
        var slack = TimeSpan.FromMilliseconds(20);
        Assert.True(failures[1] - failures[0] >= 2 * Ms100 - slack && failures[3] - failures[2] >= 10 * Ms100 - slack, Describe(channel));
        Assert.Contains(channel.Events, e => e.Kind == ChannelEventKind.Connected);
    }

    /// <summary>
    /// One read straight to a freshly started simulator with a long timeout, so its JIT warm-up does not look like a
    /// silent drop to the channel's 1 s heartbeat (which would rightly lower the interval).
    /// </summary>
    private static async Task WarmUpAsync(IPEndPoint outstation)
    {
        await using var link = Link(outstation);
        await link.OpenAsync(CancellationToken.None).WaitAsync(Bound);
        var result = await RtuOverTcp(TimeSpan.FromSeconds(10)).ExecuteAsync(link, [new ReadHoldingRegisters(0, 1)], CancellationToken.None).WaitAsync(Bound);
        Assert.True(result.IsSuccess, result.Detail);
    }

    private static async Task<IPEndPoint> ListeningEndpointAsync(ExternalProcess outstation)
    {
        await outstation.WaitForLineAsync("READY unit", Bound);
        var line = outstation.Output.Split('\n').First(l => l.StartsWith("READY unit", StringComparison.Ordinal));
        return IPEndPoint.Parse(line[(line.IndexOf("tcp://", StringComparison.Ordinal) + 6)..].Trim());
    }

    private static async Task UntilAsync(Func<bool> condition, PersistentChannel channel)
    {
        var deadline = TimeProvider.System.GetTimestamp();
        while (!condition())
        {
            if (TimeProvider.System.GetElapsedTime(deadline) > Bound)
                Assert.Fail("condition not met within 30 s; events:\n" + Describe(channel));
            await Task.Delay(TimeSpan.FromMilliseconds(20), TimeProvider.System);
        }
    }

    private static async Task UntilAsync(Func<Task<bool>> condition)
    {
        var start = TimeProvider.System.GetTimestamp();
        while (!await condition())
        {
            Assert.True(TimeProvider.System.GetElapsedTime(start) < Bound, "condition not met within 30 s");
            await Task.Delay(TimeSpan.FromMilliseconds(50), TimeProvider.System);
        }
    }
}
