using ChannelManager.Core.Persistence;
using ChannelManager.Persistence.Postgres;
using ChannelManager.Tests.Persistence;

namespace ChannelManager.IntegrationTests.Persistence;

/// <summary>The PostgreSQL store against a real server (tests/support/postgres.sh) passes the SQLite store's contract.</summary>
public sealed class PostgresStateStoreContractTests : StateStoreContractTests, IAsyncLifetime
{
    private string _database = string.Empty;

    protected override int CurrentSchemaVersion => PostgresStateStore.SchemaVersion;

    public async Task InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        _database = await PostgresTestServer.CreateDatabaseAsync(timeout.Token);
    }

    public Task DisposeAsync() => PostgresTestServer.DropDatabaseAsync(_database);

    protected override async Task<IStateStore> OpenStoreAsync() => await PostgresTestServer.OpenStoreAsync(_database, "host-a");

    protected override Task SetSchemaVersionAsync(int version) =>
        PostgresTestServer.ScalarAsync(_database, $"INSERT INTO schema_version (version) VALUES ({version});");

    protected override Task<int> ReadSchemaVersionAsync() =>
        PostgresTestServer.IntAsync(_database, "SELECT max(version) FROM schema_version;");
}
