using System.Net.Sockets;
using ChannelManager.Core.Transport;

namespace ChannelManager.HardwareSim.Outstations;

/// <summary>
/// The server side of one accepted TCP connection as an <see cref="IChannelTransport"/>, so the
/// outstation serves RTU over TCP exactly as it serves a pty (TcpChannelTransport is the client side).
/// </summary>
internal sealed class AcceptedTcpTransport(Socket socket) : IChannelTransport
{
    private readonly NetworkStream _stream = new(socket, ownsSocket: true);

    public string Endpoint { get; } = $"tcp://{socket.RemoteEndPoint}";

    public bool IsOpen => socket.Connected;

    public IModemControlLines? ControlLines => null;

    public Task OpenAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task CloseAsync(CancellationToken cancellationToken)
    {
        _stream.Dispose();
        return Task.CompletedTask;
    }

    public async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        try
        {
            return await _stream.ReadAsync(buffer, cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            throw new TransportFailureException(TransportFault.LinkFailed, Endpoint, $"read failed: {ex.Message}", ex);
        }
    }

    public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        try
        {
            await _stream.WriteAsync(data, cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            throw new TransportFailureException(TransportFault.LinkFailed, Endpoint, $"write failed: {ex.Message}", ex);
        }
    }

    public ValueTask DisposeAsync()
    {
        _stream.Dispose();
        return ValueTask.CompletedTask;
    }
}
