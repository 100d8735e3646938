using System.Diagnostics;
using ChannelManager.Core;
using ChannelManager.Core.Channels;
using ChannelManager.Core.Modems;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Scheduling;
using ChannelManager.Core.Transport;
using ChannelManager.HardwareSim.Exchange;
using ChannelManager.HardwareSim.Modems;
using ChannelManager.HardwareSim.Outstations;

namespace ChannelManager.Benchmarks.Scale;

/// <summary>What one scale run measured (issue 9 item 2).</summary>
internal sealed record ScaleResult(
    ScaleWorkload Workload,
    TimeSpan Wall,
    long SimulatedCalls,
    long ReachedLine,
    long CompletedPolls,
    long PollsRun,
    IReadOnlyDictionary<OutcomeCode, long> Outcomes,
    TimeSpan ModemBusy,
    TimeSpan DemandEstimate,
    TimeSpan PhysicalBound,
    IReadOnlyList<string> RepeatCallViolations,
    IReadOnlyList<string> ExchangeViolations,
    TimeSpan LatenessP50,
    TimeSpan LatenessP99,
    long PeakWorkingSet,
    long Steps,
    long TimersFired,
    long WorkItems,
    IReadOnlyDictionary<string, TimeSpan> Breakdown)
{
    /// <summary>min(demand, modems × hours): the most modem-time any channel manager could have used.</summary>
    public TimeSpan Bound => DemandEstimate < PhysicalBound ? DemandEstimate : PhysicalBound;

    public double Utilisation => Bound > TimeSpan.Zero ? ModemBusy / Bound : 0;
}

/// <summary>
/// The outcome figures of one run, written by <c>scale --json FILE</c> (wall-clock figures left out, so two runs of the
/// same workload compare equal: the simulation is deterministic). ScaleSmokeTests reads it.
/// </summary>
internal sealed record ScaleSummary(
    long SimulatedCalls,
    long ReachedLine,
    long PollsRun,
    long CompletedPolls,
    SortedDictionary<string, long> Outcomes,
    TimeSpan ModemBusy,
    TimeSpan PhysicalBound,
    TimeSpan DemandEstimate,
    double Utilisation,
    IReadOnlyList<string> RepeatCallViolations,
    IReadOnlyList<string> ExchangeViolations,
    TimeSpan LatenessP50,
    TimeSpan LatenessP99,
    long Steps,
    long TimersFired)
{
    public static ScaleSummary From(ScaleResult r) => new(
        r.SimulatedCalls,
        r.ReachedLine,
        r.PollsRun,
        r.CompletedPolls,
        new SortedDictionary<string, long>(r.Outcomes.ToDictionary(kv => kv.Key.ToString(), kv => kv.Value), StringComparer.Ordinal),
        r.ModemBusy,
        r.PhysicalBound,
        r.DemandEstimate,
        r.Utilisation,
        r.RepeatCallViolations,
        r.ExchangeViolations,
        r.LatenessP50,
        r.LatenessP99,
        r.Steps,
        r.TimersFired);
}

