using ChannelManager.Core.Persistence;
using ChannelManager.Persistence.Sqlite;
using Microsoft.Data.Sqlite;

namespace ChannelManager.Tests.Persistence;

/// <summary>
/// The learned heartbeat per outstation in the SQLite file (issue 7 item 2), on real files: what only the file has (migration
/// from schema 1, a corrupt row). The round trip itself is in <see cref="StateStoreContractTests"/>.
/// </summary>
public sealed class SqliteHeartbeatStoreTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("cm-hb-");

    private string DbPath => Path.Combine(_dir.FullName, "channelmanager.db");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _dir.Delete(recursive: true);
    }

    private Task<SqliteStateStore> OpenAsync() =>
        SqliteStateStore.OpenAsync(new SqliteStateStoreOptions { Path = DbPath }, CancellationToken.None);

    [Fact]
    public async Task OpenAsync_Version1File_MigratesAndKeepsItsData()
    {
        await (await OpenAsync()).DisposeAsync();
        await using (var raw = new SqliteConnection($"Data Source={DbPath};Pooling=False"))
        {
            // Make it a schema-1 file (before issue 7) that holds a retry schedule row.
            await raw.OpenAsync();
            await using var cmd = raw.CreateCommand();
            cmd.CommandText = "DROP TABLE heartbeat; PRAGMA user_version = 1; INSERT INTO retry_schedule (outstation, failed_attempts, body) VALUES ('X', 0, '{}');";
            await cmd.ExecuteNonQueryAsync();
        }

        await using var store = await OpenAsync();
        await store.SaveHeartbeatAsync("A", new LearnedHeartbeat(TimeSpan.FromMinutes(8), null, T0), CancellationToken.None);

        Assert.Equal(2, SqliteStateStore.SchemaVersion);
        Assert.NotNull(await store.LoadHeartbeatAsync("A", CancellationToken.None));
        await using var check = new SqliteConnection($"Data Source={DbPath};Pooling=False");
        await check.OpenAsync();
        await using var count = check.CreateCommand();
        count.CommandText = "SELECT count(*) FROM retry_schedule WHERE outstation = 'X';";
        Assert.Equal(1L, await count.ExecuteScalarAsync());
    }

    [Fact]
    public async Task LoadHeartbeatAsync_CorruptRow_StateStoreExceptionNamingIt()
    {
        await using var store = await OpenAsync();
        await using (var raw = new SqliteConnection($"Data Source={DbPath};Pooling=False"))
        {
            await raw.OpenAsync();
            await using var cmd = raw.CreateCommand();
            cmd.CommandText = "INSERT INTO heartbeat (outstation, interval_ticks, updated_at) VALUES ('B', -5, 'x');";
            await cmd.ExecuteNonQueryAsync();
        }

        var ex = await Assert.ThrowsAsync<StateStoreException>(() => store.LoadHeartbeatAsync("B", CancellationToken.None));

        Assert.Equal(StateStoreFault.Corrupt, ex.Fault);
        Assert.Contains("heartbeat of B", ex.Message, StringComparison.Ordinal);
    }
}
