namespace ChannelManager.Host.Demo;

/// <summary>
/// The demo's clock: a <see cref="TimeProvider"/> that runs at the speed of an underlying clock
/// (real time in the demo, a <c>FakeTimeProvider</c> in unit tests) from a fixed virtual start, and can be
/// moved forward with <see cref="SkipTo"/>. Every timer created from it fires by virtual time, so a skip
/// fires the timers it passes (in due order) and re-aims the rest.
/// </summary>
/// <remarks>
/// Why not a compressed clock (virtual = k × real): that would shrink the AT engine's, the modems' and the
/// Modbus master's timeouts by the same factor, so thread-pool jitter of a few milliseconds would turn into
/// spurious timeouts. Skipping keeps every call at 1:1 (realistic-but-short timings) and compresses only the
/// idle gaps between calls, which is where the simulated hours are. Only <see cref="DemoClockDriver"/> skips,
/// and only while no call is in progress, so no running timeout is ever cut short.
/// </remarks>
internal sealed class SkipAheadTimeProvider : TimeProvider
{
    private readonly TimeProvider _underlying;
    private readonly DateTimeOffset _start;
    private readonly long _startTimestamp;
    private readonly Lock _gate = new();
    private readonly HashSet<SkipTimer> _timers = [];
    private long _skippedTicks;

    public SkipAheadTimeProvider(TimeProvider underlying, DateTimeOffset start)
    {
        ArgumentNullException.ThrowIfNull(underlying);
        _underlying = underlying;
        _start = start;
        _startTimestamp = underlying.GetTimestamp();
    }

    /// <summary>The virtual time the clock started at.</summary>
    public DateTimeOffset Start => _start;

    /// <summary>Total virtual time skipped so far (virtual elapsed = underlying elapsed + this).</summary>
    public TimeSpan Skipped => TimeSpan.FromTicks(Interlocked.Read(ref _skippedTicks));

    /// <summary>Live timers (for tests: a disposed or finished one-shot timer is not counted).</summary>
    internal int ActiveTimers
    {
        get
        {
            lock (_gate)
            {
                return _timers.Count;
            }
        }
    }

    /// <summary>The virtual due times of every armed timer (for <see cref="DemoClockDriver"/>: has the scheduler parked?).</summary>
    public IReadOnlyList<DateTimeOffset> PendingDueTimes()
    {
        SkipTimer[] timers;
        lock (_gate)
        {
            timers = [.. _timers];
        }

        return [.. timers.Select(t => t.DueAt).OfType<DateTimeOffset>()];
    }

    public override TimeZoneInfo LocalTimeZone => _underlying.LocalTimeZone;

    public override long TimestampFrequency => _underlying.TimestampFrequency;

    // Monotonic: built from the underlying clock's timestamps, not its wall clock, so an NTP step on the host
    // cannot move the demo's timeline.
    public override DateTimeOffset GetUtcNow() => _start + _underlying.GetElapsedTime(_startTimestamp) + Skipped;

    public override long GetTimestamp() =>
        _underlying.GetTimestamp() + (long)(Interlocked.Read(ref _skippedTicks) * (double)_underlying.TimestampFrequency / TimeSpan.TicksPerSecond);

    /// <summary>
    /// Moves the clock forward to <paramref name="target"/>: timers due by then fire, the others are re-aimed at
    /// their virtual due time. Timers are re-armed earliest first, so a synchronous underlying clock (a
    /// FakeTimeProvider) fires them in due order; on the system clock they fire on pool threads. Returns false (and does nothing) if the clock is already
    /// at or past <paramref name="target"/> — the clock never runs backwards.
    /// </summary>
    public bool SkipTo(DateTimeOffset target)
    {
        SkipTimer[] timers;
        lock (_gate)
        {
            var delta = target - GetUtcNow();
            if (delta <= TimeSpan.Zero)
                return false;
            Interlocked.Add(ref _skippedTicks, delta.Ticks);
            timers = [.. _timers];
        }

        foreach (var t in timers.OrderBy(t => t.DueAt ?? DateTimeOffset.MaxValue))
        {
            t.Arm();
        }

        return true;
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        var timer = new SkipTimer(this, callback, state);
        lock (_gate)
        {
            _timers.Add(timer);
        }

        timer.Change(dueTime, period);
        return timer;
    }

