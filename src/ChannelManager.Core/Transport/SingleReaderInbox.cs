using System.Threading.Tasks.Sources;

namespace ChannelManager.Core.Transport;

/// <summary>
/// An unbounded multi-writer, single-reader queue with the subset of <c>Channel&lt;T&gt;</c> the AT engine uses
/// (<see cref="TryWrite"/>, <see cref="TryRead"/>, <see cref="WaitToReadAsync"/>, <see cref="Complete"/>), built on
/// one reusable <see cref="ManualResetValueTaskSourceCore{TResult}"/>.
/// <para>
/// Why not an unbounded channel (issue 9): a channel wakes its reader through the thread pool's <b>global</b> queue
/// and allocates an operation object per wait when the reader is a different one each time; this wakes it through
/// the waking thread's local queue with no allocation, which is cheaper and lets the scale bench's quiescence check
/// (which waits in the global queue) see the wake-up in one look instead of coming round again.
/// </para>
/// <para>
/// Continuations always run asynchronously: <see cref="TryWrite"/> is called by the AT engine's reader loop under
/// its own lock, and the reader's continuation (the AT engine's command logic) takes that lock again and must not
/// run on the writer's stack.
/// </para>
/// <para>Public because the simulator's modem event loop (hardware-sim) uses it the same way.</para>
/// </summary>
public sealed class SingleReaderInbox<T> : IValueTaskSource<bool>
{
    private readonly Lock _gate = new();
    private readonly Queue<T> _items = new();
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
    private bool _completed;
    private bool _waiting;
    private CancellationToken _waitToken;
    private CancellationTokenRegistration _registration;

    /// <summary>Items queued and not yet read.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _items.Count;
            }
        }
    }

    /// <summary>
    /// Queues an item; false once the queue is completed. A waiting reader is woken through the thread pool, never on
    /// the writer's stack (the writer may hold a lock; issue 9's CI deadlock came from inline wakes).
    /// </summary>
    public bool TryWrite(T item)
    {
        lock (_gate)
        {
            if (_completed)
            {
                return false;
            }

            _items.Enqueue(item);
            if (!_waiting)
            {
                return true;
            }

            _waiting = false;
        }

        _core.SetResult(true);
        return true;
    }

    /// <summary>Takes the oldest item, if any.</summary>
    public bool TryRead(out T item)
    {
        lock (_gate)
        {
            return _items.TryDequeue(out item!);
        }
    }

    /// <summary>True when an item is available, false when the queue is completed and empty. One wait at a time.</summary>
    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken)
    {
        short version;
        lock (_gate)
        {
            if (_waiting)
            {
                throw new InvalidOperationException("Only one reader may wait on this queue.");
            }

            // Cancellation first, as Channel<T>.WaitToReadAsync does: a reader whose deadline has passed times out
            // even if a line arrived at the same instant (the AT engine's outcomes stay what they were).
            if (cancellationToken.IsCancellationRequested)
            {
                return ValueTask.FromCanceled<bool>(cancellationToken);
            }

            if (_items.Count > 0)
            {
                return new ValueTask<bool>(true);
            }

            if (_completed)
            {
                return new ValueTask<bool>(false);
            }

            _core.Reset();
            version = _core.Version;
            _waiting = true;
            _waitToken = cancellationToken;
        }

        if (cancellationToken.CanBeCanceled)
        {
            // Outside the lock: the callback runs inline if the token was cancelled meanwhile, and takes the lock.
            _registration = cancellationToken.UnsafeRegister(static (state, token) => ((SingleReaderInbox<T>)state!).CancelWait(token), this);
        }

        return new ValueTask<bool>(this, version);
    }

    /// <summary>No more items: a waiting reader gets false once the queue is empty.</summary>
    public void Complete()
    {
        lock (_gate)
        {
            if (_completed)
            {
                return;
            }

            _completed = true;
            if (!_waiting)
            {
                return;
            }

            _waiting = false;
        }

        _core.SetResult(false);
    }

    bool IValueTaskSource<bool>.GetResult(short token)
    {
        var registration = _registration;
        _registration = default;
        registration.Unregister();
        return _core.GetResult(token);
    }

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
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
        }

        _core.SetException(new OperationCanceledException(token));
    }
}
