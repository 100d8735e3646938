using System.Net.Sockets;
using ChannelManager.Core.Transport;

namespace ChannelManager.Transport.Tcp;

/// <summary>
/// <see cref="IChannelTransport"/> to a modem behind a raw-TCP serial server (ser2net, Moxa). Such a
/// server carries no modem-control lines in raw mode (RFC 2217 would, and .NET has no client for it),
/// so carrier loss is seen in-band as <c>NO CARRIER</c> or as the connection closing.
/// </summary>
public sealed class TcpChannelTransport : IChannelTransport
{
    private readonly TcpTransportOptions _options;
    private readonly TimeProvider _time;
    private Socket? _socket;
    private NetworkStream? _stream;

    public TcpChannelTransport(TcpTransportOptions options, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _time = timeProvider;
    }

    public string Endpoint => _options.Endpoint;

    public bool IsOpen => _socket is { Connected: true };

    public IModemControlLines? ControlLines => null;

    public async Task OpenAsync(CancellationToken cancellationToken)
    {
        if (IsOpen)
        {
            return;
        }

        await CloseAsync(cancellationToken).ConfigureAwait(false);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (_options.KeepAlive)
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
        }

        using var timeout = new CancellationTokenSource(_options.ConnectTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            await socket.ConnectAsync(_options.Host, _options.Port, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw;
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or IOException)
        {
            socket.Dispose();
            var why = ex is OperationCanceledException ? $"no connection within {_options.ConnectTimeout}" : ex.Message;
            throw new TransportFailureException(TransportFault.OpenFailed, Endpoint, $"cannot connect: {why}", ex);
        }

        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    public async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var stream = _stream ?? throw NotOpen();
        try
        {
            return await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            throw new TransportFailureException(TransportFault.LinkFailed, Endpoint, $"read failed: {ex.Message}", ex);
        }
    }

    public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var stream = _stream ?? throw NotOpen();
        using var timeout = new CancellationTokenSource(_options.WriteTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            await stream.WriteAsync(data, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            throw new TransportFailureException(TransportFault.LinkFailed, Endpoint, $"write failed: {ex.Message}", ex);
        }
    }

    public Task CloseAsync(CancellationToken cancellationToken)
    {
        var stream = _stream;
        _stream = null;
        _socket = null;
        stream?.Dispose();
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync() => await CloseAsync(CancellationToken.None).ConfigureAwait(false);

    private TransportFailureException NotOpen() => new(TransportFault.NotOpen, Endpoint, "TCP connection is not open");
}
