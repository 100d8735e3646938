using System.Text;
using ChannelManager.Core.Transport;
using ChannelManager.IntegrationTests.Support;
using ChannelManager.Transport.Serial;
using ChannelManager.Transport.Tcp;

namespace ChannelManager.IntegrationTests.HardwareSim;

/// <summary>
/// The simulator as its own process (`channelmanager-sim modem …`), talked to with raw AT through the
/// real adapters: over a socat pty pair with SerialChannelTransport, and over TCP with TcpChannelTransport.
/// </summary>
public sealed class SimulatedModemProcessTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    // S12 = 10 → 0.2 s escape guard time, so the real-time test stays short.
    private const string Scenario = """
        {
          "modems": [ { "name": "M1", "sRegisters": { "12": 10 } }, { "name": "BROKEN", "fault": "ErrorToEverything" } ],
          "lines": [
            { "number": "01632960001", "behaviour": "Answer", "delay": "00:00:00.300", "callee": "echo" },
            { "number": "01632960002", "behaviour": "Busy" }
          ]
        }
        """;

    private readonly string _dir = Directory.CreateTempSubdirectory("cm-sim-").FullName;

    [Fact]
    public async Task ModemOnPty_RawAtThroughSerialAdapter_OkBusyConnectEchoEscapeHangUp()
    {
        await using var pty = await SocatPtyPair.StartAsync();
        await using var sim = ExternalProcess.StartSimulator("modem", "--port", pty.A, "--scenario", WriteScenario(Scenario));
        await sim.WaitForLineAsync("READY", Bound);
        await using var port = new SerialChannelTransport(new SerialTransportOptions { PortName = pty.B, BaudRate = 19200 }, TimeProvider.System);
        await port.OpenAsync(CancellationToken.None).WaitAsync(Bound);

        await ConverseAsync(port);
    }

    [Fact]
    public async Task ModemOnTcp_RawAtThroughTcpAdapter_SameConversationAndSecondModemSelectable()
    {
        await using var sim = ExternalProcess.StartSimulator("modem", "--listen", "tcp://127.0.0.1:0", "--scenario", WriteScenario(Scenario));
        var port = await ListeningPortAsync(sim);
        await using (var link = Tcp(port))
        {
            await link.OpenAsync(CancellationToken.None).WaitAsync(Bound);
            await ConverseAsync(link);
        }

        await using var broken = ExternalProcess.StartSimulator("modem", "--listen", "tcp://127.0.0.1:0", "--scenario", WriteScenario(Scenario), "--modem", "BROKEN");
        await using var brokenLink = Tcp(await ListeningPortAsync(broken));
        await brokenLink.OpenAsync(CancellationToken.None).WaitAsync(Bound);
        await brokenLink.WriteAsync("AT\r"u8.ToArray(), CancellationToken.None);
        Assert.Equal("AT\r\r\nERROR\r\n", await ReadAsync(brokenLink, "AT\r\r\nERROR\r\n".Length));
    }

    [Fact]
    public async Task ModemProcess_BadScenario_ExitsWithErrorNamingField()
    {
        var file = WriteScenario("""{ "modems": [ { "name": "M1", "fault": "Wobbly" } ] }""");
        await using var sim = ExternalProcess.StartSimulator("modem", "--listen", "tcp://127.0.0.1:0", "--scenario", file);
        Assert.Equal(2, await sim.WaitForExitAsync(Bound));
        Assert.Contains("$.modems[0].fault", sim.Output, StringComparison.Ordinal);
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

    private static async Task ConverseAsync(IChannelTransport port)
    {
        await SendExpectAsync(port, "ATE0V1\r", "ATE0V1\r\r\nOK\r\n");
        await SendExpectAsync(port, "ATD01632960002\r", "\r\nBUSY\r\n");
        await SendExpectAsync(port, "ATD01632960001\r", "\r\nCONNECT 33600\r\n");
        await SendExpectAsync(port, "ping\x01\x03", "ping\x01\x03");

        // +++ with 0.2 s guard time before and after: back to command state, the call stays up.
        await Task.Delay(TimeSpan.FromMilliseconds(500), TimeProvider.System);
        await SendExpectAsync(port, "+++", "\r\nOK\r\n");
        await SendExpectAsync(port, "ATH\r", "\r\nOK\r\n");
        await SendExpectAsync(port, "AT\r", "\r\nOK\r\n");
    }

    private static async Task SendExpectAsync(IChannelTransport port, string send, string expected)
    {
        await port.WriteAsync(Encoding.Latin1.GetBytes(send), CancellationToken.None).AsTask().WaitAsync(Bound);
        var got = await ReadAsync(port, expected.Length);
        Assert.Equal(Show(expected), Show(got));
    }

    private static async Task<string> ReadAsync(IChannelTransport port, int count)
    {
        using var cts = new CancellationTokenSource(Bound);
        var got = new List<byte>();
        var buffer = new byte[256];
        try
        {
            while (got.Count < count)
            {
                var n = await port.ReadAsync(buffer, cts.Token);
                Assert.True(n > 0, "link closed");
                got.AddRange(buffer.AsSpan(0, n).ToArray());
            }
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"timed out after '{Show(Encoding.Latin1.GetString(got.ToArray()))}'");
        }

        return Encoding.Latin1.GetString(got.ToArray());
    }

    private static async Task<int> ListeningPortAsync(ExternalProcess sim)
    {
        await sim.WaitForLineAsync("READY tcp://", Bound);
        var line = sim.Output.Split('\n').First(l => l.StartsWith("READY tcp://", StringComparison.Ordinal));
        return int.Parse(line[(line.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static TcpChannelTransport Tcp(int port) =>
        new(new TcpTransportOptions { Host = "127.0.0.1", Port = port }, TimeProvider.System);

    private static string Show(string s) => s.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private string WriteScenario(string json)
    {
        var path = Path.Combine(_dir, $"scenario-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }
}
