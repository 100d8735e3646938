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
using ChannelManager.Persistence.Sqlite;
using Microsoft.Extensions.Logging;

namespace ChannelManager.Host.Demo;

/// <summary>
/// One outstation of the demo: its scripted line behaviour, how it is polled, and what the script makes it do —
/// the failure code its behaviour produces (null = healthy) and whether it should recover within the run.
/// </summary>
internal sealed record DemoOutstation(string Name, string Number, string Behaviour, OutcomeCode? ScriptedFailure, bool Recovers, OutstationSchedule Schedule);

/// <summary>One simulated modem of the demo bank and the fault scripted into it.</summary>
internal sealed record DemoModem(string Name, ModemFault Fault, string Behaviour);

/// <summary>
/// The embedded demo bank: simulated modems on in-memory ports and a simulated PSTN exchange with scripted
/// outstations behind it, and the real stack on top — AT engine, Channel Manager, Modbus master, repeat-call
/// book (UK profile) on a SQLite state store, <see cref="PollTransaction"/> and <see cref="PollScheduler"/> with
/// per-outstation back-off, assembled by <see cref="PollingChain"/> as <c>run</c> assembles them. Nothing but the
/// hardware is simulated; the clock is a <see cref="SkipAheadTimeProvider"/>.
/// </summary>
internal sealed class DemoWorld : IAsyncDisposable
{
    /// <summary>The virtual start: a fixed Monday morning, so runs (and their printed times) repeat.</summary>
    public static readonly DateTimeOffset VirtualStart = new(2026, 1, 5, 6, 0, 0, TimeSpan.Zero);

    /// <summary>The outstation an operator polls on demand after the guard has locked its number.</summary>
    public const string GuardOutstation = "RTU-10 Lagoon";

    /// <summary>The outstation whose line cannot be reached from M1's exchange line.</summary>
    public const string SecondModemOutstation = "RTU-09 Hilltop";

    /// <summary>The modem whose exchange line cannot reach <see cref="SecondModemOutstation"/>.</summary>
    public const string UnroutedModem = "M1";

    private readonly CancellationTokenSource _stop;
    private readonly string _databasePath;
    private readonly SqliteStateStore _store;

    private DemoWorld(
        SkipAheadTimeProvider clock,
        PstnExchange exchange,
        PollingChain chain,
        SqliteStateStore store,
        string databasePath,
        SchedulerEventLog events,
        IReadOnlyList<DemoOutstation> outstations,
        IReadOnlyList<DemoModem> modems,
        CancellationTokenSource stop)
    {
        Clock = clock;
        Exchange = exchange;
        Channels = chain.Channels;
        Ledger = chain.Book;
        _store = store;
        _databasePath = databasePath;
        Executor = (RecordingExecutor)chain.Executor; // CreateAsync wraps the transaction in one
        Scheduler = chain.Scheduler;
        Events = events;
        Outstations = outstations;
        BankModems = modems;
        _stop = stop;
    }

    /// <summary>The Channel Manager over the simulated bank (for the dashboard).</summary>
    public ModemChannelManager Channels { get; }

    /// <summary>The real poll scheduler driving every call (for the dashboard).</summary>
    public PollScheduler Scheduler { get; }

    /// <summary>The pool-wide repeat-call ledger, UK profile (for the dashboard).</summary>
    public RepeatCallBook Ledger { get; }

    /// <summary>The state store: ledger, retry schedules and the transaction log (a temporary SQLite file).</summary>
    public IStateStore Store => _store;

    /// <summary>The demo's clock (virtual time; see <see cref="SkipAheadTimeProvider"/>).</summary>
    public TimeProvider Time => Clock;

    internal SkipAheadTimeProvider Clock { get; }

    internal PstnExchange Exchange { get; }

    internal RecordingExecutor Executor { get; }

    internal SchedulerEventLog Events { get; }

    internal IReadOnlyList<DemoOutstation> Outstations { get; }

    internal IReadOnlyList<DemoModem> BankModems { get; }

