using ChannelManager.Core;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Scheduling;
using ChannelManager.Persistence.Sqlite;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;
using ChannelManager.Tests.Scheduling;

namespace ChannelManager.IntegrationTests.Scheduling;

/// <summary>
/// Issue 6 acceptance "restart", in-process: a scheduler on a SqliteStateStore file is stopped mid-run (one dial
/// left without an on-hook record, as a crash leaves it), and a new scheduler on the same file resumes: pending
/// retries at their persisted times, nothing lost or polled twice, ledger counts intact, locks still refused.
/// (The SIGKILL-of-a-host-process variant needs the host's `run` command, which does not exist yet.)
/// </summary>
public sealed class SchedulerRestartTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 5, 8, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Quarter = TimeSpan.FromMinutes(15);
    private static readonly BackoffPolicy Seed003 = BackoffPolicy.From(new BackoffOptions { Initial = TimeSpan.FromSeconds(30), Max = TimeSpan.FromSeconds(120), MaxAttempts = 3 });
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("cm-sched-");
    private readonly FakeTimeProvider _time = new(T0);

    private string DbPath => Path.Combine(_dir.FullName, "state.db");

    public void Dispose() => _dir.Delete(recursive: true);

    private static OutstationSchedule Outstation(string name, string number) =>
        new(name, number, Substitute.For<IProtocolDriver>(), [new ReadHoldingRegisters(0, 4)], Quarter, Seed003);

    private static readonly OutstationSchedule[] Outstations =
    [
        Outstation("Healthy", "01632960101"),
        Outstation("Dead", "01632960102"),
        Outstation("Crash", "01632960103"),
    ];

    private static OutcomeCode Script(string outstation) => outstation == "Dead" ? OutcomeCode.NoAnswer : OutcomeCode.Success;

    /// <summary>One scheduler lifetime on the shared file.</summary>
    private sealed class Life : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _run;

        private Life(SqliteStateStore store, FakeTimeProvider time, string? hangOn)
        {
            Store = store;
            Book = new RepeatCallBook(CountryProfiles.UK, store);
            Executor = new ScriptedPollExecutor(Book, time, (name, _) => Script(name)) { HangOn = hangOn };
            Scheduler = new PollScheduler(Outstations, Executor, Book, store, new SchedulerOptions { MaxConcurrency = 2 }, time, () => 0.5);
            Driver = new SchedulerDriver(Scheduler, time) { Hung = hangOn is null ? 0 : 1 };
            _run = Scheduler.RunAsync(_stop.Token);
        }

        public SqliteStateStore Store { get; }

        public RepeatCallBook Book { get; }

        public ScriptedPollExecutor Executor { get; }

        public PollScheduler Scheduler { get; }

        public SchedulerDriver Driver { get; }

        public static async Task<Life> StartAsync(string path, FakeTimeProvider time, string? hangOn = null)
        {
            var store = await SqliteStateStore.OpenAsync(new SqliteStateStoreOptions { Path = path }, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
            var life = new Life(store, time, hangOn);
            await life.Driver.SettleAsync();
            return life;
        }

        public OutstationStatus Status(string name) => Scheduler.Status.Single(s => s.Name == name);

        /// <summary>Stops the scheduler mid-run and closes the file, as a process exit does.</summary>
        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _run.WaitAsync(TimeSpan.FromSeconds(10));
            await Store.DisposeAsync();
            _stop.Dispose();
        }
    }

    [Fact]
    public async Task RunAsync_StoppedMidRunAndRestartedTwice_ResumesPendingRetriesWithoutLossOrDuplicates()
    {
        // Life 1: Healthy polled at T0; Dead failed at T0 and T0+2 min (retry pending at T0+6 min); Crash's dial at T0
        // was recorded as started (before ATD) and never finished.
        await using (var life = await Life.StartAsync(DbPath, _time, hangOn: "Crash"))
        {
            await life.Driver.RunUntilAsync(T0.AddMinutes(5));
            Assert.Equal([T0], life.Executor.CallsTo("Healthy").Select(c => c.OffHook));
            Assert.Equal([T0, T0.AddMinutes(2)], life.Executor.CallsTo("Dead").Select(c => c.OffHook));
            Assert.NotNull(life.Book.LedgerOf("01632960103").InProgress);
        }

        var restart = T0.AddMinutes(5).AddSeconds(30);
        _time.SetUtcNow(restart);
        await using (var life = await Life.StartAsync(DbPath, _time))
        {
            // The ledger survived the restart; the interrupted dial counts as a failed attempt (research §3.1).
            Assert.Equal(2, life.Book.LedgerOf("01632960102").AttemptsInSequence);
            var crash = life.Book.LedgerOf("01632960103");
            Assert.Equal((1, (OutcomeCode?)OutcomeCode.DialTimeout, (AttemptRecord?)null), (crash.AttemptsInSequence, crash.LastOutcome, crash.InProgress));
            var recovered = Assert.Single(await life.Store.ReadTransactionsAsync(10, "Crash", CancellationToken.None));
            Assert.Equal((OutcomeCode.DialTimeout, T0, restart), (recovered.Code, recovered.StartedAt, recovered.EndedAt));

            // Pending retries resume at their persisted times; the regular poll is not repeated early.
            Assert.Equal(T0.AddMinutes(6), life.Status("Dead").PendingRetry);
            Assert.Equal(restart.AddMinutes(2), life.Status("Crash").PendingRetry);   // UK gap after failure 1, from the restart on-hook
            Assert.Equal(T0 + Quarter, life.Status("Healthy").NextDue);

            await life.Driver.RunUntilAsync(T0.AddMinutes(14));

            Assert.Equal([T0.AddMinutes(6), T0.AddMinutes(12)], life.Executor.CallsTo("Dead").Select(c => c.OffHook));
            Assert.Equal([restart.AddMinutes(2)], life.Executor.CallsTo("Crash").Select(c => c.OffHook));
            Assert.Empty(life.Executor.CallsTo("Healthy").Select(c => c.OffHook));
            Assert.Equal(LedgerState.Locked, life.Book.LedgerOf("01632960102").State);
            Assert.Single(life.Scheduler.Alarms, a => a.Kind == AlarmKind.NumberLocked && a.Outstation == "Dead");
        }

        // Life 3: the lock survives; the guard still refuses Dead, and its alarm is reported as restored, not raised again.
        await using (var life = await Life.StartAsync(DbPath, _time))
        {
            await life.Driver.RunUntilAsync(T0.AddMinutes(59));

            Assert.Empty(life.Executor.CallsTo("Dead").Select(c => c.OffHook));
            Assert.Empty(life.Executor.Refusals);
            Assert.Equal(LedgerState.Locked, life.Status("Dead").NumberState);
            Assert.Equal(4, life.Book.LedgerOf("01632960102").AttemptsInSequence);
            var alarm = Assert.Single(life.Scheduler.Alarms);
            Assert.True(alarm.Restored && alarm.Kind == AlarmKind.NumberLocked && alarm.Outstation == "Dead");
            Assert.Equal([T0.AddMinutes(15), T0.AddMinutes(30), T0.AddMinutes(45)], life.Executor.CallsTo("Healthy").Select(c => c.OffHook));
            Assert.Equal([restart.AddMinutes(17), restart.AddMinutes(32), restart.AddMinutes(47)], life.Executor.CallsTo("Crash").Select(c => c.OffHook));

            // The event log holds every transaction of all three lives: 1+2 dials, 1 recovery + 3 dials, 6 dials.
            var log = await life.Store.ReadTransactionsAsync(100, null, CancellationToken.None);
            Assert.Equal(13, log.Count);
            Assert.Equal(4, log.Count(t => t.Outstation == "Healthy"));
            Assert.Equal(4, log.Count(t => t.Outstation == "Dead" && t.Code == OutcomeCode.NoAnswer));
            var events = await life.Store.ReadLedgerEventsAsync(1000, "01632960102", CancellationToken.None);
            Assert.Equal(4, events.Count(e => e.Kind == LedgerEventKind.AttemptStarted));
        }
    }
}
