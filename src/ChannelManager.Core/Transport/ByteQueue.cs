using System.Threading.Tasks.Sources;

namespace ChannelManager.Core.Transport;

/// <summary>
/// A single-reader byte queue with an allocation-free wait: the receive side of <see cref="InMemoryTransport"/>.
/// <para>
/// Why not <c>Channel&lt;byte[]&gt;</c> plus a chunk reader (what it replaced, issue 9): a read that finds bytes
/// buffered returns them synchronously here without an async state machine, and a read that has to wait is
/// one pooled <see cref="IValueTaskSource{TResult}"/> the writer completes by copying straight into the reader's
/// buffer — no channel operation object, no second wake-up to take the chunk, no nested async methods. Writes
/// that arrive before the reader runs are coalesced into one read, as a real serial port's driver buffer would.
/// </para>
/// <para>
/// Continuations run asynchronously (<see cref="ManualResetValueTaskSourceCore{TResult}.RunContinuationsAsynchronously"/>):
/// the writer is arbitrary code (a modem's event loop, the AT engine holding its own lock) and must never run the
/// reader's code on its stack; the hand-off is queued to the thread pool's local queue.
/// </para>
/// </summary>
internal sealed class ByteQueue : IValueTaskSource<int>
{
    private readonly Lock _gate = new();
    private readonly Action? _onEnd;
    private ManualResetValueTaskSourceCore<int> _core = new() { RunContinuationsAsynchronously = true };
    private byte[] _buffer = [];
    private int _start;
    private int _count;
    private bool _completed;
    private Exception? _error;
    private bool _waiting;
    private Memory<byte> _destination;
    private CancellationToken _waitToken;
    private CancellationTokenRegistration _registration;

    /// <param name="onEnd">
    /// Called on the reader's side whenever a read is about to return 0 (end of stream); it may throw instead (the
    /// transport's "severed"/"not open" checks), exactly as if the reader had checked after its read.
    /// </param>
    public ByteQueue(Action? onEnd = null) => _onEnd = onEnd;

    /// <summary>Bytes buffered and not yet read.</summary>
    public int Buffered
    {
        get
        {
            lock (_gate)
            {
                return _count;
            }
        }
    }

    /// <summary>True once <see cref="Complete"/> was called (buffered bytes may remain).</summary>
    public bool IsCompleted
    {
        get
        {
            lock (_gate)
            {
                return _completed;
            }
        }
    }

    /// <summary>
    /// Copies at least one byte into <paramref name="destination"/>, waiting if none is buffered; 0 at the end of the
    /// stream (after <see cref="Complete"/> and once drained). One read at a time.
    /// </summary>
    public ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        if (destination.IsEmpty)
        {
            return new ValueTask<int>(0);
        }

        short version;
        lock (_gate)
        {
            if (_waiting)
            {
                throw new InvalidOperationException("Only one read may be pending on an in-memory transport.");
            }

            // Cancellation first, as the channel this replaced did: a read whose deadline has passed fails even if
            // bytes arrived at the same instant.
            if (cancellationToken.IsCancellationRequested)
            {
                return ValueTask.FromCanceled<int>(cancellationToken);
            }

            if (_count > 0)
            {
                return new ValueTask<int>(TakeLocked(destination.Span));
            }

            if (_completed)
            {
                if (_error is { } error)
                {
                    return ValueTask.FromException<int>(error);
                }

                _onEnd?.Invoke();
                return new ValueTask<int>(0);
            }

            _core.Reset();
            version = _core.Version;
            _waiting = true;
            _destination = destination;
            _waitToken = cancellationToken;
        }

        if (cancellationToken.CanBeCanceled)
        {
            // Registered outside the lock: the callback may run inline here if the token was cancelled meanwhile,
            // and it takes the lock. The registration is released by GetResult on the reader's side.
            _registration = cancellationToken.UnsafeRegister(static (state, token) => ((ByteQueue)state!).CancelWait(token), this);
        }

        return new ValueTask<int>(this, version);
    }

    /// <summary>
    /// Appends bytes (copied: the caller may reuse its buffer). Lost if the stream was completed, as on a dead line.
    /// A waiting reader gets them straight into its buffer and is woken through the thread pool, never on the
    /// writer's stack: an inline wake lets arbitrary continuations run under the writer (issue 9: a
    /// WebApplicationFactory's synchronous Host.Dispose ran that way inside a simulated modem's turn and deadlocked).
    /// </summary>
    public void Write(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        int delivered;
        lock (_gate)
        {
            if (_completed)
            {
                return;
            }

            if (!_waiting)
            {
                AppendLocked(data);
                return;
            }

            // A reader is waiting: hand it the bytes directly and keep the rest.
            delivered = Math.Min(data.Length, _destination.Length);
            data[..delivered].CopyTo(_destination.Span);
            AppendLocked(data[delivered..]);
            _waiting = false;
            _destination = default;
        }

        _core.SetResult(delivered);
    }

    /// <summary>Ends the stream: the reader drains what is buffered, then reads 0 (or gets <paramref name="error"/>, at once).</summary>
    public void Complete(Exception? error = null)
    {
        lock (_gate)
        {
            if (_completed)
            {
                return;
            }

            _completed = true;
            _error = error;
            if (!_waiting || (error is null && _count > 0))
            {
                return;
            }

            _waiting = false;
            _destination = default;
        }

        if (error is not null)
        {
            _core.SetException(error);
        }
        else
        {
            _core.SetResult(0);
        }
    }

    int IValueTaskSource<int>.GetResult(short token)
    {
        var registration = _registration;
        _registration = default;
        registration.Unregister();
        var n = _core.GetResult(token);
        if (n == 0)
        {
            _onEnd?.Invoke();
        }

        return n;
    }

    ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    private void CancelWait(CancellationToken token)
    {
        lock (_gate)
        {
            if (!_waiting || _waitToken != token)
            {
                return;
            }

            _waiting = false;
            _destination = default;
        }

        _core.SetException(new OperationCanceledException(token));
    }

    private int TakeLocked(Span<byte> destination)
    {
        var n = Math.Min(destination.Length, _count);
        _buffer.AsSpan(_start, n).CopyTo(destination);
        _start += n;
        _count -= n;
        if (_count == 0)
        {
            _start = 0;
        }

        return n;
    }

    private void AppendLocked(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        if (_start + _count + data.Length > _buffer.Length)
        {
            if (_count + data.Length <= _buffer.Length)
            {
                _buffer.AsSpan(_start, _count).CopyTo(_buffer);
            }
            else
            {
                var grown = new byte[Math.Max(256, (int)Math.Min(Array.MaxLength, 2L * (_count + data.Length)))];
                _buffer.AsSpan(_start, _count).CopyTo(grown);
                _buffer = grown;
            }

            _start = 0;
        }

        data.CopyTo(_buffer.AsSpan(_start + _count));
        _count += data.Length;
    }
}