    /// <summary>Builds the bank on a clock that starts at <see cref="VirtualStart"/> and runs at the speed of <paramref name="realTime"/>.</summary>
    public static async Task<DemoWorld> CreateAsync(TimeProvider realTime, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(realTime);
        var clock = new SkipAheadTimeProvider(realTime, VirtualStart);
        var exchange = new PstnExchange(clock);
        var stop = new CancellationTokenSource();

        // Realistic-but-short call timings (every call runs 1:1 in real time): answer after 0.1 s, Modbus
        // response timeout 0.8 s with 2 retries (ModbusRtuOptions), host dial timeout 5 s (AtModemOptions minimum).
        var answer = TimeSpan.FromMilliseconds(100);
        var outstations = new List<DemoOutstation>();

        LineBehaviour Rtu(byte unit, OutstationFault? fault = null)
        {
            var map = new ModbusRegisterMap();
            map.SetHoldingRegisters(0, (ushort)(1000 + unit), 2317, 48, 1);
            var rtu = new ModbusRtuOutstation(unit, clock, map) { Fault = fault };
            return new LineBehaviour.Answer(answer, rtu.ServeAsync);
        }

        void Add(int n, string name, string behaviour, OutcomeCode? failure, bool recovers, LineBehaviour line, BackoffOptions backoff, int priority = 0)
        {
            var number = $"0163296{n:D4}";
            exchange.AddLine(number, line);
            var unit = (byte)n;
            var driver = new ModbusRtuMaster(new ModbusRtuOptions { UnitId = unit, BaudRate = 19200, Parity = SerialParity.None, ResponseTimeout = TimeSpan.FromMilliseconds(800), TimeoutRetries = 2 }, clock);
            var schedule = new OutstationSchedule(name, number, driver, [new ReadHoldingRegisters(0, 4)], TimeSpan.FromHours(1), BackoffPolicy.From(backoff)) { Priority = priority };
            outstations.Add(new DemoOutstation(name, number, behaviour, failure, recovers, schedule));
        }

        // Back-off styles of design.md §4, per outstation: OMA-DM exponential (30 s ×2, 3 retries), seed 002 linear
        // (every 60 s, 3 attempts, then every 15 min; RTU-09: every 25 min), the VTScada/BABT redial cycle (1 min,
        // 3 min, then 20 min). The UK guard's gaps (2/4/6 min after on-hook) move the short ones later.
        var exponential = new BackoffOptions();
        var linear = new BackoffOptions { Strategy = BackoffStrategyKind.Linear, Delay = TimeSpan.FromSeconds(60), Attempts = 3, AttemptsExceededDelay = TimeSpan.FromMinutes(15) };
        var quietRetry = new BackoffOptions { Strategy = BackoffStrategyKind.Linear, Delay = TimeSpan.FromMinutes(25), Attempts = 3, AttemptsExceededDelay = TimeSpan.FromHours(1) };
        var cycle = new BackoffOptions { Strategy = BackoffStrategyKind.RedialCycle, CallIntervals = [TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(3)], CycleLength = 2, CycleDelay = TimeSpan.FromMinutes(20) };

        // Each scripted fault hits the first call(s) to its number (LineBehaviour.Sequence: the nth call gets the
        // nth step, the last repeats), so the run shows the failure, the back-off clamped by the repeat-call
        // guard, and the recovery. RTU-10 never answers, so the guard locks its number (UK: 4 attempts).
        // RTU-09 cannot be reached from M1's line: it runs first (priority), so its first call takes M1, and it
        // retries after 25 min, when the other outstations are quiet, so a retry that follows its own failed call
        // gets the next modem round-robin (design.md §2, seed 004 footnote **) and M1 cannot take four calls in a
        // row — which would lock the number under UK rules.
        Add(1, "RTU-01 Reservoir", "healthy", null, true, Rtu(1), exponential);
        Add(2, "RTU-02 Pump stn", "busy twice, then answers", OutcomeCode.Busy, true, new LineBehaviour.Sequence(new LineBehaviour.Busy(TimeSpan.FromMilliseconds(150)), new LineBehaviour.Busy(TimeSpan.FromMilliseconds(150)), Rtu(2)), exponential);
        Add(3, "RTU-03 Borehole", "rings out once (no answer)", OutcomeCode.NoAnswer, true, new LineBehaviour.Sequence(new LineBehaviour.NoAnswer(TimeSpan.FromMilliseconds(250)), Rtu(3)), linear);
        Add(4, "RTU-04 Sewage PS", "voice answers once (no carrier)", OutcomeCode.NoCarrier, true, new LineBehaviour.Sequence(new LineBehaviour.NoCarrier(TimeSpan.FromMilliseconds(200)), Rtu(4)), cycle);
        Add(5, "RTU-05 Valve ch.", "silent line once (dial timeout)", OutcomeCode.DialTimeout, true, new LineBehaviour.Sequence(new LineBehaviour.Silent(ModemStaysSilent: true), Rtu(5)), exponential);
        // RTU-06's slow reply must miss the master's whole budget (3 × 0.8 s, each retry timer armed when the last
        // fired) by far more than a loaded machine can delay that chain: Modbus RTU has no transaction id, so a reply
        // to the first request arriving while the last retry waits is rightly taken as its answer. At 3 s (0.6 s of
        // margin) a starved CI pool once turned the scripted timeout into a success. Its recovery reply is likewise
        // well inside 0.8 s.
        Add(6, "RTU-06 River gauge", "slow: 10 s reply, then 0.25 s", OutcomeCode.CommandTimeout, true, new LineBehaviour.Sequence(Rtu(6, OutstationFault.SlowReply(TimeSpan.FromSeconds(10))), Rtu(6, OutstationFault.SlowReply(TimeSpan.FromMilliseconds(250)))), linear);
        Add(7, "RTU-07 Booster", "Modbus exception 04 once", OutcomeCode.ExceptionResponse, true, new LineBehaviour.Sequence(Rtu(7, OutstationFault.Exception(ModbusExceptionCode.ServerDeviceFailure)), Rtu(7)), exponential);
        Add(8, "RTU-08 Outfall", "bad CRC once", OutcomeCode.MalformedFrame, true, new LineBehaviour.Sequence(Rtu(8, OutstationFault.BadCrc), Rtu(8)), cycle);
        Add(9, SecondModemOutstation, "unreachable from M1's line", OutcomeCode.NoCarrier, true, new ByCallingModem(Rtu(9), new Dictionary<string, LineBehaviour>(StringComparer.Ordinal) { [UnroutedModem] = new LineBehaviour.NoCarrier(TimeSpan.FromMilliseconds(200)) }), quietRetry, priority: 10);
        Add(10, GuardOutstation, "powered off: never answers", OutcomeCode.NoAnswer, false, new LineBehaviour.NoAnswer(TimeSpan.FromMilliseconds(250)), exponential);
        Add(11, "RTU-11 Tower", "healthy", null, true, Rtu(11), linear);
        Add(12, "RTU-12 Works", "healthy", null, true, Rtu(12), cycle);

        // M2 fails its init string, M4 has no dial tone: channel set-up faults, counted against the modem and
        // retried on the next modem in the same poll (seed 004 row 1). S12 = 3 (60 ms escape guard, V.250 §6.3.x)
        // keeps hang-ups quick; the AT engine's guard time must exceed the modem's or "+++" would be data.
        var bank = new[]
        {
            new DemoModem("M1", ModemFault.None, "healthy; its line cannot reach RTU-09"),
            new DemoModem("M2", ModemFault.InitError, "ERROR to its init string"),
            new DemoModem("M3", ModemFault.None, "healthy"),
            new DemoModem("M4", ModemFault.NoDialTone, "no dial tone"),
            new DemoModem("M5", ModemFault.None, "healthy"),
        };
        var behaviours = bank.Select(m => new ModemBehaviour { Name = m.Name, Fault = m.Fault, SRegisters = { [6] = 1, [12] = 3 } });
        var ports = SimulatedModemBank.StartInProcess(behaviours, exchange, clock, stop.Token);
        var modems = ports.Select(p => ((IModemDevice)new AtModem(p.HostEnd, ownsTransport: true, new AtModemOptions
        {
            Name = p.Modem.Name,
            CommandTimeout = TimeSpan.FromSeconds(2),
            DialTimeout = TimeSpan.FromSeconds(5),
            EscapeGuardTime = TimeSpan.FromMilliseconds(150),
        }, clock), ModemRole.Default)).ToList();
        var channels = new ModemChannelManager(modems, new ChannelManagerOptions
        {
            MaxQueueTime = TimeSpan.FromSeconds(30),
            MinOnHookTime = TimeSpan.FromMilliseconds(500),
            HangUpTimeout = TimeSpan.FromSeconds(5),
        }, clock);

        var databasePath = Path.Combine(Path.GetTempPath(), $"channelmanager-demo-{Guid.NewGuid():N}.db");
        SqliteStateStore? store = null;
        try
        {
            store = await SqliteStateStore.OpenAsync(new SqliteStateStoreOptions { Path = databasePath }, cancellationToken).ConfigureAwait(false);
            var events = new SchedulerEventLog();

            // One poll per usable modem (M1, M3, M5): more would only queue inside the Channel Manager.
            var options = new SchedulerOptions { MaxConcurrency = bank.Count(m => m.Fault == ModemFault.None), MaxQueueTime = TimeSpan.FromMinutes(5) };
            var jitter = new Random(8);
            var jitterGate = new Lock();
            double Random()
            {
                lock (jitterGate)
                {
                    return jitter.NextDouble();
                }
            }

            var chain = PollingChain.Build(channels, outstations.Select(o => o.Schedule), CountryProfiles.UK, store, options, clock, Random, events, wrapExecutor: t => new RecordingExecutor(t));
            return new DemoWorld(clock, exchange, chain, store, databasePath, events, outstations, bank, stop);
        }
        catch
        {
            await channels.DisposeAsync().ConfigureAwait(false);
            if (store is not null)
                await store.DisposeAsync().ConfigureAwait(false);
            await stop.CancelAsync().ConfigureAwait(false);
            stop.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Channels.DisposeAsync().ConfigureAwait(false);
        await _stop.CancelAsync().ConfigureAwait(false);
        _stop.Dispose();
        await _store.DisposeAsync().ConfigureAwait(false);
        foreach (var file in new[] { _databasePath, _databasePath + "-wal", _databasePath + "-shm" })
        {
            try
            {
                File.Delete(file);
            }
            catch (IOException)
            {
                // A leftover temp file is harmless; the demo must not fail on clean-up.
            }
        }
    }
}

/// <summary>The scheduler's executor, wrapped so the demo sees every poll outcome as it happens (table rows, summary).</summary>
internal sealed class RecordingExecutor(IPollExecutor inner) : IPollExecutor
{
    private readonly Lock _gate = new();
    private readonly List<PollOutcome> _outcomes = [];

