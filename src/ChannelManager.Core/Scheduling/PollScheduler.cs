using System.Threading.Channels;
using ChannelManager.Core.Channels;
using ChannelManager.Core.Persistence;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ChannelManager.Core.Scheduling;

/// <summary>
/// The application layer of seed 004 (issue 6 item 1): it, and only it, decides when an outstation is dialled
/// again. Per-outstation schedules and on-demand requests share one priority queue; up to
/// <see cref="SchedulerOptions.MaxConcurrency"/> polls run at once through the <see cref="IPollExecutor"/>
/// (the Channel Manager picks the next available modem for each, so a retry after a failure goes to the next
/// modem — seed 004 footnote **). After each poll the outstation's <see cref="RetrySchedule"/> picks the
/// back-off and the repeat-call guard may only move it later (design.md §4: the guard wins). Schedules,
/// the ledger and every transaction are persisted, so a restart resumes where it stopped.
/// </summary>
/// <remarks>
/// Deterministic under a fake clock: the loop only waits in <c>Task.Delay(…, TimeProvider)</c> until the next due
/// time or a wake-up (completion, on-demand request), and every decision reads the injected clock.
/// </remarks>
public sealed partial class PollScheduler
{
    /// <summary>Re-check interval when another poll of the same number is on the line (its completion also wakes the loop).</summary>
    private static readonly TimeSpan InProgressRecheck = TimeSpan.FromSeconds(1);

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly List<Entry> _order;
    private readonly IPollExecutor _executor;
    private readonly RepeatCallBook _book;
    private readonly IStateStore? _store;
    private readonly SchedulerOptions _options;
    private readonly TimeProvider _time;
    private readonly Func<double> _random;
    private readonly ILogger _logger;
    private readonly HashSet<string> _alarmedNumbers = new(StringComparer.Ordinal);
    private readonly List<OperatorAlarm> _alarms = [];
    private readonly Channel<OperatorAlarm> _alarmChannel = Channel.CreateUnbounded<OperatorAlarm>();
    private readonly HashSet<Task> _inFlight = [];
    private readonly Dictionary<string, int> _runningByPool = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, (int Limit, DateTimeOffset? ChangesAt)> _limitByPool = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _fullPools = new(StringComparer.OrdinalIgnoreCase);
    private readonly PriorityQueue<(Entry Entry, int Version), DateTimeOffset> _timeline = new();
    private readonly PriorityQueue<(Entry Entry, int Version), DateTimeOffset> _deadlines = new();
    private readonly SortedSet<Entry> _ready = new(ReadyOrder.Instance);
    private readonly HashSet<Entry> _withWaiters = [];
    private readonly List<Entry> _touched = [];
    private readonly int _poolCount;
    private DateTimeOffset? _planWake;
    private TaskCompletionSource _wake = NewSignal();
    private TaskCompletionSource _parkChanged = NewSignal();
    private ParkState _park = new(0, null, 0);
    private bool _parked;
    private DateTimeOffset _startedAt;
    private int _running;
    private int _started;
    private Exception? _fault;

    /// <param name="outstations">The schedules; names must be unique.</param>
    /// <param name="executor">Runs one poll (<see cref="PollTransaction"/> in production).</param>
    /// <param name="book">The pool-wide repeat-call ledger the executor also uses; built on <paramref name="store"/>.</param>
    /// <param name="store">Where schedules and the transaction log are persisted; null = nothing survives a restart (tests only).</param>
    public PollScheduler(
        IEnumerable<OutstationSchedule> outstations,
        IPollExecutor executor,
        RepeatCallBook book,
        IStateStore? store,
        SchedulerOptions options,
        TimeProvider timeProvider,
        Func<double> random,
        ILogger<PollScheduler>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(outstations);
        ArgumentNullException.ThrowIfNull(executor);
        ArgumentNullException.ThrowIfNull(book);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(random);
        var list = outstations.ToList();
        var errors = options.Validate().ToList();
        for (var i = 0; i < list.Count; i++)
        {
            errors.AddRange(list[i].Validate($"Outstations[{i}]"));
        }

        errors.AddRange(list.GroupBy(o => o.Name, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => new ConfigError("Outstations", $"name '{g.Key}' is used {g.Count()} times; names must be unique")));
        if (errors.Count > 0)
            throw new ArgumentException("Invalid scheduler configuration: " + string.Join("; ", errors), nameof(outstations));

        _executor = executor;
        _book = book;
        _store = store;
        _options = options;
        _time = timeProvider;
        _random = random;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _order = [.. list.Select((o, i) => new Entry(o, i))];
        _poolCount = _order.Select(e => PoolKey(e.Config.Pool)).Distinct(StringComparer.OrdinalIgnoreCase).Count();
        foreach (var e in _order)
        {
            _entries.Add(e.Config.Name, e);
        }
    }