/// <summary>
/// The scale simulation: the real <see cref="PollScheduler"/>, <see cref="RepeatCallBook"/>,
/// <see cref="ModemChannelManager"/> (with health checks), <see cref="AtModem"/> and <see cref="ModbusRtuMaster"/>
/// against the in-process simulator (simulated modems, <see cref="PstnExchange"/>, <see cref="ModbusRtuOutstation"/>),
/// on a <see cref="VirtualClock"/> driven to quiescence: run everything that can run, then jump to the next timer.
/// </summary>
internal static class ScaleSimulation
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 5, 0, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// Runs the workload. The process's thread pool must be confined to one thread first
    /// (<see cref="Quiescence.ConfineThreadPool"/>): the run starts itself as a pool work item, so all of it happens there.
    /// </summary>
    public static Task<ScaleResult> RunAsync(ScaleWorkload w, TextWriter? progress, CancellationToken cancellationToken)
    {
        if (!Quiescence.IsConfined)
            throw new InvalidOperationException("Call Quiescence.ConfineThreadPool() first: the scale simulation's quiescence is exact only on a one-thread pool (a process of its own).");
        return Task.Run(() => RunOnPoolAsync(w, progress, cancellationToken), cancellationToken);
    }

    private static async Task<ScaleResult> RunOnPoolAsync(ScaleWorkload w, TextWriter? progress, CancellationToken cancellationToken)
    {
        var breakdown = new Dictionary<string, TimeSpan>();
        var wall = Stopwatch.StartNew();
        var phase = Stopwatch.StartNew();
        var clock = new VirtualClock(T0);
        var random = new Random(w.Seed);
        var end = T0 + TimeSpan.FromHours(w.Hours);
        using var stopSim = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);

        // The network: every outstation a Modbus RTU unit behind its own number, with the workload's fault mix.
        var exchange = new PstnExchange(clock);
        var schedules = new List<OutstationSchedule>(w.Outstations);
        var intervals = PickIntervals(w, random);
        var backoff = BackoffPolicy.From(new BackoffOptions { Initial = TimeSpan.FromSeconds(30), Max = TimeSpan.FromSeconds(120), Factor = 2, MaxAttempts = 3 });
        var driverOptions = new ModbusRtuOptions { UnitId = 1, BaudRate = 9600, Parity = SerialParity.Even, ResponseTimeout = w.SlowTurnaround + TimeSpan.FromSeconds(1) };
        var master = new ModbusRtuMaster(driverOptions, clock);
        IReadOnlyList<ProtocolCommand> commands = [.. Enumerable.Range(0, w.CommandsPerPoll).Select(i => (ProtocolCommand)new ReadHoldingRegisters((ushort)(i * 10), 10))];
        var phases = new Dictionary<string, DateTimeOffset>(w.Outstations, StringComparer.Ordinal);
        for (var i = 0; i < w.Outstations; i++)
        {
            var number = $"0199{i:D6}";
            var map = new ModbusRegisterMap(Math.Max(16, w.CommandsPerPoll * 10));
            var slow = random.NextDouble() < w.SlowOutstations;
            var rtu = new ModbusRtuOutstation(1, clock, map) { Fault = OutstationFault.SlowReply(slow ? w.SlowTurnaround : w.Turnaround) };
            exchange.AddLine(number, LineFor(w, random, rtu));
            var name = $"RTU-{i:D5}";
            schedules.Add(new OutstationSchedule(name, number, master, commands, intervals[i], backoff));

            // Steady state, not a cold start: each outstation was last polled at a random point of its interval.
            phases[name] = T0 - intervals[i] * random.NextDouble();
        }

        // The modems: simulated ones on in-memory "serial ports", each driven by the real AT engine.
        string[] faultNames = [.. w.FaultyModems];
        var behaviours = Enumerable.Range(1, w.Modems).Select(i => new ModemBehaviour
        {
            Name = $"M{i:D2}",
            Fault = i <= faultNames.Length ? Enum.Parse<ModemFault>(faultNames[i - 1], ignoreCase: true) : ModemFault.None,
            SRegisters = { [7] = 60 },
        }).ToList();
        var ports = SimulatedModemBank.StartInProcess(behaviours, exchange, clock, stopSim.Token);
        var modems = ports.Select(p => new TimedModem(new AtModem(p.HostEnd, ownsTransport: true, new AtModemOptions
        {
            Name = p.Modem.Name, CommandTimeout = TimeSpan.FromSeconds(2), DialTimeout = TimeSpan.FromSeconds(70), EscapeGuardTime = TimeSpan.FromSeconds(1.1),
        }, clock), clock)).ToList();
        await using var channels = new ModemChannelManager(modems.Select(m => ((IModemDevice)m, ModemRole.Default)), new ChannelManagerOptions
        {
            MaxQueueTime = TimeSpan.FromMinutes(2), MinOnHookTime = w.MinOnHookTime, HangUpTimeout = TimeSpan.FromSeconds(15),
        }, clock);

        var store = new PhaseStore(phases);
        CountingExecutor? counting = null;
        var chain = PollingChain.Build(channels, schedules, CountryProfiles.Get(w.Profile), store, new SchedulerOptions { MaxQueueTime = w.MaxQueueTime }, clock,
            random.NextDouble, wrapExecutor: transaction => counting = new CountingExecutor(transaction));
        var executor = counting!;
        var scheduler = chain.Scheduler;
        var lateness = new List<long>(capacity: 1 << 16);
        scheduler.Dispatched = (due, now) => lateness.Add((now - due).Ticks);
        breakdown["build world"] = phase.Elapsed;

        // Run: quiesce, jump to the next timer, repeat until the simulated day is over.
        phase.Restart();
        var itemsBefore = ThreadPool.CompletedWorkItemCount;
        var run = scheduler.RunAsync(stopSim.Token);
        var health = channels.RunHealthChecksAsync(stopSim.Token);
        var nextReport = T0 + TimeSpan.FromHours(1);
        var peak = 0L;

        // The split between the two phases is timed on one step in SplitSample and scaled up: timing every step
        // cost ~4 % of the run on this VM, where each clock read is a paravirtualised clock_gettime (perf, issue 9).
        const int SplitSample = 16;
        long quietTicks = 0, fireTicks = 0, steps = 0, sampledSteps = 0;

        // Exact quiescence (Quiescence): run every queued work item, then jump to the next timer; repeat.
        while (clock.GetUtcNow() < end)
        {
            var timed = steps++ % SplitSample == 0;
            var t0 = timed ? Stopwatch.GetTimestamp() : 0;
            await Quiescence.UntilQuietAsync();
            var t1 = timed ? Stopwatch.GetTimestamp() : 0;
            if (run.IsCompleted)
                await run.ConfigureAwait(false);   // a faulted scheduler ends the run with its exception
            clock.AdvanceToNext(end);
            if (timed)
            {
                quietTicks += t1 - t0;
                fireTicks += Stopwatch.GetTimestamp() - t1;
                sampledSteps++;
            }

            if (clock.GetUtcNow() >= nextReport)
            {
                peak = Math.Max(peak, Environment.WorkingSet);
                progress?.WriteLine($"  {clock.GetUtcNow() - T0:hh\\:mm} simulated, {executor.Runs} polls, {wall.Elapsed.TotalSeconds:F1} s wall");
                nextReport += TimeSpan.FromHours(1);
            }
        }

        await Quiescence.UntilQuietAsync();
        var workItems = ThreadPool.CompletedWorkItemCount - itemsBefore;
        var scale = sampledSteps == 0 ? 0 : (double)steps / sampledSteps;
        breakdown[$"run: work between timer instants (queued work items; 1 step in {SplitSample} timed)"] = Stopwatch.GetElapsedTime(0, (long)(quietTicks * scale));
        breakdown[$"run: firing timers (work inline on the driver; 1 step in {SplitSample} timed)"] = Stopwatch.GetElapsedTime(0, (long)(fireTicks * scale));
        peak = Math.Max(peak, Environment.WorkingSet);
        foreach (var m in modems)
            m.Stop();

        // Stop: cancel, then keep the clock moving so every timer-bound shutdown path can finish.
        phase.Restart();
        await stopSim.CancelAsync().ConfigureAwait(false);
        var stopped = Task.WhenAll(run, health);
        for (var i = 0; i < 100_000 && !stopped.IsCompleted; i++)
        {
            await Quiescence.UntilQuietAsync();
            if (!stopped.IsCompleted && !clock.AdvanceToNext(clock.GetUtcNow() + TimeSpan.FromDays(1)))
                break;
        }

        if (!stopped.IsCompleted)
            throw new InvalidOperationException("The simulated system did not stop after cancellation with no timer left (a lost wake-up).");
        try
        {
            await stopped.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        breakdown["shut down"] = phase.Elapsed;

        phase.Restart();
        var log = exchange.CallLog.Where(c => c.At < end).ToList();
        var violations = RepeatCallOracle.Check(log, CountryProfiles.Get(w.Profile));
        breakdown["check call log"] = phase.Elapsed;

        var busy = TimeSpan.FromTicks(modems.Sum(m => m.Busy.Ticks));
        var completed = executor.Outcomes.GetValueOrDefault(OutcomeCode.Success);
        var meanCall = executor.DialledRuns == 0 ? TimeSpan.Zero : executor.DialledTime / executor.DialledRuns;

        // Demand: the modem-time of every poll the schedule asked for in the window (one per interval per outstation,
        // or the polls actually dispatched if retries made that more), at the mean modem-time of a dialled poll.
        var pollsDue = Math.Max(intervals.Sum(iv => TimeSpan.FromHours(w.Hours) / iv), executor.DialledRuns);
        var demand = meanCall * pollsDue;
        lateness.Sort();
        return new ScaleResult(
            w,
            wall.Elapsed,
            log.Count,
            log.Count(c => c.ReachedLine),
            completed,
            executor.Runs,
            executor.Outcomes,
            busy,
            demand,
            TimeSpan.FromHours(w.Hours) * w.Modems,
            violations,
            exchange.Violations,
            Percentile(lateness, 0.50),
            Percentile(lateness, 0.99),
            peak,
            clock.Steps,
            clock.TimersFired,
            workItems,
            breakdown);
    }

    private static TimeSpan Percentile(List<long> sorted, double p) =>
        sorted.Count == 0 ? TimeSpan.Zero : TimeSpan.FromTicks(sorted[Math.Min(sorted.Count - 1, (int)(p * sorted.Count))]);

    private static TimeSpan[] PickIntervals(ScaleWorkload w, Random random)
    {
        var total = w.Intervals.Sum(s => s.Share);
        var result = new TimeSpan[w.Outstations];
        for (var i = 0; i < w.Outstations; i++)
        {
            var r = random.NextDouble() * total;
            var pick = w.Intervals[^1].Interval;
            foreach (var s in w.Intervals)
            {
                if ((r -= s.Share) < 0)
                {
                    pick = s.Interval;
                    break;
                }
            }

            result[i] = pick;
        }

        return result;
    }

    /// <summary>
    /// What the line does on each call, as a fixed per-number sequence drawn from the seed (the exchange picks the nth
    /// step for the nth call): healthy, intermittently busy, intermittently unanswered, or dead (never answers).
    /// </summary>
    private static LineBehaviour LineFor(ScaleWorkload w, Random random, ModbusRtuOutstation rtu)
    {
        const int steps = 200;
        var answer = new LineBehaviour.Answer(w.AnswerDelayMin + (w.AnswerDelayMax - w.AnswerDelayMin) * random.NextDouble(), rtu.ServeAsync);
        var kind = random.NextDouble();
        if (kind < w.DeadNumbers)
            return new LineBehaviour.NoAnswer(w.NoAnswerAfter);
        kind -= w.DeadNumbers;
        LineBehaviour? sometimes = null;
        double share = 0;
        if (kind < w.BusyNumbers)
            (sometimes, share) = (new LineBehaviour.Busy(w.BusyAfter), w.BusyShare);
        else if (kind < w.BusyNumbers + w.NoAnswerNumbers)
            (sometimes, share) = (new LineBehaviour.NoAnswer(w.NoAnswerAfter), w.NoAnswerShare);
        if (sometimes is null)
            return answer;
        var sequence = new LineBehaviour[steps];
        for (var i = 0; i < steps; i++)
            sequence[i] = random.NextDouble() < share ? sometimes : answer;
        sequence[^1] = answer;
        return new LineBehaviour.Sequence(sequence);
    }

    /// <summary>Counts what the scheduler ran; the per-poll modem-time of dialled polls gives the demand estimate.</summary>
    private sealed class CountingExecutor(IPollExecutor inner) : IPollExecutor
    {
        private readonly Lock _gate = new();
        private readonly Dictionary<OutcomeCode, long> _outcomes = [];

        public long Runs { get; private set; }

        public long DialledRuns { get; private set; }

        public TimeSpan DialledTime { get; private set; }

        public IReadOnlyDictionary<OutcomeCode, long> Outcomes
        {
            get
            {
                lock (_gate)
                {
                    return new Dictionary<OutcomeCode, long>(_outcomes);
                }
            }
        }

        public async Task<PollOutcome> RunAsync(PollRequest request, CancellationToken cancellationToken)
        {
            var outcome = await inner.RunAsync(request, cancellationToken).ConfigureAwait(false);
            lock (_gate)
            {
                Runs++;
                _outcomes[outcome.Code] = _outcomes.GetValueOrDefault(outcome.Code) + 1;
                if (outcome.Code.ReachedTheLine())
                {
                    DialledRuns++;
                    DialledTime += outcome.EndedAt - outcome.StartedAt;
                }
            }

            return outcome;
        }
    }

    /// <summary>
    /// An in-memory state store that only seeds each outstation's last access (the steady-state phase) and drops
    /// writes: the scale run measures the scheduling stack, not SQLite (its cost is in docs/performance.md's note).
    /// </summary>
    private sealed class PhaseStore(IReadOnlyDictionary<string, DateTimeOffset> lastAccess) : IStateStore
    {
        public Task<IReadOnlyList<NumberLedger>> LoadLedgersAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<NumberLedger>>([]);

        public Task SaveLedgerAsync(LedgerUpdate update, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task<IReadOnlyDictionary<string, RetrySchedule>> LoadRetrySchedulesAsync(CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyDictionary<string, RetrySchedule>>(lastAccess.ToDictionary(kv => kv.Key, kv => RetrySchedule.Initial with { LastAccess = kv.Value }, StringComparer.Ordinal));

        public Task SaveRetryScheduleAsync(string outstation, RetrySchedule schedule, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task AppendTransactionAsync(TransactionRecord record, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task<IReadOnlyList<TransactionRecord>> ReadTransactionsAsync(int max, string? outstation, CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<TransactionRecord>>([]);

        public Task<IReadOnlyList<LedgerEvent>> ReadLedgerEventsAsync(int max, string? number, CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<LedgerEvent>>([]);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
