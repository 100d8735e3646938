using ChannelManager.Core;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Scheduling;
using ChannelManager.IntegrationTests.Support;
using ChannelManager.Persistence.Postgres;
using Npgsql;

namespace ChannelManager.IntegrationTests.Persistence;

/// <summary>What only the PostgreSQL store has: a server that can be away, several hosts, rows another host holds.</summary>
public sealed class PostgresStateStoreTests : PostgresDatabaseTest
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task OpenAsync_NoServerOnThePort_UnavailableErrorWithoutThePassword()
    {
        var port = Loopback.FreeTcpPort();
        var connection = $"Host=127.0.0.1;Port={port};Username=cm;Password=s3cret-pw;Database=cm;Timeout=3";

        var ex = await Assert.ThrowsAsync<StateStoreException>(() => PostgresTestServer.OpenStoreAsync(connection, "host-a"));

        Assert.Equal(StateStoreFault.Unavailable, ex.Fault);
        Assert.Equal($"postgres://127.0.0.1:{port}/cm", ex.Path);
        Assert.DoesNotContain("s3cret-pw", ex.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenAsync_DatabaseDoesNotExist_UnavailableErrorNamingIt()
    {
        var missing = new NpgsqlConnectionStringBuilder(Database) { Database = "cm_no_such_database" }.ConnectionString;

        var ex = await Assert.ThrowsAsync<StateStoreException>(() => PostgresTestServer.OpenStoreAsync(missing, "host-a"));

        Assert.Equal(StateStoreFault.Unavailable, ex.Fault);
        Assert.Contains("3D000", ex.Message, StringComparison.Ordinal);
        Assert.Contains("cm_no_such_database", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenAsync_TwoHostsStartTogether_SchemaMigratedOnce()
    {
        var opening = Enumerable.Range(0, 4).Select(i => PostgresTestServer.OpenStoreAsync(Database, $"host-{i}")).ToArray();
        var stores = await Task.WhenAll(opening).WaitAsync(TimeSpan.FromSeconds(30));
        foreach (var s in stores)
        {
            await s.DisposeAsync();
        }

        Assert.Equal(PostgresStateStore.SchemaVersion, await PostgresTestServer.IntAsync(Database, "SELECT count(*) FROM schema_version;"));
    }

    [Fact]
    public async Task LoadLedgersAsync_BodyIsNotALedger_CorruptErrorNamingTheNumber()
    {
        await using var store = await PostgresTestServer.OpenStoreAsync(Database, "host-a");
        await PostgresTestServer.ScalarAsync(Database, "INSERT INTO ledger (number, state, updated_at, body) VALUES ('0777', 'Ready', now(), '\"not a ledger\"');");

        var ex = await Assert.ThrowsAsync<StateStoreException>(() => store.LoadLedgersAsync(CancellationToken.None));

        Assert.Equal(StateStoreFault.Corrupt, ex.Fault);
        Assert.Contains("ledger of 0777", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UpdateLedgerAsync_RowHeldByAnotherHostBeyondTheTimeout_LockedErrorAndLedgerUnchanged()
    {
        await using var store = await PostgresTestServer.OpenStoreAsync(Database, "host-a", commandTimeout: TimeSpan.FromSeconds(1));
        await store.SaveLedgerAsync(RepeatCallGuard.RecordAttemptStarted(new NumberLedger("0300"), CountryProfiles.UK, T0, "M1"), CancellationToken.None);

        await using (var other = new NpgsqlConnection(Database))
        {
            await other.OpenAsync();
            await using var tx = await other.BeginTransactionAsync();
            await using (var hold = new NpgsqlCommand("SELECT 1 FROM ledger WHERE number = '0300' FOR UPDATE;", other, tx))
            {
                await hold.ExecuteNonQueryAsync();
            }

            var ex = await Assert.ThrowsAsync<StateStoreException>(() => store.UpdateLedgerAsync(
                "0300",
                l => RepeatCallGuard.RecordOutcome(l, CountryProfiles.UK, new AttemptResult(OutcomeCode.Busy, T0.AddSeconds(5))),
                CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20)));
            Assert.Equal(StateStoreFault.Locked, ex.Fault);
            await tx.RollbackAsync();
        }

        var loaded = Assert.Single(await store.LoadLedgersAsync(CancellationToken.None));
        Assert.NotNull(loaded.InProgress);
    }

    [Fact]
    public async Task UpdateLedgerAsync_RefusedDecision_WritesNothing()
    {
        await using var store = await PostgresTestServer.OpenStoreAsync(Database, "host-a");

        var seen = await store.UpdateLedgerAsync("0400", _ => null, CancellationToken.None);

        Assert.Equal("0400", seen.Number);
        Assert.Empty(await store.LoadLedgersAsync(CancellationToken.None));
    }

    [Fact]
    public async Task RecoverAttemptsOfHostAsync_TwoHostsWithAttemptsInProgress_OnlyTheNamedHostsAttemptIsClosed()
    {
        await using var a = await PostgresTestServer.OpenStoreAsync(Database, "host-a");
        await using var b = await PostgresTestServer.OpenStoreAsync(Database, "host-b");
        var profile = CountryProfiles.UK;
        await a.UpdateLedgerAsync("0501", l => RepeatCallGuard.RecordAttemptStarted(l, profile, T0, "A1"), CancellationToken.None);
        await b.UpdateLedgerAsync("0502", l => RepeatCallGuard.RecordAttemptStarted(l, profile, T0, "B1"), CancellationToken.None);

        var recovered = await b.RecoverAttemptsOfHostAsync("host-a", T0.AddMinutes(1), (l, at) => RepeatCallGuard.RecoverAfterRestart(l, profile, at), CancellationToken.None);

        var update = Assert.Single(recovered);
        Assert.Equal("0501", update.Ledger.Number);
        var ledgers = (await a.LoadLedgersAsync(CancellationToken.None)).ToDictionary(l => l.Number);
        Assert.Null(ledgers["0501"].InProgress);
        Assert.Equal(1, ledgers["0501"].AttemptsInSequence);
        Assert.NotNull(ledgers["0502"].InProgress);
        Assert.Equal(0, await PostgresTestServer.IntAsync(Database, "SELECT count(*) FROM ledger WHERE in_progress_host = 'host-a';"));
        Assert.Equal(1, await PostgresTestServer.IntAsync(Database, "SELECT count(*) FROM ledger WHERE in_progress_host = 'host-b';"));
    }
}
