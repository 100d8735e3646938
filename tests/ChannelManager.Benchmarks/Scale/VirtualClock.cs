namespace ChannelManager.Benchmarks.Scale;

/// <summary>
/// A virtual clock for the scale simulation: time stands still until <see cref="AdvanceToNext"/> moves it to the
/// next timer and fires every timer due then. Unlike FakeTimeProvider it knows its next timer, so a driver can
/// run a whole system (scheduler, Channel Manager, AT engine, simulator) "to quiescence, then jump" — 24 simulated
/// hours need only as many steps as there are distinct timer instants. Thread-safe; callbacks run on the caller of
/// <see cref="AdvanceToNext"/>, outside the lock, in due order.
/// </summary>
internal sealed class VirtualClock(DateTimeOffset start) : TimeProvider
{
    private readonly Lock _gate = new();
    private readonly PriorityQueue<(VirtualTimer Timer, long Generation), (long Ticks, long Seq)> _queue = new();
    private readonly List<(VirtualTimer Timer, long Generation)> _due = [];
    private long _nowTicks = start.UtcTicks;
    private long _seq;

    /// <summary>Timer instants fired so far (driver steps).</summary>
    public long Steps { get; private set; }

    public long TimersFired { get; private set; }

    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _nowTicks), TimeSpan.Zero);

    public override long GetTimestamp() => Interlocked.Read(ref _nowTicks);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new VirtualTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>
    /// Moves the clock to the earliest live timer (if it is not after <paramref name="limit"/>) and fires every timer
    /// due at that instant. Returns false when there is none before the limit (the clock is then set to the limit).
    /// </summary>
    public bool AdvanceToNext(DateTimeOffset limit)
    {
        _due.Clear();
        lock (_gate)
        {
            long at = -1;
            while (_queue.TryPeek(out var item, out var key))
            {
                if (item.Generation != item.Timer.Generation)
                {
                    _queue.Dequeue();
                    continue;
                }

                if (at < 0)
                {
                    if (key.Ticks > limit.UtcTicks)
                        break;
                    at = Math.Max(key.Ticks, _nowTicks);
                }
                else if (key.Ticks > at)
                {
                    break;
                }

                _queue.Dequeue();
                _due.Add(item);
            }

            if (at < 0)
            {
                Interlocked.Exchange(ref _nowTicks, Math.Max(_nowTicks, limit.UtcTicks));
                return false;
            }

            Interlocked.Exchange(ref _nowTicks, at);
        }

        Steps++;
        foreach (var (timer, generation) in _due)
        {
            if (timer.Fire(generation))
                TimersFired++;
        }

        return true;
    }

    private void Schedule(VirtualTimer timer, long generation, TimeSpan due)
    {
        lock (_gate)
        {
            var ticks = _nowTicks + Math.Max(0, due.Ticks);
            _queue.Enqueue((timer, generation), (ticks, _seq++));
        }
    }

    private sealed class VirtualTimer(VirtualClock clock, TimerCallback callback, object? state) : ITimer
    {
        private long _generation;
        private TimeSpan _period = Timeout.InfiniteTimeSpan;

        public long Generation => Interlocked.Read(ref _generation);

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            var generation = Interlocked.Increment(ref _generation);
            if (generation < 0)
                return false;   // disposed
            _period = period;
            if (dueTime != Timeout.InfiniteTimeSpan)
                clock.Schedule(this, generation, dueTime);
            return true;
        }

        public bool Fire(long generation)
        {
            if (Generation != generation)
                return false;
            var period = _period;
            if (period != Timeout.InfiniteTimeSpan && period > TimeSpan.Zero)
                Change(period, period);
            callback(state);
            return true;
        }

        public void Dispose()
        {
            // long.MinValue / 2: any later Change sees a negative generation and does nothing.
            Interlocked.Exchange(ref _generation, long.MinValue / 2);
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