    /// <summary>Every alarm raised so far (restored ones first after a restart), oldest first.</summary>
    public IReadOnlyList<OperatorAlarm> Alarms
    {
        get
        {
            lock (_gate)
            {
                return [.. _alarms];
            }
        }
    }

    /// <summary>Alarms as they are raised, for the host's notifier and the API's stream.</summary>
    public ChannelReader<OperatorAlarm> AlarmReader => _alarmChannel.Reader;

    /// <summary>
    /// Where the per-pool dispatch limit comes from (issue 6 item 1): with it, each pool runs as many polls as it has
    /// usable modems (capped by <see cref="SchedulerOptions.MaxConcurrency"/>), following modems going out of and back
    /// into service; without it, <see cref="SchedulerOptions.MaxConcurrency"/> (default 1) is the limit.
    /// </summary>
    public IDialCapacity? Capacity { get; init; }

    /// <summary>Called under the lock for every dispatched poll with (due time, now): the scale bench's lateness probe.</summary>
    internal Action<DateTimeOffset, DateTimeOffset>? Dispatched { get; set; }

    /// <summary>A snapshot of every outstation, in configuration order.</summary>
    public IReadOnlyList<OutstationStatus> Status
    {
        get
        {
            var now = _time.GetUtcNow();
            lock (_gate)
            {
                return [.. _order.Select(e => new OutstationStatus(
                    e.Config.Name,
                    e.Config.Number,
                    e.Config.Priority,
                    e.Running ? null : DueAt(e),
                    e.Running,
                    e.Waiters.Count,
                    e.Retry.NextDue,
                    e.Retry.FailedAttempts,
                    e.Retry.Exhausted,
                    e.Retry.LastAccess,
                    e.Retry.LastSuccess,
                    e.Retry.LastFailure,
                    e.Retry.LastOutcome,
                    _book.LedgerOf(e.Config.Number).StateAt(now)))];
            }
        }
    }

