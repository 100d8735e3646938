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
    private readonly ByteQueue _received;
    private readonly AtLinkPump _pump;
    private readonly TimeProvider _time;
    private readonly TimeSpan _pollInterval;
    private volatile bool _ended;

    /// <param name="received">
    /// The data bytes the reader loop passes through (it completes the queue when data state ends). A
    /// <see cref="ByteQueue"/>, not a channel of chunks: a read finds bytes already passed through synchronously,
    /// and a waiting read is woken by one pooled hand-off (issue 9).
    /// </param>
    internal ModemDataChannel(IChannelTransport inner, ByteQueue received, AtLinkPump pump, TimeProvider time, TimeSpan pollInterval)
    {
        _inner = inner;
        _received = received;
        _pump = pump;
        _time = time;
        _pollInterval = pollInterval;
    }

    public string Endpoint => _inner.Endpoint;

    /// <summary>True while data state lasts (or unread data remains).</summary>
    public bool IsOpen => !_received.IsCompleted || _received.Buffered > 0;

    public IModemControlLines? ControlLines => _inner.ControlLines;

    public Task OpenAsync(CancellationToken cancellationToken) => IsOpen
        ? Task.CompletedTask
        : throw new TransportFailureException(TransportFault.OpenFailed, Endpoint, "the data connection has ended; dial again");

    public Task CloseAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        _inner.ControlLines is { } lines ? ReadWatchingCarrierAsync(lines, buffer, cancellationToken) : _received.ReadAsync(buffer, cancellationToken);

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

    private async ValueTask<int> ReadWatchingCarrierAsync(IModemControlLines lines, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        // A real port shows carrier loss on circuit 109 (DCD) even when the modem sends nothing in-band.
        while (true)
        {
            if (!CarrierPresent(lines))
            {
                // Ends data state, which completes the queue: what was passed through is still read, then 0.
                _pump.CarrierDropped();
                return await _received.ReadAsync(buffer, cancellationToken);
            }

            using var poll = new CancellationTokenSource(_pollInterval, _time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, poll.Token);
            try
            {
                return await _received.ReadAsync(buffer, linked.Token);
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
