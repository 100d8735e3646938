using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using ChannelManager.HardwareSim.Nat;
using ChannelManager.IntegrationTests.Support;
using Microsoft.Extensions.Time.Testing;

namespace ChannelManager.IntegrationTests.Channels.Persistent;

/// <summary>The NAT simulator (issue 7 item 4) with real sockets on 127.0.0.1; idle time on a virtual clock where it matters.</summary>
public sealed class NatProxyTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    /// <summary>How long "nothing arrives" is watched for (real time: the bytes would take well under a millisecond).</summary>
    private static readonly TimeSpan Silence = TimeSpan.FromMilliseconds(400);

    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    [Fact]
    public async Task Proxy_IdleBelowThenAtTimeout_ForwardsThenDropsSilentlyWithoutFinOrRst()
    {
        var time = new FakeTimeProvider();
        await using var echo = new EchoServer();
        await using var nat = NatProxy.Start(new IPEndPoint(IPAddress.Loopback, 0), echo.Endpoint, 13 * Minute, time);
        using var client = await ConnectAsync(nat);

        Assert.Equal("a", await RoundTripAsync(client, "a", Bound));
        time.Advance(12 * Minute);
        Assert.Equal("b", await RoundTripAsync(client, "b", Bound));
        time.Advance(13 * Minute);

        Assert.Null(await RoundTripAsync(client, "c", Silence));   // no echo, and the read neither ended (FIN) nor failed (RST)
        Assert.Equal(1, nat.SilentDrops);
        Assert.Equal(NatMappingState.SilentlyDropped, Assert.Single(nat.Mappings).State);
        Assert.Equal(2, echo.BytesReceived);   // "c" never reached the outstation
        time.Advance(Minute);
        Assert.Null(await RoundTripAsync(client, "d", Silence));   // a forgotten mapping stays forgotten
    }

    [Fact]
    public async Task IdleTimeout_ChangedWhileRunning_AppliesToLiveMappings()
    {
        var time = new FakeTimeProvider();
        await using var echo = new EchoServer();
        await using var nat = NatProxy.Start(new IPEndPoint(IPAddress.Loopback, 0), echo.Endpoint, 13 * Minute, time);
        using var client = await ConnectAsync(nat);
        Assert.Equal("a", await RoundTripAsync(client, "a", Bound));

        nat.IdleTimeout = 5 * Minute;
        time.Advance(6 * Minute);

        Assert.Null(await RoundTripAsync(client, "b", Silence));
        using var fresh = await ConnectAsync(nat);
        time.Advance(4 * Minute);
        Assert.Equal("c", await RoundTripAsync(fresh, "c", Bound));
    }

    [Fact]
    public async Task ResetAll_LiveConnection_ClientSeesTheConnectionEnd()
    {
        await using var echo = new EchoServer();
        await using var nat = NatProxy.Start(new IPEndPoint(IPAddress.Loopback, 0), echo.Endpoint, Minute, TimeProvider.System);
        using var client = await ConnectAsync(nat);
        Assert.Equal("a", await RoundTripAsync(client, "a", Bound));

        Assert.Equal(1, nat.ResetAll());

        var buffer = new byte[16];
        var ended = await Record.ExceptionAsync(async () =>
        {
            var n = await client.GetStream().ReadAsync(buffer).AsTask().WaitAsync(Bound);
            Assert.Equal(0, n);
        });
        Assert.True(ended is null or IOException, $"unexpected {ended}");
        Assert.Equal(NatMappingState.Closed, Assert.Single(nat.Mappings).State);
    }

    [Fact]
    public async Task Blackhole_OnThenOff_DiscardsThenForwardsAgain()
    {
        await using var echo = new EchoServer();
        await using var nat = NatProxy.Start(new IPEndPoint(IPAddress.Loopback, 0), echo.Endpoint, Minute, TimeProvider.System);
        using var client = await ConnectAsync(nat);

        nat.Blackholed = true;
        Assert.Null(await RoundTripAsync(client, "a", Silence));
        nat.Blackholed = false;

        Assert.Equal("b", await RoundTripAsync(client, "b", Bound));
        Assert.Equal(0, nat.SilentDrops);
    }

    [Fact]
    public async Task Proxy_OutstationNotListening_ClientConnectionReset()
    {
        var free = new TcpListener(IPAddress.Loopback, 0);
        free.Start();
        var deadEnd = (IPEndPoint)free.LocalEndpoint;
        free.Stop();
        await using var nat = NatProxy.Start(new IPEndPoint(IPAddress.Loopback, 0), deadEnd, Minute, TimeProvider.System);
        // The reset may already hit the connect's completion or the first read: either way the connection ends.
        var ended = await Record.ExceptionAsync(async () =>
        {
            using var client = await ConnectAsync(nat);
            var buffer = new byte[16];
            Assert.Equal(0, await client.GetStream().ReadAsync(buffer).AsTask().WaitAsync(Bound));
        });

        Assert.True(ended is null or IOException or SocketException, $"unexpected {ended}");
    }

    [Fact]
    public async Task NatVerb_Process_ReadyAndStdinCommandsChangeIdleAndReport()
    {
        await using var echo = new EchoServer();
        await using var sim = ExternalProcess.StartSimulator("nat", "--listen", "tcp://127.0.0.1:0", "--target", $"tcp://{echo.Endpoint}", "--idle", "30");
        await sim.WaitForLineAsync("READY nat on", Bound);
        var line = sim.Output.Split('\n').First(l => l.StartsWith("READY nat on", StringComparison.Ordinal));
        var endpoint = line.Split(' ')[3];
        var port = int.Parse(endpoint[(endpoint.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture);
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port).WaitAsync(Bound);
        Assert.Equal("a", await RoundTripAsync(client, "a", Bound));

        await sim.WriteLineAsync("idle 0.2");
        await sim.WaitForLineAsync("OK idle 0.2 s", Bound);
        await Task.Delay(TimeSpan.FromMilliseconds(400), TimeProvider.System);
        Assert.Null(await RoundTripAsync(client, "b", Silence));
        await sim.WriteLineAsync("status");
        await sim.WaitForLineAsync("silent drops 1", Bound);
        await sim.WriteLineAsync("bogus");
        await sim.WaitForLineAsync("ERROR unknown command", Bound);
        await sim.WriteLineAsync("quit");
        Assert.Equal(0, await sim.WaitForExitAsync(Bound));
    }

    private static async Task<TcpClient> ConnectAsync(NatProxy nat)
    {
        var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(nat.LocalEndpoint).WaitAsync(Bound);
        return client;
    }

    /// <summary>Sends <paramref name="text"/> and returns the echo, or null if nothing came back within <paramref name="wait"/> (the read is then still pending: no FIN, no RST).</summary>
    private static async Task<string?> RoundTripAsync(TcpClient client, string text, TimeSpan wait)
    {
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(text)).AsTask().WaitAsync(Bound);
        var buffer = new byte[64];
        using var cts = new CancellationTokenSource(wait);
        try
        {
            var n = await stream.ReadAsync(buffer, cts.Token);
            Assert.True(n > 0, "the NAT closed the connection (FIN) instead of dropping it silently");
            return Encoding.ASCII.GetString(buffer, 0, n);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }
}