    /// <summary>
    /// Loads the ledgers (closing dials a crash left open as failed) and pending retries, then polls until
    /// <paramref name="cancellationToken"/> is cancelled; on cancellation running polls are cancelled and awaited
    /// and the method returns. Throws if the executor or the state store fails (running on without the ledger
    /// could break repeat-call rules).
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) == 1)
            throw new InvalidOperationException("The scheduler is already running; create a new one to restart.");
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // One alarm for the whole run, re-armed at each park, and stopping wakes the loop through the same signal
        // (issue 9: a linked source, a Task.Delay with its timer and a WhenAny per wake-up were a large share of the
        // scheduler's cost at 10,000 outstations). The timer must not hold the first caller's ExecutionContext.
        ITimer alarm;
        using (ExecutionContext.SuppressFlow())
        {
            alarm = _time.CreateTimer(static state => ((PollScheduler)state!).WakeUp(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }

        using var alarmOwner = alarm;
        using var onStop = cancellationToken.UnsafeRegister(static state => ((PollScheduler)state!).WakeUp(), this);
        if (Capacity is { } capacity)
            capacity.Changed += OnCapacityChanged;
        try
        {
            await LoadAsync(cancellationToken).ConfigureAwait(false);
            while (!cancellationToken.IsCancellationRequested)
            {
                Task wake;
                DateTimeOffset now;
                var actions = new List<Func<Task>>();
                DateTimeOffset? wakeAt;
                lock (_gate)
                {
                    if (_fault is not null)
                        break;
                    if (_wake.Task.IsCompleted)
                        _wake = NewSignal();
                    _parked = false;
                    wake = _wake.Task;
                    now = _time.GetUtcNow();
                    wakeAt = Plan(now, actions, stop.Token);
                }

                foreach (var action in actions)
                {
                    await action().ConfigureAwait(false);
                }

                if (actions.Count > 0)
                    continue;
                await ArmAndPark(alarm, wake, wakeAt, wakeAt is { } at ? at - now : null).ConfigureAwait(false);

                // Woken (by the alarm, a signal or stopping): disarm it now, as the old per-wait delay was cancelled
                // here, so an alarm due at this same instant cannot wake the next wait.
                alarm.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            }
        }
        finally
        {
            if (Capacity is { } capacity2)
                capacity2.Changed -= OnCapacityChanged;
            await stop.CancelAsync().ConfigureAwait(false);
            Task[] running;
            lock (_gate)
            {
                running = [.. _inFlight];
            }

            await Task.WhenAll(running).ConfigureAwait(false);
            List<OnDemand> orphans;
            lock (_gate)
            {
                orphans = [.. _order.SelectMany(e => e.Waiters)];
                foreach (var e in _order)
                {
                    e.Waiters.Clear();
                }
            }

            foreach (var w in orphans)
            {
                w.Completion.TrySetCanceled(cancellationToken.IsCancellationRequested ? cancellationToken : new CancellationToken(canceled: true));
            }
        }

        if (_fault is { } fault)
        {
            Log.Faulted(_logger, fault);
            throw new InvalidOperationException("The scheduler stopped because a poll or the state store failed.", fault);
        }
    }

    /// <summary>
    /// An on-demand poll (CLI/API): queued ahead of every scheduled poll, still subject to the repeat-call guard
    /// (a refusal is the outcome <see cref="OutcomeCode.RepeatCallLimit"/> with the next allowed time) and to the
    /// queue time limit. Completes when the poll has run and its outcome is persisted.
    /// </summary>
    public Task<PollOutcome> PollNowAsync(string outstation, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(outstation);
        var waiter = new OnDemand(new TaskCompletionSource<PollOutcome>(TaskCreationOptions.RunContinuationsAsynchronously), _time.GetUtcNow());
        lock (_gate)
        {
            if (!_entries.TryGetValue(outstation, out var e))
                throw new ArgumentException($"Unknown outstation '{outstation}'.", nameof(outstation));
            e.Waiters.Add(waiter);
            _withWaiters.Add(e);
            _wake.TrySetResult();
        }

        return waiter.Completion.Task.WaitAsync(cancellationToken);
    }

    /// <summary>The loop's last resting point, for tests that drive a fake clock (see the test driver).</summary>
    internal ParkState Parked
    {
        get
        {
            lock (_gate)
            {
                return _park;
            }
        }
    }

    /// <summary>Polls dispatched and not yet finished (including their persistence), for fake-clock tests.</summary>
    internal int RunningNow
    {
        get
        {
            lock (_gate)
            {
                return _running;
            }
        }
    }

    /// <summary>The loop's park if it is resting now (no wake-up pending) with a sequence above <paramref name="afterSequence"/>.</summary>
    internal ParkState? CurrentPark(long afterSequence)
    {
        lock (_gate)
        {
            if (_fault is not null)
                throw new InvalidOperationException("The scheduler faulted.", _fault);
            return _parked && _park.Sequence > afterSequence && !_wake.Task.IsCompleted ? _park : null;
        }
    }

    /// <summary>Completes when the loop has parked with a sequence number above <paramref name="afterSequence"/> and at most <paramref name="maxRunning"/> polls running.</summary>
    internal async Task<ParkState> WaitForParkAsync(long afterSequence, int maxRunning, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (_parked && _park.Sequence > afterSequence && _park.Running <= maxRunning && !_wake.Task.IsCompleted)
                    return _park;
                if (_fault is not null)
                    throw new InvalidOperationException("The scheduler faulted.", _fault);
                changed = _parkChanged.Task;
            }

            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static string PoolKey(string? pool) => pool ?? ChannelPools.Default;

    /// <summary>A modem went out of or back into service (or was released, faulted, recovered): plan again.</summary>
    private void OnCapacityChanged(object? sender, EventArgs e) => WakeUp();

    /// <summary>
    /// May one more poll of <paramref name="pool"/> start now? Global cap first, then the pool's usable modems (asked
    /// once per planning pass); when the pool is short because of a quarantine, <paramref name="changesAt"/> says when
    /// to look again.
    /// </summary>
    private bool HasSlot(string pool, out DateTimeOffset? changesAt)
    {
        changesAt = null;
        if (Capacity is not { } capacity)
            return _running < (_options.MaxConcurrency ?? 1);
        if (_options.MaxConcurrency is { } cap && _running >= cap)
            return false;
        if (!_limitByPool.TryGetValue(pool, out var limit))
        {
            var usable = capacity.UsableModemCount(pool, out var at);
            limit = (usable, at);
            _limitByPool[pool] = limit;
        }

        changesAt = limit.ChangesAt;
        return _runningByPool.GetValueOrDefault(pool) < limit.Limit;
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        _startedAt = now;
        var recovered = await _book.LoadAsync(now, cancellationToken).ConfigureAwait(false);
        var schedules = _store is null
            ? new Dictionary<string, RetrySchedule>()
            : await _store.LoadRetrySchedulesAsync(cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            foreach (var e in _order)
            {
                if (schedules.TryGetValue(e.Config.Name, out var r))
                    e.Retry = r;

                // Regular cadence from the last access; a pending retry (seed 003's queued retry task) keeps its own time.
                e.RegularDue = e.Retry.LastAccess is { } last ? last + e.Config.Interval : now;
            }

            foreach (var ledger in _book.Ledgers.Values.Where(l => l.AlarmRaised))
            {
                _alarmedNumbers.Add(ledger.Number);
                var name = _order.FirstOrDefault(e => e.Config.Number == ledger.Number)?.Config.Name ?? "(unknown)";
                var kind = ledger.State == LedgerState.Locked ? AlarmKind.NumberLocked : AlarmKind.ModemBlocked;
                _alarms.Add(new OperatorAlarm(ledger.LockedAt ?? now, kind, name, ledger.Number, ledger.LockReason ?? "modem block") { Restored = true });
            }
        }

        // A dial the crash interrupted is the outstation's failed attempt too: back off from it, so the request is
        // neither lost (a retry is queued) nor repeated early (the guard already counted it).
        foreach (var update in recovered)
        {
            var attempt = update.Ledger.Recent[^1];
            foreach (var e in _order.Where(e => e.Config.Number == update.Ledger.Number))
            {
                Log.RecoveredAttempt(_logger, e.Config.Name, e.Config.Number);
                var outcome = new PollOutcome(e.Config.Name, e.Config.Number, OutcomeCode.DialTimeout, attempt.Modem, [], attempt.RawReply ?? string.Empty, null, attempt.OffHook, now, update.Ledger.NextAllowedAt);
                await AfterPollAsync(e, outcome, cancellationToken).ConfigureAwait(false);
            }
        }

        lock (_gate)
        {
            foreach (var e in _order)
            {
                if (!e.Queued && !e.Running)
                    Reindex(e);
            }

            Log.Resumed(_logger, _order.Count, _order.Count(e => e.Retry.NextDue is not null), recovered.Count);
        }

        _loaded.TrySetResult(); // ResumeOwnedAsync's reads must come after this load's (PollScheduler.Ownership.cs)
    }

    /// <summary>
    /// One pass under the lock: time out, defer or dispatch every due request; returns when to wake up next.
    /// Cost is proportional to what changes (due entries, dispatches), not to the number of outstations (issue 9):
    /// not-yet-due entries wait in <see cref="_timeline"/> (a min-heap on due time), due ones in <see cref="_ready"/>
    /// (sorted by priority, due time, name), and scheduled queue deadlines in <see cref="_deadlines"/>.
    /// </summary>
    private DateTimeOffset? Plan(DateTimeOffset now, List<Func<Task>> actions, CancellationToken stop)
    {
        _planWake = null;
        _limitByPool.Clear();
        _fullPools.Clear();

        // Everything that fell due joins the ready queue, with its queue deadline.
        while (_timeline.TryPeek(out var item, out var due) && due <= now)
        {
            _timeline.Dequeue();
            var e = item.Entry;
            if (item.Version != e.Version || e.Running || e.Queued)
                continue;
            e.ReadyDue = due;
            e.Queued = true;
            _ready.Add(e);
            _deadlines.Enqueue((e, e.Version), QueuedSince(due) + _options.MaxQueueTime);
        }

        // On-demand requests for an outstation whose poll is still running wait for the next one, within MaxQueueTime too.
        foreach (var e in _withWaiters)
        {
            if (!e.Running)
                continue;
            var expired = e.Waiters.Where(w => now - w.RequestedAt >= _options.MaxQueueTime).ToList();
            if (expired.Count > 0)
            {
                e.Waiters.RemoveAll(expired.Contains);
                var outcome = Refused(e, OutcomeCode.QueueTimeout, $"the previous poll was still running after {_options.MaxQueueTime}", now, null);
                actions.Add(() => FinishWithoutDialAsync(outcome, expired, stop));
            }

            foreach (var w in e.Waiters)
            {
                WakeAt(w.RequestedAt + _options.MaxQueueTime);
            }
        }

        // On-demand requests first (issue 6: they run ahead of every scheduled poll), then expired scheduled polls,
        // then the ready queue in order until every pool is full.
        if (_withWaiters.Count > 0)
        {
            foreach (var e in _withWaiters.Where(e => !e.Running).OrderByDescending(e => e.Config.Priority).ThenBy(DueAt).ThenBy(e => e.Config.Name, StringComparer.Ordinal).ToList())
            {
                Consider(e, DueAt(e), now, actions, stop);
            }
        }

        while (_deadlines.TryPeek(out var item, out var deadline) && deadline <= now)
        {
            _deadlines.Dequeue();
            if (item.Version == item.Entry.Version && item.Entry.Queued && !item.Entry.Touched)
                Consider(item.Entry, item.Entry.ReadyDue, now, actions, stop);
        }

        foreach (var e in _ready)
        {
            if (e.Touched)
                continue;
            if (Consider(e, e.ReadyDue, now, actions, stop) == Disposition.NoSlot && (Capacity is null || _fullPools.Count >= _poolCount))
                break;
        }

        foreach (var e in _touched)
        {
            Reindex(e);
        }

        _touched.Clear();
        _withWaiters.RemoveWhere(e => e.Waiters.Count == 0);

        // Sleep until the next entry falls due or a queued poll reaches its deadline (stale heap items dropped here).
        while (_timeline.TryPeek(out var item, out var due))
        {
            if (item.Version == item.Entry.Version && !item.Entry.Running && !item.Entry.Queued)
            {
                WakeAt(due);
                break;
            }

            _timeline.Dequeue();
        }

        while (_deadlines.TryPeek(out var item, out var deadline))
        {
            if (item.Version == item.Entry.Version && item.Entry.Queued)
            {
                WakeAt(deadline);
                break;
            }

            _deadlines.Dequeue();
        }

        return _planWake;
    }

    /// <summary>Decides one queued request: time it out, leave it queued (no slot), defer it (guard) or dispatch it.</summary>
    private Disposition Consider(Entry e, DateTimeOffset due, DateTimeOffset now, List<Func<Task>> actions, CancellationToken stop)
    {
        var scheduled = due <= now;
        var waiters = e.Waiters.Count == 0 ? NoWaiters : e.Waiters.ToList();
        if (Ownership is { } ownership && !ownership.Owns(e.Config.Name))
            return Disown(e, waiters, now, actions, stop); // active/active: another host's (PollScheduler.Ownership.cs)

        // Queue timeout (issue 6: "a priority queue with max queue time"): each request waits at most MaxQueueTime.
        var expired = waiters.Count == 0 ? NoWaiters : waiters.Where(w => now - w.RequestedAt >= _options.MaxQueueTime).ToList();
        var queuedSince = QueuedSince(due);
        var scheduledExpired = scheduled && now - queuedSince >= _options.MaxQueueTime;
        if (expired.Count > 0 || scheduledExpired)
        {
            e.Waiters.RemoveAll(expired.Contains);
            if (scheduledExpired)
                e.NotBefore = now + e.Config.Interval;
            var waited = now - (scheduledExpired ? queuedSince : expired.Min(w => w.RequestedAt));
            var outcome = Refused(e, OutcomeCode.QueueTimeout, $"no free modem within {_options.MaxQueueTime}", now, null);
            Log.QueueTimeout(_logger, e.Config.Name, waited, DueAt(e));
            actions.Add(() => FinishWithoutDialAsync(outcome, expired, stop));
            Touch(e);
            return Disposition.TimedOut;
        }

        var pool = PoolKey(e.Config.Pool);
        if (!HasSlot(pool, out var capacityChangesAt))
        {
            _fullPools.Add(pool);
            if (capacityChangesAt is { } changes)
                WakeAt(changes);

            foreach (var w in waiters)
            {
                WakeAt(w.RequestedAt + _options.MaxQueueTime);
            }

            return Disposition.NoSlot;
        }

        // Ask the guard before taking a slot: a refused number must not hold a modem's place in the queue.
        var guard = _book.Check(e.Config.Number, now);
        if (!guard.Allowed)
        {
            var next = guard.Refusal switch
            {
                GuardRefusal.AttemptInProgress => now + InProgressRecheck,
                _ => guard.NextAllowedAt ?? now + e.Config.Interval,
            };
            if (scheduled)
            {
                e.NotBefore = next;
                Log.GuardDeferred(_logger, e.Config.Name, e.Config.Number, guard.Refusal, next);
            }

            RaiseLedgerAlarm(e, now);
            e.Waiters.Clear();
            if (waiters.Count > 0)
            {
                var outcome = Refused(e, OutcomeCode.RepeatCallLimit, $"{guard.Refusal}: {guard.Detail}", now, guard.NextAllowedAt);
                actions.Add(() => FinishWithoutDialAsync(outcome, waiters, stop));
            }

            Touch(e);
            return Disposition.Deferred;
        }

        e.Waiters.Clear();
        e.Running = true;
        _running++;
        _runningByPool[pool] = _runningByPool.GetValueOrDefault(pool) + 1;
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            var reason = waiters.Count > 0 ? "on demand" : e.Retry.NextDue is not null ? $"retry after {e.Retry.FailedAttempts} failure(s)" : "scheduled";
            Log.PollStarted(_logger, e.Config.Name, e.Config.Number, reason);
        }

        Dispatched?.Invoke(due, now);
        var pollWaiters = waiters.Count == 0 ? [] : waiters;
        actions.Add(() =>
        {
            var task = PollAsync(e, pollWaiters, stop);
            lock (_gate)
            {
                if (!task.IsCompleted)
                    _inFlight.Add(task);
            }

            return Task.CompletedTask;
        });
        Touch(e);
        return Disposition.Dispatched;
    }

    private DateTimeOffset QueuedSince(DateTimeOffset due) => due > _startedAt ? due : _startedAt;

    private void WakeAt(DateTimeOffset t) => _planWake = _planWake is { } w && w < t ? w : t;

    private void Touch(Entry e)
    {
        e.Touched = true;
        _touched.Add(e);
    }

    /// <summary>
    /// After anything that moves <paramref name="e"/>'s due time (a poll ended, a guard deferral, a queue timeout, a
    /// restart): take it out of the ready queue and, unless it is running, file it under its new due time. Old heap
    /// items are left behind and skipped by their stale <see cref="Entry.Version"/>.
    /// </summary>
    private void Reindex(Entry e)
    {
        e.Version++;
        e.Touched = false;
        if (e.Queued)
        {
            _ready.Remove(e);
            e.Queued = false;
        }

        if (!e.Running && !e.Foreign)
            _timeline.Enqueue((e, e.Version), DueAt(e));
    }

    private async Task PollAsync(Entry e, List<OnDemand> waiters, CancellationToken stop)
    {
        PollOutcome? outcome = null;
        try
        {
            outcome = await _executor.RunAsync(e.Config.ToRequest(), stop).ConfigureAwait(false);

            // The dial happened: record it even if a shutdown begins now, or a restart would plan from stale state.
            await AfterPollAsync(e, outcome, CancellationToken.None).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Shutting down: the executor closed its ledger entry (or a crash left it for RecoverAfterRestart).
            outcome = null;
        }
        catch (Exception ex)
        {
            lock (_gate)
            {
                _fault ??= ex;
            }

            outcome = null;
        }
        finally
        {
            lock (_gate)
            {
                e.Running = false;
                e.NotBefore = null;
                Reindex(e);
                _running--;
                _runningByPool[PoolKey(e.Config.Pool)]--;
                _inFlight.RemoveWhere(t => t.IsCompleted);
                _wake.TrySetResult();
            }
        }

        foreach (var w in waiters)
        {
            if (outcome is not null)
                w.Completion.TrySetResult(outcome);
            else
                w.Completion.TrySetCanceled(stop.IsCancellationRequested ? stop : new CancellationToken(canceled: true));
        }
    }

    /// <summary>Seed 003's schedule update after a poll: success deletes the retry, failure backs off (guard wins), give-up alarms.</summary>
    private async Task AfterPollAsync(Entry e, PollOutcome outcome, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var config = e.Config;
        RetrySchedule old;
        lock (_gate)
        {
            old = e.Retry;
        }

        RetrySchedule next;
        DateTimeOffset? notBefore = null;
        if (outcome.Category == OutcomeCategory.Scheduling)
        {
            // The executor's guard refused (another poll of the number got there first) or the poll was cancelled:
            // not an access; keep the schedule and look again when the guard allows.
            next = old;
            if (outcome.Code == OutcomeCode.RepeatCallLimit)
                notBefore = outcome.NextAllowedAt ?? now + config.Interval;
        }
        else
        {
            var serverBusy = outcome.ServerBusy || BackoffPolicy.IsServerBusy(outcome.Code, outcome.Protocol?.FailedCommand?.ExceptionCode);
            next = old.OnOutcome(config.Backoff, outcome.Code, now, _random, serverBusy);
            if (next.NextDue is not null && next.LastDecision is { } decision)
            {
                var plan = RepeatCallGuard.Plan(decision, _book.LedgerOf(config.Number), _book.Profile);
                next = next with { NextDue = plan.At };
                if (plan.At is { } at)
                    Log.RetryScheduled(_logger, config.Name, next.FailedAttempts, at, plan.Reason);
            }
        }

        OperatorAlarm? exhausted = null;
        if (next.Exhausted && !old.Exhausted)
        {
            // Decision: after give-up the outstation falls back to its regular interval (the guard still applies),
            // so a repaired line recovers without an operator; the alarm is raised once until a success.
            exhausted = new OperatorAlarm(now, AlarmKind.RetriesExhausted, config.Name, config.Number, $"{outcome.Code} after {next.FailedAttempts} failed attempt(s): {next.LastDecision?.Reason}; last reply '{outcome.Reply}'");
            await _book.AppendEventAsync(new LedgerEvent(now, config.Number, LedgerEventKind.AlarmRaised, $"outstation {config.Name}: retries exhausted: {exhausted.Cause}") { Modem = outcome.Modem }, cancellationToken).ConfigureAwait(false);
        }

        if (_store is not null)
        {
            await _store.SaveRetryScheduleAsync(config.Name, next, cancellationToken).ConfigureAwait(false);
            await _store.AppendTransactionAsync(ToRecord(outcome), cancellationToken).ConfigureAwait(false);
        }

        lock (_gate)
        {
            e.Retry = next;
            if (outcome.Category != OutcomeCategory.Scheduling)
                e.RegularDue = outcome.StartedAt + config.Interval;
            e.NotBefore = notBefore;
            if (exhausted is not null)
                AddAlarm(exhausted);
            RaiseLedgerAlarm(e, now);
            Reindex(e);
            Log.PollCompleted(_logger, config.Name, outcome.Modem, outcome.Code, DueAt(e));
        }
    }

    private async Task FinishWithoutDialAsync(PollOutcome outcome, List<OnDemand> waiters, CancellationToken cancellationToken)
    {
        if (_store is not null)
            await _store.AppendTransactionAsync(ToRecord(outcome), cancellationToken).ConfigureAwait(false);
        foreach (var w in waiters)
        {
            w.Completion.TrySetResult(outcome);
        }
    }

    /// <summary>One alarm per number while its ledger's alarm is up (research §3.4.4); a reset or success re-arms it.</summary>
    private void RaiseLedgerAlarm(Entry e, DateTimeOffset now)
    {
        var ledger = _book.LedgerOf(e.Config.Number);
        if (!ledger.AlarmRaised)
        {
            _alarmedNumbers.Remove(ledger.Number);
            return;
        }

        if (!_alarmedNumbers.Add(ledger.Number))
            return;
        var locked = ledger.State == LedgerState.Locked;
        var cause = locked
            ? $"number locked: {ledger.LockReason}; {(ledger.ReleaseAt is { } r ? $"auto-release at {r:O}" : "operator reset required")}"
            : $"modem block: {string.Join(", ", ledger.ModemBlocks.Select(b => $"{b.Modem} '{b.RawReply}'"))}";
        AddAlarm(new OperatorAlarm(now, locked ? AlarmKind.NumberLocked : AlarmKind.ModemBlocked, e.Config.Name, ledger.Number, cause));
    }

    private void AddAlarm(OperatorAlarm alarm)
    {
        _alarms.Add(alarm);
        _alarmChannel.Writer.TryWrite(alarm);
        Log.Alarm(_logger, alarm.Kind, alarm.Outstation, alarm.Number, alarm.Cause);
    }

    private static PollOutcome Refused(Entry e, OutcomeCode code, string reply, DateTimeOffset now, DateTimeOffset? nextAllowed) =>
        new(e.Config.Name, e.Config.Number, code, null, [], reply, null, now, now, nextAllowed);

    private static TransactionRecord ToRecord(PollOutcome o) =>
        new(o.StartedAt, o.EndedAt, o.Outstation, o.Number, o.Code, o.Modem, [.. o.ModemsTried.Select(m => m.ModemName)], o.Reply);

    /// <summary>When the outstation is next due: its pending retry, else its regular time; never before NotBefore; inside its window.</summary>
    private DateTimeOffset DueAt(Entry e)
    {
        var due = e.Retry.NextDue ?? e.RegularDue;
        if (e.NotBefore is { } nb && nb > due)
            due = nb;
        return e.Config.Window is { } w ? w.NextOpening(due, _time.LocalTimeZone) : due;
    }

    private void Park(DateTimeOffset? wakeAt)
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            _park = new ParkState(_park.Sequence + 1, wakeAt, _running);
            _parked = true;
            changed = _parkChanged;
            _parkChanged = NewSignal();
        }

        changed.TrySetResult();
    }

    /// <summary>
    /// Arms the alarm for <paramref name="delay"/> (none: sleep until signalled), announces the park and returns the
    /// wake-up signal to wait on; a zero delay returns at once, as a completed delay did.
    /// </summary>
    private Task ArmAndPark(ITimer alarm, Task wake, DateTimeOffset? wakeAt, TimeSpan? delay)
    {
        // Rounded UP to whole milliseconds: Task.Delay truncates to milliseconds, so a wake-up 0.3 ms away became a
        // completed delay and the loop re-planned at the same instant until the clock moved — a busy loop for up to
        // 1 ms on the system clock, and for ever on a virtual one (found by the scale bench, issue 9). Kept with the
        // alarm so the loop wakes at exactly the instants it always has.
        var wait = delay is { } d && d > TimeSpan.Zero ? CeilingToMilliseconds(d) : delay is null ? Timeout.InfiniteTimeSpan : TimeSpan.Zero;
        if (wait > TimeSpan.Zero)
            alarm.Change(wait, Timeout.InfiniteTimeSpan);

        // Announce the park only once the alarm is armed: a fake clock advanced right after must fire it (so the
        // announced wake-up is the rounded one).
        Park(wakeAt is { } at && delay is { } asked && asked > TimeSpan.Zero ? at + (wait - asked) : wakeAt);
        return wait == TimeSpan.Zero ? Task.CompletedTask : wake;
    }

    /// <summary>The alarm fired, the run is stopping or capacity changed: plan again.</summary>
    private void WakeUp()
    {
        lock (_gate)
        {
            _wake.TrySetResult();
        }
    }

    private static TimeSpan CeilingToMilliseconds(TimeSpan d) =>
        TimeSpan.FromTicks((d.Ticks + TimeSpan.TicksPerMillisecond - 1) / TimeSpan.TicksPerMillisecond * TimeSpan.TicksPerMillisecond);

    /// <summary>Where the loop rests: <see cref="Sequence"/> counts parks, <see cref="WakeAt"/> is its timer (null = none).</summary>
    internal readonly record struct ParkState(long Sequence, DateTimeOffset? WakeAt, int Running);

    private sealed record OnDemand(TaskCompletionSource<PollOutcome> Completion, DateTimeOffset RequestedAt);

    private enum Disposition
    {
        Dispatched,
        NoSlot,
        Deferred,
        TimedOut,
    }

    private static readonly List<OnDemand> NoWaiters = [];

    /// <summary>Ready-queue order (issue 6): higher priority first, then the earlier due time, then the name.</summary>
    private sealed class ReadyOrder : IComparer<Entry>
    {
        public static readonly ReadyOrder Instance = new();

        public int Compare(Entry? x, Entry? y)
        {
            if (ReferenceEquals(x, y))
                return 0;
            if (x is null)
                return -1;
            if (y is null)
                return 1;
            var c = y.Config.Priority.CompareTo(x.Config.Priority);
            if (c != 0)
                return c;
            c = x.ReadyDue.CompareTo(y.ReadyDue);
            if (c != 0)
                return c;
            c = string.CompareOrdinal(x.Config.Name, y.Config.Name);
            return c != 0 ? c : x.Index.CompareTo(y.Index);
        }
    }

    private sealed class Entry(OutstationSchedule config, int index)
    {
        public OutstationSchedule Config { get; } = config;

        public int Index { get; } = index;

        /// <summary>Bumped whenever the due time may have moved: heap items with an older version are stale.</summary>
        public int Version { get; set; }

        /// <summary>In the ready queue, keyed by <see cref="ReadyDue"/> (fixed while queued).</summary>
        public bool Queued { get; set; }

        public DateTimeOffset ReadyDue { get; set; }

        /// <summary>Decided in the current planning pass; re-indexed at its end.</summary>
        public bool Touched { get; set; }

        public RetrySchedule Retry { get; set; } = RetrySchedule.Initial;

        public DateTimeOffset RegularDue { get; set; }

        /// <summary>Set by the guard or a queue timeout; cleared when the outstation is next polled.</summary>
        public DateTimeOffset? NotBefore { get; set; }

        public bool Running { get; set; }

        /// <summary>Owned by another host (active/active): off the timeline until <see cref="ResumeOwnedAsync"/>.</summary>
        public bool Foreign { get; set; }

        public List<OnDemand> Waiters { get; } = [];
    }
}