    public IReadOnlyList<PollOutcome> Outcomes
    {
        get
        {
            lock (_gate)
            {
                return [.. _outcomes];
            }
        }
    }

    public async Task<PollOutcome> RunAsync(PollRequest request, CancellationToken cancellationToken)
    {
        var outcome = await inner.RunAsync(request, cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            _outcomes.Add(outcome);
        }

        return outcome;
    }
}

/// <summary>
/// The scheduler's logger in the demo: counts the repeat-call guard's deferrals (EventId 5007, "Repeat-call guard
/// defers …") per outstation — a deferral produces no poll outcome, so the log is the only place it shows.
/// </summary>
internal sealed class SchedulerEventLog : ILogger<PollScheduler>
{
    /// <summary>Scheduling/Log.cs GuardDeferred.</summary>
    private const int GuardDeferredEventId = 5007;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, int> _deferrals = new(StringComparer.Ordinal);

    public IReadOnlyDictionary<string, int> GuardDeferrals
    {
        get
        {
            lock (_gate)
            {
                return new Dictionary<string, int>(_deferrals, StringComparer.Ordinal);
            }
        }
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (eventId.Id != GuardDeferredEventId || state is not IReadOnlyList<KeyValuePair<string, object?>> fields)
            return;
        var outstation = fields.FirstOrDefault(f => f.Key == "Outstation").Value as string ?? "(unknown)";
        lock (_gate)
        {
            _deferrals[outstation] = _deferrals.GetValueOrDefault(outstation) + 1;
        }
    }
}
