using System.Net;
using System.Net.Sockets;

namespace ChannelManager.IntegrationTests.Channels.Persistent;

/// <summary>A TCP echo server on 127.0.0.1 (any free port) standing in for an outstation behind the NAT simulator.</summary>
internal sealed class EchoServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Socket> _sockets = [];
    private readonly Task _loop;

    public EchoServer()
    {
        _listener.Start();
        _loop = AcceptAsync();
    }

    // ! : a started listener has a bound IPEndPoint.
    public IPEndPoint Endpoint => (IPEndPoint)_listener.LocalEndpoint!;

    public int BytesReceived { get; private set; }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        lock (_sockets)
        {
            foreach (var s in _sockets)
                s.Dispose();
        }

        await _loop.WaitAsync(TimeSpan.FromSeconds(5));
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var socket = await _listener.AcceptSocketAsync(_stop.Token);
                lock (_sockets)
                    _sockets.Add(socket);
                _ = EchoAsync(socket);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task EchoAsync(Socket socket)
    {
        var buffer = new byte[1024];
        try
        {
            while (true)
            {
                var n = await socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (n == 0)
                    return;
                BytesReceived += n;
                await socket.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, _stop.Token);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }
}
