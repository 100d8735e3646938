using System.Text;
using ChannelManager.Core.Transport;
using ChannelManager.IntegrationTests.Support;
using ChannelManager.Transport.Serial;
using ChannelManager.Transport.Tcp;

namespace ChannelManager.IntegrationTests.Transport;

/// <summary>The two adapters through real parts: a socat pty pair, and ser2net exporting a pty as raw TCP.</summary>
public sealed class SerialAndTcpTransportTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task SerialTransport_PtyPair_CarriesBytesBothWays()
    {
        await using var pty = await SocatPtyPair.StartAsync();
        await using var a = Serial(pty.A);
        await using var b = Serial(pty.B);
        await a.OpenAsync(CancellationToken.None);
        await b.OpenAsync(CancellationToken.None);

        await a.WriteAsync("ATZ\r"u8.ToArray(), CancellationToken.None);
        Assert.Equal("ATZ\r", await ReadTextAsync(b, 4));
        await b.WriteAsync("\r\nOK\r\n"u8.ToArray(), CancellationToken.None);
        Assert.Equal("\r\nOK\r\n", await ReadTextAsync(a, 6));
    }

    [Fact]
    public async Task SerialTransport_Pty_HasNoControlLines()
    {
        await using var pty = await SocatPtyPair.StartAsync();
        await using var a = Serial(pty.A);
        await a.OpenAsync(CancellationToken.None);
        // design.md §7: a pty has no modem-control lines; the adapter reports none instead of throwing later.
        Assert.Null(a.ControlLines);
        Assert.True(a.IsOpen);
    }

    [Fact]
    public async Task SerialTransport_ReadWithToken_IsCancelledDespiteNoReadTimeout()
    {
        await using var pty = await SocatPtyPair.StartAsync();
        await using var a = Serial(pty.A);
        await a.OpenAsync(CancellationToken.None);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await a.ReadAsync(new byte[8], cts.Token).AsTask().WaitAsync(Bound));
    }

    [Fact]
    public async Task SerialTransport_Unplugged_ReadWriteAndCloseFailTypedAndBounded()
    {
        await using var pty = await SocatPtyPair.StartAsync();
        await using var a = Serial(pty.A, writeTimeout: TimeSpan.FromMilliseconds(500), closeTimeout: TimeSpan.FromMilliseconds(500));
        await a.OpenAsync(CancellationToken.None);
        var pendingRead = a.ReadAsync(new byte[8], CancellationToken.None).AsTask();

        pty.Unplug();

        // Read: the pty hang-up surfaces as a typed transport failure (or end of stream), never a hang.
        try
        {
            var n = await pendingRead.WaitAsync(Bound);
            Assert.Equal(0, n);
        }
        catch (TransportFailureException ex)
        {
            Assert.Equal(TransportFault.LinkFailed, ex.Fault);
        }

        // Write after link loss blocks inside System.IO.Ports; the adapter bounds it.
        var write = await Assert.ThrowsAsync<TransportFailureException>(async () => await a.WriteAsync("AT\r"u8.ToArray(), CancellationToken.None).AsTask().WaitAsync(Bound));
        Assert.Equal(TransportFault.LinkFailed, write.Fault);
        Assert.False(a.IsOpen);
        await a.CloseAsync(CancellationToken.None).WaitAsync(Bound);
    }

    [Fact]
    public async Task SerialTransport_MissingDevice_OpenFailsTyped()
    {
        await using var a = Serial("/tmp/cm-no-such-device-" + Guid.NewGuid().ToString("N"));
        var ex = await Assert.ThrowsAsync<TransportFailureException>(() => a.OpenAsync(CancellationToken.None).WaitAsync(Bound));
        Assert.Equal(TransportFault.OpenFailed, ex.Fault);
        Assert.Contains("cm-no-such-device", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TcpTransport_ThroughSer2Net_CarriesBytesToThePty()
    {
        await using var pty = await SocatPtyPair.StartAsync();
        await using var ser2net = await Ser2NetServer.StartAsync(pty.A);
        await using var modemSide = Serial(pty.B);
        await modemSide.OpenAsync(CancellationToken.None);
        await using var tcp = new TcpChannelTransport(TcpTransportOptions.Parse(ser2net.Endpoint), TimeProvider.System);
        await tcp.OpenAsync(CancellationToken.None);

        await tcp.WriteAsync("ATI\r"u8.ToArray(), CancellationToken.None);
        Assert.Equal("ATI\r", await ReadTextAsync(modemSide, 4));
        await modemSide.WriteAsync("\r\nOK\r\n"u8.ToArray(), CancellationToken.None);
        Assert.Equal("\r\nOK\r\n", await ReadTextAsync(tcp, 6));
    }

    [Fact]
    public async Task TcpTransport_Ser2NetDropsSession_ReadEndsOrFailsTyped()
    {
        await using var pty = await SocatPtyPair.StartAsync();
        await using var ser2net = await Ser2NetServer.StartAsync(pty.A);
        await using var tcp = new TcpChannelTransport(TcpTransportOptions.Parse(ser2net.Endpoint), TimeProvider.System);
        await tcp.OpenAsync(CancellationToken.None);
        var pendingRead = tcp.ReadAsync(new byte[8], CancellationToken.None).AsTask();

        var admin = await ser2net.DisconnectClientAsync();
        Assert.DoesNotContain("error", admin, StringComparison.OrdinalIgnoreCase);

        try
        {
            Assert.Equal(0, await pendingRead.WaitAsync(Bound));
        }
        catch (TransportFailureException ex)
        {
            Assert.Equal(TransportFault.LinkFailed, ex.Fault);
        }
    }

    [Fact]
    public async Task TcpTransport_NothingListening_OpenFailsTyped()
    {
        var port = Loopback.FreeTcpPort();
        await using var tcp = new TcpChannelTransport(TcpTransportOptions.Parse($"tcp://127.0.0.1:{port}"), TimeProvider.System);
        var ex = await Assert.ThrowsAsync<TransportFailureException>(() => tcp.OpenAsync(CancellationToken.None).WaitAsync(Bound));
        Assert.Equal(TransportFault.OpenFailed, ex.Fault);
    }

    [Theory]
    [InlineData("127.0.0.1:4001")]
    [InlineData("tcp://127.0.0.1")]
    [InlineData("udp://127.0.0.1:4001")]
    [InlineData("tcp://127.0.0.1:4001/path")]
    public void TcpTransportOptions_BadEndpoint_ErrorNamesIt(string endpoint)
    {
        var ex = Assert.Throws<FormatException>(() => TcpTransportOptions.Parse(endpoint));
        Assert.Contains(endpoint, ex.Message, StringComparison.Ordinal);
    }

    private static SerialChannelTransport Serial(string path, TimeSpan? writeTimeout = null, TimeSpan? closeTimeout = null) => new(
        new SerialTransportOptions
        {
            PortName = path,
            BaudRate = 19200,
            WriteTimeout = writeTimeout ?? TimeSpan.FromSeconds(2),
            CloseTimeout = closeTimeout ?? TimeSpan.FromSeconds(2),
        },
        TimeProvider.System);

    private static async Task<string> ReadTextAsync(IChannelTransport transport, int count)
    {
        using var cts = new CancellationTokenSource(Bound);
        var buffer = new byte[count];
        var got = 0;
        while (got < count)
        {
            var n = await transport.ReadAsync(buffer.AsMemory(got), cts.Token);
            Assert.NotEqual(0, n);
            got += n;
        }

        return Encoding.ASCII.GetString(buffer);
    }
}
