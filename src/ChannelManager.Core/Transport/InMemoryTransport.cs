namespace ChannelManager.Core.Transport;

/// <summary>
/// One end of an in-process duplex byte pipe: the fast stand-in for a serial port or TCP socket in
/// unit tests and the demo (the simulated modem holds the other end). Bytes written on one end are
/// read on the other in order; closing an end makes the peer read 0 once it has drained.
/// Receiving is a <see cref="ByteQueue"/>: a read with bytes buffered completes synchronously, a waiting read is
/// woken by one pooled hand-off, and writes made before the reader runs arrive as one read (issue 9).
/// </summary>
public sealed class InMemoryTransport : IChannelTransport
{
    private readonly ByteQueue _inbound;
    private InMemoryTransport? _peer;
    private volatile bool _open;
    private volatile bool _severed;

    private InMemoryTransport(string endpoint)
    {
        Endpoint = endpoint;
        // At the end of the stream: a severed link throws, a closed end throws, a hung-up one reads 0.
        _inbound = new ByteQueue(EnsureUsable);
    }

    public string Endpoint { get; }

    public bool IsOpen => _open;

    /// <summary>When set, <see cref="OpenAsync"/> fails as a missing or busy port would.</summary>
    public bool FailOpen { get; set; }

    public IModemControlLines? ControlLines => null;

    /// <summary>Creates two connected ends, both open.</summary>
    public static (InMemoryTransport Left, InMemoryTransport Right) CreatePair(string leftEndpoint = "mem:left", string rightEndpoint = "mem:right")
    {
        var left = new InMemoryTransport(leftEndpoint) { _open = true };
        var right = new InMemoryTransport(rightEndpoint) { _open = true };
        left._peer = right;
        right._peer = left;
        return (left, right);
    }

    public Task OpenAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (FailOpen || _severed)
        {
            throw new TransportFailureException(TransportFault.OpenFailed, Endpoint, "simulated port cannot be opened");
        }

        _open = true;
        return Task.CompletedTask;
    }

    public Task CloseAsync(CancellationToken cancellationToken)
    {
        _open = false;
        return Task.CompletedTask;
    }

    public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        EnsureUsable();
        return _inbound.ReadAsync(buffer, cancellationToken);
    }

    public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        EnsureUsable();
        var peer = _peer ?? throw new InvalidOperationException("In-memory transport has no peer.");
        if (data.IsEmpty)
        {
            return ValueTask.CompletedTask;
        }

        // Copy: the caller may reuse its buffer as soon as the write returns, as with a real port.
        // If the peer has hung up the bytes are lost on the wire, as with a real line.
        peer._inbound.Write(data.Span);

        return ValueTask.CompletedTask;
    }

    /// <summary>Ends the link from this side: the peer reads 0 after draining what was sent.</summary>
    public void HangUpLink() => _peer?._inbound.Complete();

    /// <summary>Breaks the link both ways, as an unplugged cable or a TCP reset: further I/O on either end throws.</summary>
    public void Sever()
    {
        _severed = true;
        _inbound.Complete();
        if (_peer is { } peer)
        {
            peer._severed = true;
            peer._inbound.Complete();
        }
    }

    public ValueTask DisposeAsync()
    {
        _open = false;
        HangUpLink();
        return ValueTask.CompletedTask;
    }

    private void EnsureUsable()
    {
        if (_severed)
        {
            throw new TransportFailureException(TransportFault.LinkFailed, Endpoint, "link severed");
        }

        if (!_open)
        {
            throw new TransportFailureException(TransportFault.NotOpen, Endpoint, "transport is not open");
        }
    }
}
