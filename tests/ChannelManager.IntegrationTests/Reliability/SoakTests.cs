using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using ChannelManager.Core;
using ChannelManager.Core.Channels;
using ChannelManager.Core.Modems;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Scheduling;
using ChannelManager.Core.Transport;
using ChannelManager.HardwareSim.Exchange;
using ChannelManager.HardwareSim.Modems;
using ChannelManager.HardwareSim.Outstations;
using ChannelManager.IntegrationTests.Channels;
using ChannelManager.Persistence.Sqlite;
using Xunit.Abstractions;

namespace ChannelManager.IntegrationTests.Reliability;

/// <summary>
/// Issue 10 item 5: the simulated bank (4 modems, 8 outstations) polled by the real PollScheduler with the state in a
/// SQLite file, while a chaos loop injects modem faults (hung, ERROR to everything, garbage, no dial tone, init error),
/// line behaviours (busy, no answer, carrier dropped mid-call) and outstation faults (bad CRC, no reply, slow, partial
/// frame, wrong unit, server busy). Runs for <c>SOAK_SECONDS</c> (default 90; the documented long run is 3600).
/// </summary>
/// <remarks>
/// Asserted: every poll started ended with a typed <see cref="OutcomeCode"/> and no exception left the scheduler; no
/// modem was in two calls and no line dialled twice at once (the exchange's own checks); no number was redialled
/// after a failure sooner than the repeat-call gap (checked here from the exchange's call log, independently of the
/// guard); the ledger counted every call the exchange saw; after warm-up, managed memory grew by at most 24 MiB and
/// open file descriptors by at most 16 (docs/reliability.md "Soak").
/// </remarks>
public sealed class SoakTests(ITestOutputHelper output) : IDisposable
{
    public const string SecondsVariable = "SOAK_SECONDS";

    private const long MemoryToleranceBytes = 24L * 1024 * 1024;
    private const int HandleTolerance = 16;

