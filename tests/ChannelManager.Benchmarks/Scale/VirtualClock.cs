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
    private const long NotDue = long.MaxValue;

    private readonly Lock _gate = new();
    // One entry per armed timer, keyed by its due instant and arming order. Re-arming a timer later (every command
    // deadline does, per command) does not queue a second entry: the old one, when it comes up, is moved to the new
    // due time then (issue 9: the eager version queued and later skipped an entry per Change, ~5 % of the run).
    private readonly PriorityQueue<(VirtualTimer Timer, long Ticket), (long Ticks, long Seq)> _queue = new();
    private readonly List<(VirtualTimer Timer, long Generation)> _due = [];
    private long _nowTicks = start.UtcTicks;
    private long _seq;
    private long _tickets;

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
    /// due at that instant, in the order they were armed. Returns false when there is none before the limit (the
    /// clock is then set to the limit).
    /// </summary>
    public bool AdvanceToNext(DateTimeOffset limit)
    {
        _due.Clear();
        lock (_gate)
        {
            long at = -1;
            while (_queue.TryPeek(out var entry, out var key))
            {
                var timer = entry.Timer;
                if (entry.Ticket != timer.HeapTicket)
                {
                    _queue.Dequeue();   // superseded: the timer was re-armed earlier and queued again
                    continue;
                }

                if (timer.DueTicks == NotDue)
                {
                    _queue.Dequeue();   // stopped or disposed since
                    timer.HeapTicket = 0;
                    continue;
                }

                if (timer.DueTicks != key.Ticks || timer.DueSeq != key.Seq)
                {
                    _queue.Dequeue();   // re-armed later since: queue it at its current due time
                    Enqueue(timer);
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
                timer.HeapTicket = 0;
                timer.DueTicks = NotDue;   // fired once; a period re-arms it in Fire
                _due.Add((timer, timer.Generation));
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

    /// <summary>Arms <paramref name="timer"/> <paramref name="due"/> from now (caller holds the lock).</summary>
    private void ArmLocked(VirtualTimer timer, TimeSpan due)
    {
        timer.DueTicks = _nowTicks + Math.Max(0, due.Ticks);
        timer.DueSeq = _seq++;
        if (timer.HeapTicket == 0 || timer.DueTicks < timer.HeapTicks)
            Enqueue(timer);
    }

    private void Enqueue(VirtualTimer timer)
    {
        timer.HeapTicket = ++_tickets;
        timer.HeapTicks = timer.DueTicks;
        _queue.Enqueue((timer, timer.HeapTicket), (timer.DueTicks, timer.DueSeq));
    }

    private sealed class VirtualTimer(VirtualClock clock, TimerCallback callback, object? state) : ITimer
    {
        private long _generation;
        private TimeSpan _period = Timeout.InfiniteTimeSpan;

        // Guarded by the clock's lock.
        public long DueTicks = NotDue;
        public long DueSeq;
        public long HeapTicket;
        public long HeapTicks;

        public long Generation => Volatile.Read(ref _generation);

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (clock._gate)
            {
                if (_generation < 0)
                    return false;   // disposed
                Volatile.Write(ref _generation, _generation + 1);
                _period = period;
                if (dueTime == Timeout.InfiniteTimeSpan)
                    DueTicks = NotDue;
                else
                    clock.ArmLocked(this, dueTime);
                return true;
            }
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
            lock (clock._gate)
            {
                // long.MinValue / 2: any later Change sees a negative generation and does nothing.
                Volatile.Write(ref _generation, long.MinValue / 2);
                DueTicks = NotDue;
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
