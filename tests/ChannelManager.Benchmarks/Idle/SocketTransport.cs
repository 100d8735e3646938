using System.Net.Sockets;
using ChannelManager.Core.Transport;

namespace ChannelManager.Benchmarks.Idle;

/// <summary>The simulated modem's end of an accepted TCP connection (what a serial server's port is to its modem).</summary>
internal sealed class SocketTransport(Socket socket) : IChannelTransport
{
    private readonly NetworkStream _stream = new(socket, ownsSocket: true);

    public string Endpoint { get; } = socket.RemoteEndPoint?.ToString() ?? "tcp";

    public bool IsOpen => socket.Connected;

    public IModemControlLines? ControlLines => null;

    public Task OpenAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task CloseAsync(CancellationToken cancellationToken) => _stream.DisposeAsync().AsTask();

    public async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        try
        {
            return await _stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            return 0;
        }
    }

    public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        try
        {
            await _stream.WriteAsync(data, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            throw new TransportFailureException(TransportFault.LinkFailed, Endpoint, ex.Message, ex);
        }
    }

    public ValueTask DisposeAsync() => _stream.DisposeAsync();
}
