using System.Threading.Channels;
using ChannelManager.Core.Transport;

namespace ChannelManager.Core.Modems;

/// <summary>
/// The data-state view of a modem link handed to the protocol driver after CONNECT (style.md §3.1: the
/// protocol sees only bytes and "lower layer down"). Reads return 0 once carrier is lost (in-band NO CARRIER,
/// CD drop where control lines exist, link closed) or the modem left data state; writes then fail with
/// <see cref="TransportFailureException"/>. Open/close/dispose do nothing: the modem owns the link and hangs up.
/// </summary>
internal sealed class ModemDataChannel : IChannelTransport
{
    private readonly IChannelTransport _inner;
    private readonly ChannelReader<byte[]> _reader;
    private readonly AtLinkPump _pump;
    private readonly TimeProvider _time;
    private readonly TimeSpan _pollInterval;
    private readonly ChunkQueueReader _chunks;
    private volatile bool _ended;

    internal ModemDataChannel(IChannelTransport inner, ChannelReader<byte[]> reader, AtLinkPump pump, TimeProvider time, TimeSpan pollInterval)
    {
        _inner = inner;
        _reader = reader;
        _chunks = new ChunkQueueReader(reader);
        _pump = pump;
        _time = time;
        _pollInterval = pollInterval;
    }

    public string Endpoint => _inner.Endpoint;

    /// <summary>True while data state lasts (or unread data remains).</summary>
    public bool IsOpen => !_reader.Completion.IsCompleted || _chunks.HasPending;

    public IModemControlLines? ControlLines => _inner.ControlLines;

    public Task OpenAsync(CancellationToken cancellationToken) => IsOpen
        ? Task.CompletedTask
        : throw new TransportFailureException(TransportFault.OpenFailed, Endpoint, "the data connection has ended; dial again");

    public Task CloseAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        _chunks.ReadAsync(buffer, WaitForDataAsync, cancellationToken);

    public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        // Checked before unread data is drained: once the modem is back in command state, bytes written
        // here would be parsed as AT commands.
        if (_ended)
        {
            throw new TransportFailureException(TransportFault.LinkFailed, Endpoint, "carrier lost: the modem is no longer in data state");
        }

        return _inner.WriteAsync(data, cancellationToken);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>Data state is over (carrier lost, escape, DTR drop, link closed).</summary>
    internal void MarkEnded() => _ended = true;

    private async ValueTask<bool> WaitForDataAsync(CancellationToken cancellationToken)
    {
        var lines = _inner.ControlLines;
        if (lines is null)
        {
            return await _reader.WaitToReadAsync(cancellationToken);
        }

        // A real port shows carrier loss on circuit 109 (DCD) even when the modem sends nothing in-band.
        while (true)
        {
            if (!CarrierPresent(lines))
            {
                _pump.CarrierDropped();
                return _reader.TryPeek(out _);
            }

            using var poll = new CancellationTokenSource(_pollInterval, _time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, poll.Token);
            try
            {
                return await _reader.WaitToReadAsync(linked.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // Poll interval elapsed: look at CD again.
            }
        }
    }

    private static bool CarrierPresent(IModemControlLines lines)
    {
        try
        {
            return lines.CarrierDetect;
        }
        catch (TransportFailureException)
        {
            return false;
        }
    }
}
