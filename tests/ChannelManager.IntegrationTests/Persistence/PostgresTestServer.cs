using System.Globalization;
using ChannelManager.Persistence.Postgres;
using Npgsql;

namespace ChannelManager.IntegrationTests.Persistence;

/// <summary>
/// The throw-away PostgreSQL server that test.sh starts with tests/support/postgres.sh (issue 11 acceptance), reached
/// through <see cref="Variable"/>. Each test gets a database of its own, dropped afterwards.
/// </summary>
internal static class PostgresTestServer
{
    public const string Variable = "CHANNELMANAGER_TEST_PG";

    public static string? ConnectionString => Environment.GetEnvironmentVariable(Variable);

    public static string Missing =>
        $"{Variable} is not set: start a server with `eval \"$(tests/support/postgres.sh start)\"` (test.sh does this)";

    /// <summary>Creates an empty database and returns a connection string to it.</summary>
    public static async Task<string> CreateDatabaseAsync(CancellationToken cancellationToken)
    {
        var admin = ConnectionString ?? throw new InvalidOperationException(Missing);
        var name = "cm_" + Guid.NewGuid().ToString("N")[..16];
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync(cancellationToken);
            await using var cmd = new NpgsqlCommand($"CREATE DATABASE {name};", connection);
            await cmd.ExecuteNonQueryAsync(cancellationToken);
        }

        return new NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString;
    }

    public static async Task DropDatabaseAsync(string connectionString)
    {
        var database = new NpgsqlConnectionStringBuilder(connectionString).Database;
        var admin = ConnectionString;
        if (admin is null || database is null)
            return;
        await using var connection = new NpgsqlConnection(admin);
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand($"DROP DATABASE IF EXISTS {database} WITH (FORCE);", connection);
        await cmd.ExecuteNonQueryAsync();
    }

    /// <summary>
    /// A store as a host opens it, except that the shared guard uses the caller's time by default
    /// (<see cref="PostgresLedgerClock.Host"/>): most tests drive the guard with fake times. Production's default, the
    /// database's clock, is proven by <c>PostgresLedgerClockTests</c> and the host-process tests.
    /// </summary>
    public static Task<PostgresStateStore> OpenStoreAsync(string connectionString, string hostId, TimeSpan? commandTimeout = null, PostgresLedgerClock ledgerClock = PostgresLedgerClock.Host) =>
        PostgresStateStore.OpenAsync(new PostgresStateStoreOptions
        {
            ConnectionString = connectionString,
            HostId = hostId,
            CommandTimeout = commandTimeout ?? TimeSpan.FromSeconds(15),
            LedgerClock = ledgerClock,
        }, CancellationToken.None);

    public static async Task<object?> ScalarAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, connection);
        return await cmd.ExecuteScalarAsync();
    }

    public static async Task<int> IntAsync(string connectionString, string sql) =>
        Convert.ToInt32(await ScalarAsync(connectionString, sql), CultureInfo.InvariantCulture);
}

/// <summary>
/// An empty database for each test (xunit makes one instance per test). Without the server the test FAILS with
/// <see cref="PostgresTestServer.Missing"/>, locally and in CI alike: a missing harness must never pass as skipped.
/// </summary>
public abstract class PostgresDatabaseTest : IAsyncLifetime
{
    protected string Database { get; private set; } = string.Empty;

    public async Task InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        Database = await PostgresTestServer.CreateDatabaseAsync(timeout.Token);
    }

    public async Task DisposeAsync()
    {
        if (Database.Length > 0)
            await PostgresTestServer.DropDatabaseAsync(Database);
    }
}