    /// <summary>A profile with one short gap so many redials happen in a short run: after any counted failure, 2 s.</summary>
    private static readonly CountryProfile SoakProfile = new()
    {
        Name = "SOAK",
        MaxAttempts = 1000,
        Gaps = ImmutableArray.Create(TimeSpan.FromSeconds(2)),
        AfterMax = LockKind.Locked,
        MinModemOnHook = TimeSpan.FromMilliseconds(100),
        Source = "soak test: short gaps so the guard is exercised often",
    };

    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("cm-soak-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public async Task PollScheduler_SimulatedBankWithRandomFaults_TypedOutcomesNoViolationsFlatMemoryAndHandles()
    {
        var duration = TimeSpan.FromSeconds(ReadSeconds());
        var warmUp = TimeSpan.FromSeconds(Math.Min(20, duration.TotalSeconds / 4));
        var seed = int.TryParse(Environment.GetEnvironmentVariable("SOAK_SEED"), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var s) ? s : Environment.TickCount;
        output.WriteLine($"soak {duration}, warm-up {warmUp}, chaos seed {seed}");
        var time = TimeProvider.System;

        using var stopSim = new CancellationTokenSource();
        var exchange = new PstnExchange(time);
        var outstations = Enumerable.Range(1, 8).Select(i => (Name: $"RTU-{i}", Number: $"0163296070{i}", Rtu: new ModbusRtuOutstation(1, time))).ToList();
        foreach (var o in outstations)
        {
            o.Rtu.Map.SetHoldingRegisters(0, 1, 2, 3, 4);
            exchange.AddLine(o.Number, Healthy(o.Rtu));
        }

        var behaviours = Enumerable.Range(1, 4).Select(i => SimulatedBank.Modem($"M{i}")).ToList();
        var ports = SimulatedModemBank.StartInProcess(behaviours, exchange, time, stopSim.Token);
        var modems = ports.Select(p => ((IModemDevice)new AtModem(p.HostEnd, ownsTransport: true, SimulatedBank.AtOptions(p.Modem.Name), time), ModemRole.Default)).ToList();
        await using var channels = new ModemChannelManager(modems, SimulatedBank.Options(TimeSpan.FromSeconds(15)), time);
        await using var store = await SqliteStateStore.OpenAsync(new SqliteStateStoreOptions { Path = Path.Combine(_dir.FullName, "state.db") }, CancellationToken.None);
        var book = new RepeatCallBook(SoakProfile, store);
        var executor = new RecordingExecutor(new PollTransaction(channels, book, time), time);
        var backoff = BackoffPolicy.From(new BackoffOptions { Initial = TimeSpan.FromSeconds(1), Max = TimeSpan.FromSeconds(4), MaxAttempts = 1000, ServerBusyDelay = TimeSpan.FromSeconds(1) });
        var master = new ModbusRtuMaster(new ModbusRtuOptions
        {
            UnitId = 1, BaudRate = 19200, Parity = SerialParity.None, ResponseTimeout = TimeSpan.FromMilliseconds(500), TimeoutRetries = 1,
        }, time);
        var scheduler = new PollScheduler(
            outstations.Select(o => new OutstationSchedule(o.Name, o.Number, master, [new ReadHoldingRegisters(0, 4)], TimeSpan.FromSeconds(3), backoff)),
            executor,
            book,
            store,
            new SchedulerOptions { MaxConcurrency = 4, MaxQueueTime = TimeSpan.FromSeconds(20) },
            time,
            Random.Shared.NextDouble);

        using var stop = new CancellationTokenSource();
        var run = scheduler.RunAsync(stop.Token);
        var health = channels.RunHealthChecksAsync(stop.Token);
        var chaosLog = new ConcurrentQueue<string>();
        var chaos = ChaosAsync(new Random(seed), ports.Select(p => p.Modem).ToList(), exchange, outstations, chaosLog, stop.Token);

        await Task.Delay(warmUp, time);
        var baseline = Measure();
        output.WriteLine($"after warm-up: {baseline}");
        await Task.Delay(duration - warmUp, time);
        var final = Measure();
        output.WriteLine($"at the end:    {final}");

        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(60));
        await health.WaitAsync(TimeSpan.FromSeconds(30));
        await chaos.WaitAsync(TimeSpan.FromSeconds(30));
        await stopSim.CancelAsync();

        // Every poll that started ended, with a defined code, and none threw.
        var records = executor.Records;
        output.WriteLine($"{records.Count} polls: " + string.Join(", ", records.GroupBy(r => r.Code).OrderBy(g => g.Key).Select(g => $"{g.Key} {g.Count()}")));
        Assert.True(executor.Exceptions.Count == 0, string.Join("\n", executor.Exceptions));
        Assert.Equal(executor.Started, records.Count);
        Assert.All(records, r => Assert.True(Enum.IsDefined(r.Code), $"undefined code {(int)r.Code}"));
        Assert.True(records.Count(r => r.Code == OutcomeCode.Success) >= outstations.Count, "hardly any poll succeeded: the soak did not exercise the happy path");
        Assert.True(records.Select(r => r.Code).Distinct().Count() >= 4, "the faults did not produce a mix of outcomes");

        // The exchange's own checks: no modem in two calls, no line dialled while in a call; the callees never failed.
        var modemViolations = exchange.Violations.Where(v => v.Contains("while already in a call", StringComparison.Ordinal)).ToList();
        Assert.True(modemViolations.Count == 0, string.Join("\n", modemViolations));

        // No line was dialled while still in a call: a modem that faults mid-call and cannot hang up keeps its number
        // held until it proves on-hook (ModemChannelManager), so no redial finds the line engaged by our own call.
        var lineViolations = exchange.Violations.Except(modemViolations).ToList();
        Assert.True(lineViolations.Count == 0, $"{string.Join("\n", lineViolations)}\n{string.Join("\n", chaosLog)}");
        Assert.True(exchange.CalleeFailures.Count == 0, string.Join("\n", exchange.CalleeFailures));

        // Repeat-call rules, from the exchange's call log: after a counted failure the next dial waits the gap.
        foreach (var o in outstations)
        {
            // Every poll the ledger counted as on the line, including a dial the shutdown cancelled after ATD went out.
            var polls = records.Where(r => r.Number == o.Number && r.Counted).OrderBy(r => r.StartedAt).ToList();
            var calls = exchange.CallsTo(o.Number).Where(c => c.ReachedLine).OrderBy(c => c.At).ToList();

            // The ledger counts every call that reached the line; it may count more, never fewer: a dial timeout on a
            // modem that hung at ATD, or a dial cancelled just as it was handed to the modem, is counted conservatively
            // though the exchange never saw it.
            Assert.True(calls.Count <= polls.Count, $"{o.Number}: exchange saw {calls.Count} calls, the ledger counted {polls.Count}");
            Assert.True(polls.Count - calls.Count <= polls.Count(p => p.Code is OutcomeCode.DialTimeout or OutcomeCode.Cancelled), $"{o.Number}: {polls.Count - calls.Count} counted calls the exchange never saw");
            for (var i = 1; i < polls.Count; i++)
            {
                var previous = polls[i - 1];
                if (previous.Code != OutcomeCode.Success && !previous.ServerBusy)
                {
                    var gap = polls[i].StartedAt - previous.EndedAt;
                    Assert.True(gap >= SoakProfile.Gaps[0] - TimeSpan.FromMilliseconds(250), $"{o.Number} redialled {gap.TotalMilliseconds:0} ms after {previous.Code}");
                }
            }
        }

        // The ledger on disk agrees with the exchange as well, and nothing is left "in progress".
        foreach (var ledger in await store.LoadLedgersAsync(CancellationToken.None))
        {
            Assert.Null(ledger.InProgress);
        }

        // Flat resources after warm-up.
        Assert.True(final.ManagedBytes - baseline.ManagedBytes <= MemoryToleranceBytes, $"managed memory grew {baseline.ManagedBytes} → {final.ManagedBytes}");
        Assert.True(final.Handles - baseline.Handles <= HandleTolerance, $"handles grew {baseline.Handles} → {final.Handles}");
    }

