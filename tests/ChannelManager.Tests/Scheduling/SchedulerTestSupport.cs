using ChannelManager.Core;
using ChannelManager.Core.Channels;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Scheduling;
using Microsoft.Extensions.Time.Testing;

namespace ChannelManager.Tests.Scheduling;

/// <summary>What the scripted outstation does on one call: an outcome code, optionally "server busy" (Modbus exception 06).</summary>
internal readonly record struct ScriptedReply(OutcomeCode Code, bool ServerBusy = false)
{
    public static implicit operator ScriptedReply(OutcomeCode code) => new(code);
}

/// <summary>One dial the scripted executor made (it passed the guard).</summary>
internal sealed record ScriptedCall(string Outstation, string Number, DateTimeOffset OffHook, DateTimeOffset OnHook, OutcomeCode Code);

/// <summary>
/// An <see cref="IPollExecutor"/> that goes through the real <see cref="RepeatCallBook"/> exactly as
/// <see cref="PollTransaction"/> does (begin before the "dial", complete after), with scripted outcomes and an
/// optional call duration on the fake clock. Counts concurrency and guard refusals.
/// </summary>
internal sealed class ScriptedPollExecutor(RepeatCallBook book, TimeProvider time, Func<string, int, ScriptedReply> script) : IPollExecutor
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, int> _perOutstation = new(StringComparer.Ordinal);
    private readonly List<DateTimeOffset> _ends = [];
    private int _inFlight;

    /// <summary>Calls parked in their (fake-clock) duration right now.</summary>
    public int WaitingInCall
    {
        get
        {
            lock (_gate)
            {
                return _ends.Count;
            }
        }
    }

    /// <summary>The earliest end of a call in progress after <paramref name="now"/>, for the driver.</summary>
    public DateTimeOffset? NextCallEnd(DateTimeOffset now)
    {
        lock (_gate)
        {
            var pending = _ends.Where(e => e > now).ToList();
            return pending.Count == 0 ? null : pending.Min();
        }
    }

    public TimeSpan CallDuration { get; init; }

    /// <summary>When set, the next dial to this outstation starts (ledger persisted) and then never ends: a crash mid-dial.</summary>
    public string? HangOn { get; set; }

    public List<ScriptedCall> Calls { get; } = [];

    public List<(string Outstation, DateTimeOffset At)> Refusals { get; } = [];

    public int MaxInFlight { get; private set; }

    public IReadOnlyList<ScriptedCall> CallsTo(string outstation)
    {
        lock (_gate)
        {
            return [.. Calls.Where(c => c.Outstation == outstation)];
        }
    }

    public async Task<PollOutcome> RunAsync(PollRequest request, CancellationToken cancellationToken)
    {
        var started = time.GetUtcNow();
        var guard = await book.TryBeginAttemptAsync(request.Number, started, null, cancellationToken);
        if (!guard.Allowed)
        {
            lock (_gate)
            {
                Refusals.Add((request.Outstation, started));
            }

            return new PollOutcome(request.Outstation, request.Number, OutcomeCode.RepeatCallLimit, null, [], guard.Detail, null, started, started, guard.NextAllowedAt);
        }

        if (HangOn == request.Outstation)
        {
            // Simulates the process dying mid-dial: "attempt started" is persisted, the on-hook never is.
            await Task.Delay(Timeout.InfiniteTimeSpan, time, cancellationToken);
        }

        int index;
        lock (_gate)
        {
            _inFlight++;
            MaxInFlight = Math.Max(MaxInFlight, _inFlight);
            index = _perOutstation.GetValueOrDefault(request.Outstation);
            _perOutstation[request.Outstation] = index + 1;
        }

        if (CallDuration > TimeSpan.Zero)
        {
            lock (_gate)
            {
                _ends.Add(started + CallDuration);
            }

            try
            {
                await Task.Delay(CallDuration, time, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                // As PollTransaction does: the call is abandoned on-hook and closed in the ledger.
                await book.CompleteAsync(request.Number, new AttemptResult(OutcomeCode.Cancelled, time.GetUtcNow()));
                throw;
            }
            finally
            {
                lock (_gate)
                {
                    _ends.Remove(started + CallDuration);
                    _inFlight--;
                }
            }
        }

        var reply = script(request.Outstation, index);
        var ended = time.GetUtcNow();
        await book.CompleteAsync(request.Number, new AttemptResult(reply.Code, ended) { Modem = "M1", RawReply = reply.Code.ToString() });
        lock (_gate)
        {
            if (CallDuration <= TimeSpan.Zero)
                _inFlight--;
            Calls.Add(new ScriptedCall(request.Outstation, request.Number, started, ended, reply.Code));
        }

        ProtocolResult? protocol = reply.ServerBusy
            ? new ProtocolResult(reply.Code, [new CommandResult(new ReadHoldingRegisters(0, 1), reply.Code, 1) { ExceptionCode = 0x06, ServerBusy = true }])
            : null;
        return new PollOutcome(request.Outstation, request.Number, reply.Code, "M1", [new ModemAttempt("M1", reply.Code, reply.Code.ToString(), ended)], reply.Code.ToString(), protocol, started, ended, book.LedgerOf(request.Number).NextAllowedAt);
    }
}

