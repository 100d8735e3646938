using System.Net.Sockets;
using ChannelManager.Core.Transport;

namespace ChannelManager.HardwareSim.Modems;

/// <summary>
/// The simulator's own end of a TCP connection (process mode, <c>--listen</c>): a stream turned
/// into an <see cref="IChannelTransport"/>, with I/O faults as <see cref="TransportFailureException"/>.
/// </summary>
internal sealed class StreamChannelTransport(Stream stream, string endpoint) : IChannelTransport
{
    private volatile bool _open = true;

    public string Endpoint => endpoint;

    public bool IsOpen => _open;

    public IModemControlLines? ControlLines => null;

    public Task OpenAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task CloseAsync(CancellationToken cancellationToken)
    {
        _open = false;
        await stream.DisposeAsync();
    }

    public async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        try
        {
            return await stream.ReadAsync(buffer, cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            throw new TransportFailureException(TransportFault.LinkFailed, endpoint, ex.Message, ex);
        }
    }

    public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        try
        {
            await stream.WriteAsync(data, cancellationToken);
            await stream.FlushAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            throw new TransportFailureException(TransportFault.LinkFailed, endpoint, ex.Message, ex);
        }
    }

    public async ValueTask DisposeAsync() => await CloseAsync(CancellationToken.None);
}
