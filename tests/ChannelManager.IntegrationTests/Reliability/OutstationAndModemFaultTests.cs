using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using ChannelManager.Core;
using ChannelManager.Core.Channels;
using ChannelManager.Core.Modems;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Scheduling;
using ChannelManager.Core.Transport;
using ChannelManager.IntegrationTests.Channels;
using ChannelManager.IntegrationTests.Support;
using ChannelManager.Persistence.Sqlite;
using ChannelManager.Transport.Serial;

namespace ChannelManager.IntegrationTests.Reliability;

/// <summary>
/// Issue 10 item 1, the faults session 1 did not yet prove end to end (docs/reliability.md): an outstation replying
/// with bad CRCs, too slowly, or with binary garbage mid-call, and a modem that hangs and then recovers — all through
/// real parts: PollTransaction → ModemChannelManager → AT engine → serial adapter → socat pty →
/// <c>channelmanager-sim modem</c> process → TCP bridge → outstation processes (or a raw TCP noise source), with the
/// ledger in a SQLite file. Each fault asserts the outcome code, its attribution in the Channel Manager's counters,
/// that the ledger counts exactly the calls the simulator's exchange logged (its <c>calls</c> command), and that the
/// modem serves the next call.
/// </summary>
public sealed class OutstationAndModemFaultTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("cm-rel-faults-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public async Task PollTransaction_BadCrcSlowGarbageOutstationsAndHungModemThroughPty_TypedOutcomesRightAttributionLedgerMatchesExchange()
    {
        await using var healthy = ExternalProcess.StartSimulator("outstation", "--listen", "tcp://127.0.0.1:0", "--unit", "1", "--holding", "0=11,22");
        await using var badCrc = ExternalProcess.StartSimulator("outstation", "--listen", "tcp://127.0.0.1:0", "--unit", "1", "--holding", "0=11,22", "--fault", "badcrc");
        await using var slow = ExternalProcess.StartSimulator("outstation", "--listen", "tcp://127.0.0.1:0", "--unit", "1", "--holding", "0=11,22", "--fault", "slow:2500");
        using var noise = new NoiseOutstation();
        var scenario = Path.Combine(_dir.FullName, "scenario.json");
        await File.WriteAllTextAsync(scenario, $$"""
            {
              "modems": [ { "name": "M1", "sRegisters": { "12": 10 } } ],
              "lines": [
                { "number": "01632960301", "behaviour": "Answer", "delay": "00:00:00.200", "callee": "{{await EndpointAsync(healthy)}}" },
                { "number": "01632960302", "behaviour": "Answer", "delay": "00:00:00.200", "callee": "{{await EndpointAsync(badCrc)}}" },
                { "number": "01632960303", "behaviour": "Answer", "delay": "00:00:00.200", "callee": "{{await EndpointAsync(slow)}}" },
                { "number": "01632960304", "behaviour": "Answer", "delay": "00:00:00.200", "callee": "{{noise.Endpoint}}" }
              ]
            }
            """);
        await using var pty = await SocatPtyPair.StartAsync();
        await using var sim = ExternalProcess.StartSimulator("modem", "--port", pty.B, "--scenario", scenario, "--baud", "19200");
        await sim.WaitForLineAsync("READY", Bound);

        var time = TimeProvider.System;
        var port = new SerialChannelTransport(new SerialTransportOptions { PortName = pty.A, BaudRate = 19200 }, time);
        var modem = new AtModem(port, ownsTransport: true, SimulatedBank.AtOptions("M1"), time);
        await using var channels = new ModemChannelManager([(modem, ModemRole.Default)], SimulatedBank.Options(TimeSpan.FromSeconds(5)), time);
        await using var store = await SqliteStateStore.OpenAsync(new SqliteStateStoreOptions { Path = Path.Combine(_dir.FullName, "state.db") }, CancellationToken.None);
        var book = new RepeatCallBook(CountryProfiles.UK, store);
        var transaction = new PollTransaction(channels, book, time);
        var master = new ModbusRtuMaster(new ModbusRtuOptions
        {
            UnitId = 1, BaudRate = 19200, Parity = SerialParity.None, ResponseTimeout = TimeSpan.FromMilliseconds(800), TimeoutRetries = 1,
        }, time);
        Task<PollOutcome> PollAsync(string outstation, string number) =>
            transaction.RunAsync(new PollRequest(outstation, number, master, [new ReadHoldingRegisters(0, 2)]), CancellationToken.None).WaitAsync(Bound);

        // Bad CRC: the frame arrives and fails its check — MalformedFrame, the outstation's (seed 004 row 3).
        var crc = await PollAsync("RTU-CRC", "01632960302");
        Assert.Equal(OutcomeCode.MalformedFrame, crc.Code);
        Assert.Contains("CRC", crc.Reply, StringComparison.OrdinalIgnoreCase);

        // Slow: 2.5 s against an 0.8 s response timeout, retried once by the driver — CommandTimeout, the outstation's.
        var slowPoll = await PollAsync("RTU-SLOW", "01632960303");
        Assert.Equal(OutcomeCode.CommandTimeout, slowPoll.Code);
        Assert.Equal(2, slowPoll.Protocol?.TotalAttempts);

        // Binary garbage mid-call: noise instead of a reply — MalformedFrame, the outstation's.
        var garbage = await PollAsync("RTU-NOISE", "01632960304");
        Assert.Equal(OutcomeCode.MalformedFrame, garbage.Code);
        Assert.True(noise.BytesSent > 0);

        // None of these is the modem's fault: it is idle, unfaulted, with no error counted.
        var m1 = Assert.Single(channels.Modems);
        Assert.Equal(0, m1.Statistics.Errors);
        Assert.False(m1.Faulted);
        Assert.Equal(1, channels.Outstations["RTU-CRC"].Errors);
        Assert.Equal(1, channels.Outstations["RTU-SLOW"].Errors);
        Assert.Equal(1, channels.Outstations["RTU-NOISE"].Errors);

        // Modem hung: it answers nothing, so set-up fails and the only modem is passed over — counted against the
        // modem, never the outstation, and no dial reaches the line.
        await sim.WriteLineAsync("fault M1 Hung");
        await sim.WaitForLineAsync("OK fault M1", Bound);
        var hung = await PollAsync("RTU-OK", "01632960301");
        Assert.Equal(OutcomeCode.NoModemAvailable, hung.Code);
        Assert.Equal(OutcomeCode.ModemNotResponding, Assert.Single(hung.ModemsTried).Code);
        m1 = Assert.Single(channels.Modems);
        Assert.True(m1.Faulted);
        Assert.Equal(1, m1.Statistics.Errors);
        Assert.False(channels.Outstations.TryGetValue("RTU-OK", out var rtuOk) && rtuOk.Errors > 0);

        // Recovered: the health check puts it back in service and the next poll succeeds on it.
        await sim.WriteLineAsync("fault M1 None");
        await sim.WaitForLineAsync("OK fault M1 None", Bound);
        await SimulatedBank.CheckUntilAsync(channels, () => channels.Modems[0] is { Faulted: false, Availability: ModemAvailability.Idle }, Bound);
        var ok = await PollAsync("RTU-OK", "01632960301");
        Assert.True(ok.IsSuccess, $"{ok.Code}: {ok.Reply}");
        Assert.Equal([(ushort)11, 22], ok.Protocol?.Commands[0].Registers);
        Assert.Equal("M1", ok.Modem);

        // The ledger (on disk) counts exactly the dials the exchange saw reach each line; the hung attempt is not one.
        var calls = await CallLogAsync(sim);
        var ledgers = (await store.LoadLedgersAsync(CancellationToken.None)).ToDictionary(l => l.Number);
        foreach (var number in new[] { "01632960301", "01632960302", "01632960303", "01632960304" })
        {
            var reached = calls.Count(c => c.Number == number && c.Result is not ("NoDialTone" or "Blacklisted" or "Delayed"));
            Assert.Equal(1, reached);
            Assert.Equal(reached, ledgers[number].Recent.Count(r => r.Counted));
            Assert.Null(ledgers[number].InProgress);
        }

        Assert.Equal(2, ledgers["01632960301"].Recent.Length);   // the hung attempt is recorded, not counted
        Assert.All(calls, c => Assert.NotNull(c.EndedAt));        // every call is on-hook
    }

    private static async Task<string> EndpointAsync(ExternalProcess outstation)
    {
        await outstation.WaitForLineAsync("READY unit", Bound);
        var line = outstation.Output.Split('\n').First(l => l.StartsWith("READY unit", StringComparison.Ordinal));
        return line[line.IndexOf("tcp://", StringComparison.Ordinal)..].Trim();
    }

    /// <summary>The simulator process's call log: one "CALL {json}" line per dial, then "OK calls N".</summary>
    internal static async Task<IReadOnlyList<SimCall>> CallLogAsync(ExternalProcess sim)
    {
        var before = sim.Output.Length;
        await sim.WriteLineAsync("calls");
        await sim.WaitForLineAsync("OK calls", Bound);
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        return [.. sim.Output[before..].Split('\n')
            .Where(l => l.StartsWith("CALL ", StringComparison.Ordinal))
            .Select(l => JsonSerializer.Deserialize<SimCall>(l["CALL ".Length..], options) ?? throw new InvalidOperationException(l))];
    }

    internal sealed record SimCall(DateTimeOffset At, string ModemName, string Number, string Result, DateTimeOffset? ConnectedAt, DateTimeOffset? EndedAt);

    /// <summary>
    /// An "outstation" that answers every request with the same 48 bytes of binary noise (fixed seed, so the run is
    /// repeatable): what a wrong-baud RTU or a noisy line delivers after CONNECT.
    /// </summary>
    private sealed class NoiseOutstation : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private long _sent;

        public NoiseOutstation()
        {
            _listener.Start();
            _ = ServeAsync(_stop.Token);
        }

        public string Endpoint => string.Create(CultureInfo.InvariantCulture, $"tcp://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");

        public long BytesSent => Interlocked.Read(ref _sent);

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
            _stop.Dispose();
        }

        private async Task ServeAsync(CancellationToken ct)
        {
            var noise = new byte[48];
            new Random(20261123).NextBytes(noise);
            try
            {
                while (!ct.IsCancellationRequested)
                {
                    using var client = await _listener.AcceptTcpClientAsync(ct);
                    var stream = client.GetStream();
                    var buffer = new byte[256];
                    while (await stream.ReadAsync(buffer, ct) > 0)
                    {
                        await stream.WriteAsync(noise, ct);
                        Interlocked.Add(ref _sent, noise.Length);
                    }
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
            {
                // Stopped, or the bridge hung up: nothing to serve any more.
            }
        }
    }
}