    private void Forget(SkipTimer timer)
    {
        lock (_gate)
        {
            _timers.Remove(timer);
        }
    }

    private void Remember(SkipTimer timer)
    {
        lock (_gate)
        {
            _timers.Add(timer);
        }
    }

    /// <summary>
    /// One timer: its due time is virtual; an underlying one-shot timer is aimed at "due − virtual now" and, when it
    /// fires, the virtual due time is checked again (a skip may have moved it, or it fired a tick early).
    /// </summary>
    private sealed class SkipTimer : ITimer
    {
        private readonly SkipAheadTimeProvider _owner;
        private readonly TimerCallback _callback;
        private readonly object? _state;
        private readonly Lock _gate = new();
        private readonly ITimer _inner;
        private DateTimeOffset? _due;
        private TimeSpan _period;
        private bool _disposed;
        private int _deferredFire;

        public SkipTimer(SkipAheadTimeProvider owner, TimerCallback callback, object? state)
        {
            _owner = owner;
            _callback = callback;
            _state = state;
            _inner = owner._underlying.CreateTimer(static s => ((SkipTimer)s!).OnUnderlyingFired(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }

        public DateTimeOffset? DueAt
        {
            get
            {
                lock (_gate)
                {
                    return _due;
                }
            }
        }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(dueTime, Timeout.InfiniteTimeSpan);
            ArgumentOutOfRangeException.ThrowIfLessThan(period, Timeout.InfiniteTimeSpan);
            lock (_gate)
            {
                if (_disposed)
                    return false;
                _due = dueTime == Timeout.InfiniteTimeSpan ? null : _owner.GetUtcNow() + dueTime;
                _period = period;

                // Membership follows _due under this lock, so a Change racing a one-shot firing cannot end up armed
                // but forgotten by SkipTo. (Lock order is always timer, then owner; the owner never takes a timer's lock.)
                _owner.Remember(this);
            }

            Arm();
            return true;
        }

        /// <summary>Aims the underlying timer at the virtual due time as the clock stands now.</summary>
        public void Arm()
        {
            lock (_gate)
            {
                if (_disposed)
                    return;
                var delay = _due is { } due ? Max(due - _owner.GetUtcNow(), TimeSpan.Zero) : Timeout.InfiniteTimeSpan;

                // A FakeTimeProvider fires a due timer inside Change, on this thread: OnUnderlyingFired defers to us.
                _inner.Change(delay, Timeout.InfiniteTimeSpan);
            }

            if (Interlocked.Exchange(ref _deferredFire, 0) == 1)
                OnUnderlyingFired();
        }

        public void Dispose()
        {
            lock (_gate)
            {
                if (_disposed)
                    return;
                _disposed = true;
                _due = null;
            }

            _inner.Dispose();
            _owner.Forget(this);
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }

        private void OnUnderlyingFired()
        {
            if (_gate.IsHeldByCurrentThread)
            {
                // Never run the callback under our lock (it may complete a Task whose continuation runs inline).
                Volatile.Write(ref _deferredFire, 1);
                return;
            }

            bool fire;
            bool finished;
            lock (_gate)
            {
                if (_disposed || _due is not { } due)
                    return;
                var now = _owner.GetUtcNow();
                fire = now >= due;
                finished = false;
                if (fire)
                {
                    var periodic = _period > TimeSpan.Zero && _period != Timeout.InfiniteTimeSpan;
                    _due = periodic ? Max(due + _period, now) : null;
                    finished = !periodic;
                    if (finished)
                        _owner.Forget(this);
                }
            }

            if (!finished)
                Arm();
            if (fire)
                _callback(_state);
        }

        private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

        private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;
    }
}
