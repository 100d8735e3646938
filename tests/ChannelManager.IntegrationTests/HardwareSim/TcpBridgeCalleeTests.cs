using System.Net;
using System.Net.Sockets;
using System.Text;
using ChannelManager.HardwareSim.Exchange;
using ChannelManager.HardwareSim.Modems;

namespace ChannelManager.IntegrationTests.HardwareSim;

/// <summary>Data mode bridged from an in-process simulated modem to a real TCP server.</summary>
public sealed class TcpBridgeCalleeTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Answer_TcpCallee_DataReachesServerAndServerCloseIsNoCarrier()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        // The "outstation": uppercases one request, then hangs up.
        var server = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync();
            var stream = client.GetStream();
            var buffer = new byte[64];
            var n = await stream.ReadAsync(buffer);
            var reply = Encoding.ASCII.GetBytes(Encoding.ASCII.GetString(buffer, 0, n).ToUpperInvariant());
            await stream.WriteAsync(reply);
        });

        var exchange = new PstnExchange(TimeProvider.System);
        var scenario = ModemScenario.Parse($$"""
            { "modems": [ { "name": "M1", "echo": false } ],
              "lines": [ { "number": "7", "behaviour": "Answer", "callee": "tcp://127.0.0.1:{{port}}" } ] }
            """);
        scenario.ConfigureExchange(exchange);
        using var stop = new CancellationTokenSource();
        var (modem, host) = SimulatedModemBank.StartInProcess(scenario.Modems, exchange, TimeProvider.System, stop.Token)[0];
        try
        {
            await host.WriteAsync("ATD7\r"u8.ToArray(), CancellationToken.None);
            Assert.Equal("\r\nCONNECT 33600\r\n", await ReadAsync(host, 17));
            await host.WriteAsync("poll"u8.ToArray(), CancellationToken.None);
            Assert.Equal("POLL\r\nNO CARRIER\r\n", await ReadAsync(host, 18));
            await server.WaitAsync(Bound);
            Assert.Equal(CallResult.Connected, Assert.Single(exchange.CallLog).Result);
        }
        finally
        {
            await stop.CancelAsync();
            await modem.Completion!.WaitAsync(Bound); // set by StartInProcess
        }
    }

    private static async Task<string> ReadAsync(ChannelManager.Core.Transport.IChannelTransport port, int count)
    {
        using var cts = new CancellationTokenSource(Bound);
        var got = new List<byte>();
        var buffer = new byte[256];
        while (got.Count < count)
        {
            var n = await port.ReadAsync(buffer, cts.Token);
            Assert.True(n > 0, "link closed");
            got.AddRange(buffer.AsSpan(0, n).ToArray());
        }

        return Encoding.ASCII.GetString(got.ToArray());
    }
}
