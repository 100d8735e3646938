using System.Reflection;
using ChannelManager.Core;
using ChannelManager.Core.Channels;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Scheduling;
using ChannelManager.Core.Transport;
using ChannelManager.HardwareSim.Exchange;
using ChannelManager.HardwareSim.Outstations;
using ChannelManager.IntegrationTests.Channels;
using ChannelManager.Persistence.Sqlite;
using Microsoft.Data.Sqlite;

namespace ChannelManager.IntegrationTests.Reliability;

/// <summary>
/// Issue 10 item 1 "database file locked or disk full", with the state in a real SQLite file on disk and the calls
/// going through the in-process simulated bank (AT engine → simulated modem → exchange → Modbus outstation).
/// What must hold (design.md §4, research/repeat-call-rules.md §3.1): a failing store is a typed
/// <see cref="StateStoreException"/>; no dial goes out without its "attempt started" on disk; a completion that could
/// not be written is recovered as a counted attempt on restart; the file is never corrupted.
/// </summary>
/// <remarks>
/// Disk full is simulated with SQLite's own limit, <c>PRAGMA max_page_count</c>, set on the store's connection (it is
/// per-connection, hence the reflection): SQLite then fails a write that needs a new page with SQLITE_FULL exactly as on a
/// full disk, without needing root to mount a tiny filesystem (docs/reliability.md "Disk full").
/// </remarks>
public sealed class StateStoreFaultTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("cm-rel-store-");

    private string DbPath => Path.Combine(_dir.FullName, "state.db");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public async Task PollTransaction_DatabaseLockedBeforeAndDuringCall_TypedLockedNoDialWithoutLedgerRecordAndRecoveredOnRestart()
    {
        const string Number = "01632960401";
        var outstation = new ModbusRtuOutstation(1, TimeProvider.System);
        outstation.Map.SetHoldingRegisters(0, 7, 8);
        await using var bank = new SimulatedBank([(SimulatedBank.Modem("M1"), ModemRole.Default)]);
        bank.Exchange.AddLine(Number, new LineBehaviour.Answer(TimeSpan.FromMilliseconds(50), outstation.ServeAsync));
        var store = await OpenAsync();
        var book = new RepeatCallBook(CountryProfiles.UK, store);
        var transaction = new PollTransaction(bank.Manager, book, TimeProvider.System);
        await using var locker = new Locker(DbPath);
        var driver = new LockingDriver(Master(), locker);

        // 1. Another process holds the write lock before the poll: "attempt started" cannot be recorded, so the
        //    poll fails typed and nothing is dialled (a dial the ledger does not know of could break repeat-call rules).
        await locker.LockAsync();
        var before = await Assert.ThrowsAsync<StateStoreException>(() => transaction.RunAsync(Request(driver), CancellationToken.None).WaitAsync(Bound));
        Assert.Equal(StateStoreFault.Locked, before.Fault);
        Assert.Equal(Path.GetFullPath(DbPath), before.Path);
        Assert.Empty(bank.Exchange.CallLog);
        Assert.False(book.Ledgers.ContainsKey(Number), "the in-memory ledger claims an attempt the file does not hold");
        await locker.UnlockAsync();

        // 2. Lock released: the same poll goes through (the pending work is retried by the caller, nothing was lost).
        var ok = await transaction.RunAsync(Request(driver), CancellationToken.None).WaitAsync(Bound);
        Assert.True(ok.IsSuccess, $"{ok.Code}: {ok.Reply}");
        Assert.Single(bank.Exchange.CallLog);

        // 3. The lock is taken while the call is up: the dial is on disk as started, its completion cannot be written.
        //    The failure surfaces typed (the scheduler stops rather than run on with a ledger it cannot save).
        driver.LockDuringNextCall = true;
        var during = await Assert.ThrowsAsync<StateStoreException>(() => transaction.RunAsync(Request(driver), CancellationToken.None).WaitAsync(Bound));
        Assert.Equal(StateStoreFault.Locked, during.Fault);
        Assert.Equal(2, bank.Exchange.CallsTo(Number).Count);
        await SimulatedBank.CheckUntilAsync(bank.Manager, () => bank.Exchange.ActiveCallsTo(Number) == 0 && bank.Manager.Modems[0].Availability == ModemAvailability.Idle, Bound);
        await locker.UnlockAsync();
        await store.DisposeAsync();

        // 4. Restart: the file is intact, and the interrupted attempt is closed as a counted (failed) dial, so the
        //    ledger counts exactly the calls the exchange logged.
        Assert.Equal("ok", await IntegrityAsync());
        await using var reopened = await OpenAsync();
        var restarted = new RepeatCallBook(CountryProfiles.UK, reopened);
        var recovered = Assert.Single(await restarted.LoadAsync(TimeProvider.System.GetUtcNow(), CancellationToken.None));
        Assert.Contains(recovered.Events, e => e.Kind == LedgerEventKind.RecoveredAfterRestart);
        var ledger = restarted.LedgerOf(Number);
        Assert.Null(ledger.InProgress);
        Assert.Equal(bank.Exchange.CallsTo(Number).Count, ledger.Recent.Count(r => r.Counted));
        Assert.Empty(bank.Exchange.Violations);
        Assert.Equal(0, bank.Manager.Modems[0].Statistics.Errors);
    }

    [Fact]
    public async Task StateStore_DiskFull_TypedUnavailableFileIntactAndWritesResumeWhenSpaceReturns()
    {
        var store = await OpenAsync();
        var book = new RepeatCallBook(CountryProfiles.UK, store);
        var t0 = new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
        Assert.True((await book.TryBeginAttemptAsync("01632960500", t0, "M1", CancellationToken.None)).Allowed);
        await book.CompleteAsync("01632960500", new AttemptResult(OutcomeCode.Success, t0.AddSeconds(20)) { Modem = "M1" });
        await store.AppendTransactionAsync(Record("RTU-0", t0, 10), CancellationToken.None);

        // Fill the file to its (simulated) capacity: the page count may not grow any more.
        var connection = StoreConnection(store);
        await PragmaAsync(connection, "PRAGMA max_page_count = " + await PragmaAsync(connection, "PRAGMA page_count;") + ";");

        // A write that needs space fails typed, naming the file and saying why; so do ledger writes once every page is used.
        var full = await Assert.ThrowsAsync<StateStoreException>(() => store.AppendTransactionAsync(Record("RTU-1", t0, 64 * 1024), CancellationToken.None));
        Assert.Equal(StateStoreFault.Unavailable, full.Fault);
        Assert.Contains("disk full", full.Message, StringComparison.Ordinal);
        Assert.Equal(Path.GetFullPath(DbPath), full.Path);

        var ledgerFailure = await FillLedgerUntilFullAsync(book, t0);
        Assert.Equal(StateStoreFault.Unavailable, ledgerFailure.Exception.Fault);
        Assert.False(book.Ledgers.ContainsKey(ledgerFailure.Number), "the in-memory ledger claims an attempt the file does not hold");

        // Reads still work and what was written before is intact.
        Assert.Single(await store.ReadTransactionsAsync(10, "RTU-0", CancellationToken.None));
        Assert.Empty(await store.ReadTransactionsAsync(10, "RTU-1", CancellationToken.None));

        // Space returns: the failed writes, retried, succeed.
        await PragmaAsync(connection, "PRAGMA max_page_count = 1073741823;");
        await store.AppendTransactionAsync(Record("RTU-1", t0, 64 * 1024), CancellationToken.None);
        Assert.True((await book.TryBeginAttemptAsync(ledgerFailure.Number, t0.AddMinutes(1), "M1", CancellationToken.None)).Allowed);
        await book.CompleteAsync(ledgerFailure.Number, new AttemptResult(OutcomeCode.Busy, t0.AddMinutes(2)) { Modem = "M1" });
        await store.DisposeAsync();

        Assert.Equal("ok", await IntegrityAsync());
        await using var reopened = await OpenAsync();
        Assert.Single(await reopened.ReadTransactionsAsync(10, "RTU-1", CancellationToken.None));
        var ledgers = (await reopened.LoadLedgersAsync(CancellationToken.None)).ToDictionary(l => l.Number);
        Assert.Equal(OutcomeCode.Success, ledgers["01632960500"].LastOutcome);
        Assert.Equal(OutcomeCode.Busy, ledgers[ledgerFailure.Number].LastOutcome);
        Assert.All(ledgers.Values, l => Assert.Null(l.InProgress));
    }

    private static async Task<(string Number, StateStoreException Exception)> FillLedgerUntilFullAsync(RepeatCallBook book, DateTimeOffset t0)
    {
        for (var i = 0; i < 10_000; i++)
        {
            var number = $"0163296{i:D4}";
            try
            {
                await book.TryBeginAttemptAsync(number, t0, "M1", CancellationToken.None);
                await book.CompleteAsync(number, new AttemptResult(OutcomeCode.Success, t0.AddSeconds(1)) { Modem = "M1" });
            }
            catch (StateStoreException ex)
            {
                return (number, ex);
            }
        }

        throw new InvalidOperationException("the ledger never filled the capped file");
    }

    private static PollRequest Request(IProtocolDriver driver) => new("RTU-DB", "01632960401", driver, [new ReadHoldingRegisters(0, 2)]);

    private static ModbusRtuMaster Master() => new(new ModbusRtuOptions
    {
        UnitId = 1, BaudRate = 19200, Parity = SerialParity.None, ResponseTimeout = TimeSpan.FromSeconds(2), TimeoutRetries = 0,
    }, TimeProvider.System);

    private static TransactionRecord Record(string outstation, DateTimeOffset at, int rawLength) =>
        new(at, at.AddSeconds(5), outstation, "01632960000", OutcomeCode.Success, "M1", ["M1"], new string('x', rawLength));

    private Task<SqliteStateStore> OpenAsync() =>
        SqliteStateStore.OpenAsync(new SqliteStateStoreOptions { Path = DbPath, BusyTimeout = TimeSpan.FromMilliseconds(300) }, CancellationToken.None);

    private async Task<string?> IntegrityAsync()
    {
        await using var check = new SqliteConnection($"Data Source={DbPath};Pooling=False");
        await check.OpenAsync();
        return await PragmaAsync(check, "PRAGMA integrity_check;");
    }

    /// <summary>The store's own connection: <c>max_page_count</c> is a per-connection limit (see the class remarks).</summary>
    private static SqliteConnection StoreConnection(SqliteStateStore store) =>
        (SqliteConnection)(typeof(SqliteStateStore).GetField("_connection", BindingFlags.NonPublic | BindingFlags.Instance)?.GetValue(store)
            ?? throw new InvalidOperationException("SqliteStateStore no longer has a _connection field; update this test's disk-full simulation"));

    private static async Task<string?> PragmaAsync(SqliteConnection connection, string sql)
    {
        await using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        return Convert.ToString(await cmd.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Another process's connection holding SQLite's write lock (BEGIN IMMEDIATE: readers go on, writers wait).</summary>
    private sealed class Locker(string path) : IAsyncDisposable
    {
        private SqliteConnection? _connection;

        public async Task LockAsync()
        {
            _connection = new SqliteConnection($"Data Source={path};Pooling=False");
            await _connection.OpenAsync();
            await PragmaAsync(_connection, "BEGIN IMMEDIATE;");
        }

        public async Task UnlockAsync()
        {
            if (_connection is { } c)
            {
                await PragmaAsync(c, "ROLLBACK;");
                await c.DisposeAsync();
                _connection = null;
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (_connection is { } c)
            {
                await c.DisposeAsync();
            }
        }
    }

    /// <summary>The real Modbus master; optionally takes the database lock while the call is up (the "during" fault).</summary>
    private sealed class LockingDriver(IProtocolDriver inner, Locker locker) : IProtocolDriver
    {
        public bool LockDuringNextCall { get; set; }

        public async Task<ProtocolResult> ExecuteAsync(IChannelTransport link, IReadOnlyList<ProtocolCommand> commands, CancellationToken cancellationToken)
        {
            if (LockDuringNextCall)
            {
                LockDuringNextCall = false;
                await locker.LockAsync();
            }

            return await inner.ExecuteAsync(link, commands, cancellationToken);
        }
    }
}