    private static LineBehaviour.Answer Healthy(ModbusRtuOutstation rtu) => new LineBehaviour.Answer(TimeSpan.FromMilliseconds(100), rtu.ServeAsync);

    private static int ReadSeconds()
    {
        var text = Environment.GetEnvironmentVariable(SecondsVariable);
        return string.IsNullOrWhiteSpace(text) ? 90
            : int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var s) && s >= 20 ? s
            : throw new InvalidOperationException($"{SecondsVariable}='{text}' must be a whole number of seconds ≥ 20.");
    }

    /// <summary>Managed heap after a full collection, and open handles (/proc/self/fd on Linux, the process's handle count elsewhere).</summary>
    private static Resources Measure()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var handles = Directory.Exists("/proc/self/fd") ? Directory.GetFiles("/proc/self/fd").Length : Process.GetCurrentProcess().HandleCount;
        return new Resources(GC.GetTotalMemory(forceFullCollection: true), handles);
    }

    /// <summary>Every 0.5–2 s one random fault; each is undone 2–6 s later, so the bank keeps recovering.</summary>
    private static async Task ChaosAsync(Random random, List<SimulatedModem> modems, PstnExchange exchange, List<(string Name, string Number, ModbusRtuOutstation Rtu)> outstations, ConcurrentQueue<string> log, CancellationToken ct)
    {
        ModemFault[] modemFaults = [ModemFault.Hung, ModemFault.ErrorToEverything, ModemFault.Garbage, ModemFault.NoDialTone, ModemFault.InitError];
        OutstationFault[] rtuFaults = [OutstationFault.BadCrc, OutstationFault.NoReply, OutstationFault.SlowReply(TimeSpan.FromMilliseconds(1500)), OutstationFault.PartialFrame, OutstationFault.WrongUnit, OutstationFault.Exception(ModbusExceptionCode.ServerDeviceBusy)];
        var undo = new List<(DateTimeOffset At, Action Action)>();
        try
        {
            while (!ct.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(random.Next(500, 2000)), TimeProvider.System, ct);
                var now = TimeProvider.System.GetUtcNow();
                foreach (var due in undo.Where(u => u.At <= now).ToList())
                {
                    due.Action();
                    undo.Remove(due);
                }

                var later = now + TimeSpan.FromMilliseconds(random.Next(2000, 6000));
                switch (random.Next(4))
                {
                    case 0:
                        // Never fault the last healthy modem: the run must keep making calls.
                        var healthy = modems.Where(m => m.Fault == ModemFault.None).ToList();
                        if (healthy.Count > 1)
                        {
                            var modem = healthy[random.Next(healthy.Count)];
                            modem.Fault = modemFaults[random.Next(modemFaults.Length)];
                            log.Enqueue($"{now:HH:mm:ss.fff} {modem.Name} {modem.Fault}");
                            undo.Add((later, () => modem.Fault = ModemFault.None));
                        }

                        break;
                    case 1:
                        var rtu = outstations[random.Next(outstations.Count)].Rtu;
                        var rtuFault = rtuFaults[random.Next(rtuFaults.Length)];
                        rtu.QueueFaults(rtuFault);
                        log.Enqueue($"{now:HH:mm:ss.fff} outstation fault {rtuFault.Kind}");
                        break;
                    case 2:
                        var line = outstations[random.Next(outstations.Count)];
                        log.Enqueue($"{now:HH:mm:ss.fff} line {line.Number} busy/no answer");
                        exchange.AddLine(line.Number, random.Next(2) == 0 ? new LineBehaviour.Busy(TimeSpan.FromMilliseconds(200)) : new LineBehaviour.NoAnswer(TimeSpan.FromMilliseconds(800)));
                        undo.Add((later, () => exchange.AddLine(line.Number, Healthy(line.Rtu))));
                        break;
                    default:
                        var dropped = modems[random.Next(modems.Count)];
                        dropped.DropCarrier();
                        log.Enqueue($"{now:HH:mm:ss.fff} {dropped.Name} carrier dropped");
                        break;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The soak is over.
        }
        finally
        {
            foreach (var u in undo)
            {
                u.Action();
            }
        }
    }

    private readonly record struct Resources(long ManagedBytes, int Handles)
    {
        public override string ToString() => $"managed {ManagedBytes / 1024} KiB, handles {Handles}";
    }

    /// <param name="Counted">The ledger counted the poll as a dial that may have reached the line (<see cref="PollOutcome.ReachedTheLine"/>).</param>
    private sealed record PollRecord(string Number, OutcomeCode Code, DateTimeOffset StartedAt, DateTimeOffset EndedAt, bool ServerBusy, bool Counted);

    /// <summary>Wraps the real transaction and records every poll's outcome (or exception) as the scheduler sees it.</summary>
    private sealed class RecordingExecutor(IPollExecutor inner, TimeProvider time) : IPollExecutor
    {
        private readonly ConcurrentQueue<PollRecord> _records = new();
        private readonly ConcurrentQueue<Exception> _exceptions = new();
        private int _started;

        public int Started => Volatile.Read(ref _started);

        public IReadOnlyList<PollRecord> Records => [.. _records];

        public IReadOnlyList<Exception> Exceptions => [.. _exceptions];

        public async Task<PollOutcome> RunAsync(PollRequest request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _started);
            var started = time.GetUtcNow();
            try
            {
                var outcome = await inner.RunAsync(request, cancellationToken);
                _records.Enqueue(new PollRecord(request.Number, outcome.Code, outcome.StartedAt, outcome.EndedAt, outcome.ServerBusy, outcome.ReachedTheLine));
                return outcome;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // PollTransaction returns a typed Cancelled outcome once it has begun the attempt; it throws only while
                // still waiting for the ledger's gate, before any dial, so nothing reached the line.
                _records.Enqueue(new PollRecord(request.Number, OutcomeCode.Cancelled, started, time.GetUtcNow(), false, false));
                throw;
            }
            catch (Exception ex)
            {
                _exceptions.Enqueue(ex);
                throw;
            }
        }
    }
}
