using ChannelManager.Core;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Scheduling;
using ChannelManager.Persistence.Sqlite;
using Microsoft.Data.Sqlite;

namespace ChannelManager.Tests.Persistence;

/// <summary>The SQLite store on real files in a temporary directory: the shared store contract, plus what only a file has.</summary>
public sealed class SqliteStateStoreTests : StateStoreContractTests, IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("cm-store-");

    private string DbPath => Path.Combine(_dir.FullName, "state", "channelmanager.db");

    protected override int CurrentSchemaVersion => SqliteStateStore.SchemaVersion;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _dir.Delete(recursive: true);
    }

    private Task<SqliteStateStore> OpenAsync(TimeSpan? busy = null) =>
        SqliteStateStore.OpenAsync(new SqliteStateStoreOptions { Path = DbPath, BusyTimeout = busy ?? TimeSpan.FromSeconds(5) }, CancellationToken.None);

    protected override async Task<IStateStore> OpenStoreAsync() => await OpenAsync();

    protected override async Task SetSchemaVersionAsync(int version)
    {
        await using var raw = new SqliteConnection($"Data Source={DbPath};Pooling=False");
        await raw.OpenAsync();
        await using var cmd = raw.CreateCommand();
        cmd.CommandText = $"PRAGMA user_version = {version};";
        await cmd.ExecuteNonQueryAsync();
    }

    protected override async Task<int> ReadSchemaVersionAsync()
    {
        await using var raw = new SqliteConnection($"Data Source={DbPath};Pooling=False");
        await raw.OpenAsync();
        await using var cmd = raw.CreateCommand();
        cmd.CommandText = "PRAGMA user_version;";
        return Convert.ToInt32(await cmd.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
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
    public async Task OpenAsync_Reopened_JournalIsWal()
    {
        await (await OpenAsync()).DisposeAsync();
        await using var again = await OpenAsync();

        await using var raw = new SqliteConnection($"Data Source={DbPath};Pooling=False");
        await raw.OpenAsync();
        await using var cmd = raw.CreateCommand();
        cmd.CommandText = "PRAGMA journal_mode;";
        Assert.Equal("wal", await cmd.ExecuteScalarAsync());
    }
}
