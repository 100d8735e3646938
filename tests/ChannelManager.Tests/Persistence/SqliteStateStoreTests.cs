using System.Text.Json;
using System.Text.Json.Serialization;
using ChannelManager.Core;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Scheduling;
using ChannelManager.Persistence.Sqlite;
using Microsoft.Data.Sqlite;

namespace ChannelManager.Tests.Persistence;

/// <summary>The SQLite store on real files in a temporary directory.</summary>
public sealed class SqliteStateStoreTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);
    private static readonly JsonSerializerOptions Json = new() { Converters = { new JsonStringEnumConverter() } };
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("cm-store-");

    private string DbPath => Path.Combine(_dir.FullName, "state", "channelmanager.db");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _dir.Delete(recursive: true);
    }

    private Task<SqliteStateStore> OpenAsync(TimeSpan? busy = null) =>
        SqliteStateStore.OpenAsync(new SqliteStateStoreOptions { Path = DbPath, BusyTimeout = busy ?? TimeSpan.FromSeconds(5) }, CancellationToken.None);

    /// <summary>Drives the UK profile to Locked: four failed attempts at the profile's gaps (research §3.5).</summary>
    private static List<LedgerUpdate> LockUnderUkProfile(string number)
    {
        var profile = CountryProfiles.UK;
        var ledger = new NumberLedger(number);
        var updates = new List<LedgerUpdate>();
        var t = T0;
        foreach (var code in new[] { OutcomeCode.Busy, OutcomeCode.NoAnswer, OutcomeCode.NoCarrier, OutcomeCode.Busy })
        {
            var started = RepeatCallGuard.RecordAttemptStarted(ledger, profile, t, "M1");
            updates.Add(started);
            var ended = RepeatCallGuard.RecordOutcome(started.Ledger, profile, new AttemptResult(code, t + TimeSpan.FromSeconds(5)) { Modem = "M1", RawReply = code.ToString() });
            updates.Add(ended);
            ledger = ended.Ledger;
            t = ledger.NextAllowedAt ?? t + TimeSpan.FromMinutes(10);
        }

        return updates;
    }

    [Fact]
    public async Task SaveLedgerAsync_LockedNumber_SurvivesReopenAndStillRefused()
    {
        var updates = LockUnderUkProfile("01632960002");
        Assert.Equal(LedgerState.Locked, updates[^1].Ledger.State);
        await using (var store = await OpenAsync())
        {
            foreach (var u in updates)
            {
                await store.SaveLedgerAsync(u, CancellationToken.None);
            }
        }

        await using var reopened = await OpenAsync();
        var loaded = Assert.Single(await reopened.LoadLedgersAsync(CancellationToken.None));

        Assert.Equal(JsonSerializer.Serialize(updates[^1].Ledger, Json), JsonSerializer.Serialize(loaded, Json));
        var decision = RepeatCallGuard.Check(loaded, CountryProfiles.UK, T0 + TimeSpan.FromDays(1));
        Assert.False(decision.Allowed);
        Assert.Equal(GuardRefusal.Locked, decision.Refusal);
    }

    [Fact]
    public async Task SaveLedgerAsync_AttemptStartedThenReopened_RecoveredAsFailedAttempt()
    {
        // research §3.1: "On restart an attempt with no on-hook record counts as failed."
        var started = RepeatCallGuard.RecordAttemptStarted(new NumberLedger("0100"), CountryProfiles.UK, T0, "M2");
        await using (var store = await OpenAsync())
        {
            await store.SaveLedgerAsync(started, CancellationToken.None);
        }

        await using var reopened = await OpenAsync();
        var loaded = Assert.Single(await reopened.LoadLedgersAsync(CancellationToken.None));
        Assert.NotNull(loaded.InProgress);
        var recovered = RepeatCallGuard.RecoverAfterRestart(loaded, CountryProfiles.UK, T0 + TimeSpan.FromSeconds(30)).Ledger;
        Assert.Equal(1, recovered.AttemptsInSequence);
        Assert.Null(recovered.InProgress);
        Assert.False(RepeatCallGuard.Check(recovered, CountryProfiles.UK, T0 + TimeSpan.FromSeconds(31)).Allowed);
    }

    [Fact]
    public async Task ReadLedgerEventsAsync_AfterLock_NewestFirstWithAlarmOnce()
    {
        await using var store = await OpenAsync();
        foreach (var u in LockUnderUkProfile("0200"))
        {
            await store.SaveLedgerAsync(u, CancellationToken.None);
        }

        var events = await store.ReadLedgerEventsAsync(100, "0200", CancellationToken.None);

        Assert.Equal(updatesEventCount("0200"), events.Count);
        Assert.True(events[0].At >= events[^1].At);
        Assert.Single(events, e => e.Kind == LedgerEventKind.AlarmRaised);
        Assert.Contains(events, e => e.Kind == LedgerEventKind.Locked);
        Assert.Empty(await store.ReadLedgerEventsAsync(100, "0999", CancellationToken.None));

        static int updatesEventCount(string n) => LockUnderUkProfile(n).Sum(u => u.Events.Length);
    }

    [Fact]
    public async Task SaveRetryScheduleAsync_RoundTripsSeed003Times()
    {
        var policy = BackoffPolicy.From(new BackoffOptions { Strategy = BackoffStrategyKind.Exponential, Initial = TimeSpan.FromSeconds(30), Max = TimeSpan.FromSeconds(120), MaxAttempts = 3 });
        var schedule = RetrySchedule.Initial
            .OnOutcome(policy, OutcomeCode.Success, T0, () => 0.5)
            .OnOutcome(policy, OutcomeCode.NoAnswer, T0 + TimeSpan.FromHours(1), () => 0.5);
        await using (var store = await OpenAsync())
        {
            await store.SaveRetryScheduleAsync("RTU-17", schedule, CancellationToken.None);
            await store.SaveRetryScheduleAsync("RTU-18", RetrySchedule.Initial, CancellationToken.None);
        }

        await using var reopened = await OpenAsync();
        var loaded = await reopened.LoadRetrySchedulesAsync(CancellationToken.None);

        Assert.Equal(2, loaded.Count);
        var rtu17 = loaded["RTU-17"];
        Assert.Equal(schedule.NextDue, rtu17.NextDue);
        Assert.Equal(T0 + TimeSpan.FromHours(1) + TimeSpan.FromSeconds(30), rtu17.NextDue);
        Assert.Equal(schedule.LastSuccess, rtu17.LastSuccess);
        Assert.Equal(schedule.LastFailure, rtu17.LastFailure);
        Assert.Equal(schedule.LastAccess, rtu17.LastAccess);
        Assert.Equal(1, rtu17.FailedAttempts);
        Assert.Null(loaded["RTU-18"].NextDue);
    }

    [Fact]
    public async Task AppendTransactionAsync_ReadBackNewestFirstAndFiltered()
    {
        await using var store = await OpenAsync();
        for (var i = 0; i < 5; i++)
        {
            await store.AppendTransactionAsync(new TransactionRecord(T0.AddMinutes(i), T0.AddMinutes(i).AddSeconds(20), i % 2 == 0 ? "RTU-A" : "RTU-B", "0100", i == 4 ? OutcomeCode.Busy : OutcomeCode.Success, "M1", ["M2", "M1"], i == 4 ? "BUSY" : "CONNECT 33600"), CancellationToken.None);
        }

        var all = await store.ReadTransactionsAsync(10, null, CancellationToken.None);
        var rtuA = await store.ReadTransactionsAsync(2, "RTU-A", CancellationToken.None);

        Assert.Equal(5, all.Count);
        Assert.Equal(OutcomeCode.Busy, all[0].Code);
        Assert.Equal(["M2", "M1"], all[0].ModemsTried);
        Assert.Equal("BUSY", all[0].RawReply);
        Assert.Equal(FaultAttribution.Outstation, all[0].CountedAgainst);
        Assert.Equal([T0.AddMinutes(4), T0.AddMinutes(2)], rtuA.Select(t => t.StartedAt));
    }

    [Fact]
    public async Task OpenAsync_FileIsNotADatabase_CorruptErrorAndFileUntouched()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(DbPath)!);
        var garbage = new byte[4096];
        new Random(7).NextBytes(garbage);
        await File.WriteAllBytesAsync(DbPath, garbage);

        var ex = await Assert.ThrowsAsync<StateStoreException>(() => OpenAsync());

        Assert.Equal(StateStoreFault.Corrupt, ex.Fault);
        Assert.Contains(DbPath, ex.Message, StringComparison.Ordinal);
        Assert.Equal(garbage, await File.ReadAllBytesAsync(DbPath));
    }

    [Fact]
    public async Task OpenAsync_NewerSchema_RefusedAndFileUntouched()
    {
        await (await OpenAsync()).DisposeAsync();
        await using (var raw = new SqliteConnection($"Data Source={DbPath};Pooling=False"))
        {
            await raw.OpenAsync();
            await using var cmd = raw.CreateCommand();
            cmd.CommandText = "PRAGMA user_version = 99;";
            await cmd.ExecuteNonQueryAsync();
        }

        var ex = await Assert.ThrowsAsync<StateStoreException>(() => OpenAsync());

        Assert.Equal(StateStoreFault.NewerSchema, ex.Fault);
        Assert.Contains("99", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SaveLedgerAsync_OtherProcessHoldsWriteLock_LockedErrorAndNothingLost()
    {
        await using var store = await OpenAsync(busy: TimeSpan.FromMilliseconds(200));
        var first = RepeatCallGuard.RecordAttemptStarted(new NumberLedger("0300"), CountryProfiles.UK, T0, "M1");
        await store.SaveLedgerAsync(first, CancellationToken.None);

        await using (var other = new SqliteConnection($"Data Source={DbPath};Pooling=False"))
        {
            await other.OpenAsync();
            await using var begin = other.CreateCommand();
            begin.CommandText = "BEGIN EXCLUSIVE;";
            await begin.ExecuteNonQueryAsync();

            var second = RepeatCallGuard.RecordOutcome(first.Ledger, CountryProfiles.UK, new AttemptResult(OutcomeCode.Busy, T0.AddSeconds(5)));
            var ex = await Assert.ThrowsAsync<StateStoreException>(() => store.SaveLedgerAsync(second, CancellationToken.None));
            Assert.Equal(StateStoreFault.Locked, ex.Fault);
        }

        // The lock is gone: the store works again and still holds the first write.
        var loaded = Assert.Single(await store.LoadLedgersAsync(CancellationToken.None));
        Assert.NotNull(loaded.InProgress);
    }

    [Fact]
    public async Task OpenAsync_DirectoryCannotBeCreated_UnavailableError()
    {
        var blocker = Path.Combine(_dir.FullName, "a-file");
        await File.WriteAllTextAsync(blocker, "not a directory");

        var ex = await Assert.ThrowsAsync<StateStoreException>(() =>
            SqliteStateStore.OpenAsync(new SqliteStateStoreOptions { Path = Path.Combine(blocker, "state.db") }, CancellationToken.None));

        Assert.Equal(StateStoreFault.Unavailable, ex.Fault);
    }

    [Fact]
    public async Task OpenAsync_Twice_MigratesOnceAndKeepsData()
    {
        await using (var store = await OpenAsync())
        {
            await store.SaveRetryScheduleAsync("RTU-1", RetrySchedule.Initial, CancellationToken.None);
        }

        await using var again = await OpenAsync();
        Assert.Single(await again.LoadRetrySchedulesAsync(CancellationToken.None));
        await using var raw = new SqliteConnection($"Data Source={DbPath};Pooling=False");
        await raw.OpenAsync();
        await using var cmd = raw.CreateCommand();
        cmd.CommandText = "PRAGMA user_version;";
        Assert.Equal((long)SqliteStateStore.SchemaVersion, await cmd.ExecuteScalarAsync());
        cmd.CommandText = "PRAGMA journal_mode;";
        Assert.Equal("wal", await cmd.ExecuteScalarAsync());
    }
}