/// <summary>An in-memory <see cref="IStateStore"/> that keeps every write, for asserting what the scheduler persisted.</summary>
internal sealed class RecordingStateStore : IStateStore
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, NumberLedger> _ledgers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RetrySchedule> _schedules = new(StringComparer.Ordinal);

    public List<TransactionRecord> Transactions { get; } = [];

    public List<LedgerEvent> LedgerEvents { get; } = [];

    public List<(string Outstation, RetrySchedule Schedule)> ScheduleWrites { get; } = [];

    public Task<IReadOnlyList<NumberLedger>> LoadLedgersAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<NumberLedger>>([.. _ledgers.Values]);
        }
    }

    public Task SaveLedgerAsync(LedgerUpdate update, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _ledgers[update.Ledger.Number] = update.Ledger;
            LedgerEvents.AddRange(update.Events);
        }

        return Task.CompletedTask;
    }

    public Task<IReadOnlyDictionary<string, RetrySchedule>> LoadRetrySchedulesAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyDictionary<string, RetrySchedule>>(new Dictionary<string, RetrySchedule>(_schedules, StringComparer.Ordinal));
        }
    }

    public Task SaveRetryScheduleAsync(string outstation, RetrySchedule schedule, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _schedules[outstation] = schedule;
            ScheduleWrites.Add((outstation, schedule));
        }

        return Task.CompletedTask;
    }

    public Task AppendTransactionAsync(TransactionRecord record, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            Transactions.Add(record);
        }

        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<TransactionRecord>> ReadTransactionsAsync(int max, string? outstation, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<TransactionRecord>>([.. Transactions.Where(t => outstation is null || t.Outstation == outstation).Reverse().Take(max)]);
        }
    }

    public Task<IReadOnlyList<LedgerEvent>> ReadLedgerEventsAsync(int max, string? number, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<LedgerEvent>>([.. LedgerEvents.Where(e => number is null || e.Number == number).Reverse().Take(max)]);
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>
/// Drives a <see cref="PollScheduler"/> on a <see cref="FakeTimeProvider"/> (whose timers fire only on Advance):
/// wait until the loop is parked with nothing running, jump the clock to its wake-up time, repeat — bounded, and
/// every wait has a real-time timeout so a hang fails the test.
/// </summary>
internal sealed class SchedulerDriver(PollScheduler scheduler, FakeTimeProvider time)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    // The loop must park again after a timer fired (_seen); until then its last park (_last) still stands.
    private long _seen;
    private long _last;

    /// <summary>Polls allowed to stay running while the loop counts as settled (a dial hung on purpose).</summary>
    public int Hung { get; set; }

    /// <summary>Waits for the loop to rest with nothing (but <see cref="Hung"/>) running; returns when it will wake (null = only on a request).</summary>
    public async Task<DateTimeOffset?> SettleAsync()
    {
        using var cts = new CancellationTokenSource(Timeout);
        var park = await scheduler.WaitForParkAsync(_seen, Hung, cts.Token);
        _last = park.Sequence;
        return park.WakeAt;
    }

    /// <summary>
    /// With calls that take fake time: waits until the loop rests and every running poll is parked in its call's
    /// delay (<paramref name="waitingInCall"/>), so nothing is half-processed when the clock moves. Polls real time
    /// in 1 ms steps only to let other threads finish; the bound turns a hang into a failure.
    /// </summary>
    public async Task<DateTimeOffset?> SettleWithCallsAsync(Func<int> waitingInCall)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < Timeout)
        {
            var running = scheduler.RunningNow;
            var waiting = waitingInCall();
            if (running == waiting && scheduler.CurrentPark(_seen) is { } park)
            {
                _last = park.Sequence;
                return park.WakeAt;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(1), TimeProvider.System);
        }

        throw new TimeoutException("The scheduler did not settle.");
    }

    /// <summary>
    /// Runs the schedule up to <paramref name="end"/>: every timer due at or before it fires, in order.
    /// <paramref name="otherTimer"/> reports timers outside the scheduler (calls in progress on the fake clock).
    /// </summary>
    public async Task RunUntilAsync(DateTimeOffset end, ScriptedPollExecutor? calls = null, int maxSteps = 1_000_000)
    {
        for (var step = 0; step < maxSteps; step++)
        {
            var wake = calls is null ? await SettleAsync() : await SettleWithCallsAsync(() => calls.WaitingInCall);
            var now = time.GetUtcNow();
            var other = calls?.NextCallEnd(now);
            var next = other is { } o && (wake is null || o < wake) ? o : wake;
            if (next is not { } at || at > end)
            {
                if (end > now)
                    time.Advance(end - now);

                return;   // no timer fired: the current park still stands
            }

            _seen = _last;
            time.Advance(at > now ? at - now : TimeSpan.Zero);
        }

        throw new InvalidOperationException($"Schedule did not reach {end:O} in {maxSteps} steps.");
    }
}
