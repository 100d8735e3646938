namespace ChannelManager.Core.Transport;

/// <summary>
/// A reply deadline reused by one sequence of commands that never overlap (an AT modem's operations, one Modbus
/// poll's requests): <see cref="Start"/> gives a token that is cancelled when the timeout passes or the caller's token
/// is cancelled, <see cref="Stop"/> ends that wait. One timer and one token source serve every command; a new source
/// is made only after one was actually cancelled.
/// <para>
/// Why not a <c>CancellationTokenSource(timeout, time)</c> linked to the caller per command (issue 9): the source,
/// its timer, the linked source and their registrations were about a fifth of everything the scale run allocated,
/// and <see cref="CancellationTokenSource.TryReset"/> cannot stop a timer made by a custom <see cref="TimeProvider"/>
/// (it returns false and the old timer still fires), so those sources cannot be reused.
/// </para>
/// </summary>
internal sealed class CommandDeadline : IDisposable
{
    private readonly TimeProvider _time;
    private readonly ITimer _timer;
    private readonly Lock _gate = new();
    private CancellationTokenSource _source = new();
    private CancellationTokenRegistration _caller;
    private long _armedAt;
    private TimeSpan _timeout;
    private bool _armed;
    private bool _disposed;

    public CommandDeadline(TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
        // Long-lived: flowing the first caller's ExecutionContext into the timer would keep it alive for no use.
        using (ExecutionContext.SuppressFlow())
        {
            _timer = time.CreateTimer(static state => ((CommandDeadline)state!).TimerFired(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>
    /// Arms the deadline <paramref name="timeout"/> from now; the returned token is cancelled when it passes or when
    /// <paramref name="cancellationToken"/> is cancelled (the caller tells the two apart by checking its own token).
    /// </summary>
    public CancellationToken Start(TimeSpan timeout, CancellationToken cancellationToken)
    {
        CancellationToken token;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_armed)
            {
                throw new InvalidOperationException("A command deadline is already running; Stop it before the next command.");
            }

            if (_source.IsCancellationRequested || !_source.TryReset())
            {
                _source.Dispose();
                _source = new CancellationTokenSource();
            }

            _armed = true;
            _armedAt = _time.GetTimestamp();
            _timeout = timeout;
            token = _source.Token;
            _timer.Change(timeout, Timeout.InfiniteTimeSpan);
        }

        if (cancellationToken.CanBeCanceled)
        {
            // Runs inline (and cancels at once) if the caller's token is already cancelled.
            _caller = cancellationToken.UnsafeRegister(static state => ((CommandDeadline)state!).Expire(), this);
        }

        return token;
    }

    /// <summary>Moves the running deadline to <paramref name="timeout"/> from now (an inter-character limit once a reply has begun).</summary>
    public void Extend(TimeSpan timeout)
    {
        lock (_gate)
        {
            if (!_armed)
            {
                return;
            }

            _armedAt = _time.GetTimestamp();
            _timeout = timeout;
            _timer.Change(timeout, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Ends the wait: neither the timer nor the caller's token can cancel anything until the next <see cref="Start"/>.</summary>
    public void Stop()
    {
        // Dispose (not Unregister) waits for a caller callback already running on another thread to finish.
        _caller.Dispose();
        _caller = default;
        lock (_gate)
        {
            _armed = false;
            if (!_disposed)
            {
                // Under the lock, as every Change: a timer callback (TimerFired) only re-arms under it too, and the
                // timer and source are disposed under it, so no Change ever meets a disposed timer.
                _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            }
        }
    }

    public void Dispose()
    {
        Stop();
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _timer.Dispose();
            _source.Dispose();
        }
    }

    private void TimerFired()
    {
        lock (_gate)
        {
            if (!_armed)
            {
                return;
            }

            // A system timer's callback can already be queued when Extend or Start re-arms it: a firing before the
            // current due time is that stale one, so wait out the rest rather than cancel a command early.
            var elapsed = _time.GetElapsedTime(_armedAt);
            if (elapsed < _timeout)
            {
                _timer.Change(_timeout - elapsed, Timeout.InfiniteTimeSpan);
                return;
            }

            CancelLocked();
        }
    }

    private void Expire()
    {
        lock (_gate)
        {
            if (_armed)
            {
                CancelLocked();
            }
        }
    }

    private void CancelLocked()
    {
        _armed = false;
        // Under the lock so a Start cannot reuse the source between the decision and the cancel. The source's
        // registrations (a waiting read) only complete their waiter; none of them calls back into this deadline.
        _source.Cancel();
    }
}
