using System.Diagnostics;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Scheduling;
using ChannelManager.Persistence.Postgres;

namespace ChannelManager.IntegrationTests.Persistence;

/// <summary>
/// Leases in the shared database (issue 11 item 2), two hosts = two stores with their own connection pools. Expiry is the
/// server's clock, so the takeover test waits in real time for a short lease to run out (bounded, polled).
/// </summary>
public sealed class PostgresLeaseTests : PostgresDatabaseTest
{
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(5);

    [Fact]
    public async Task TryAcquireLeaseAsync_HeldByALiveHost_RefusedToTheOther()
    {
        await using var a = await PostgresTestServer.OpenStoreAsync(Database, "host-a");
        await using var b = await PostgresTestServer.OpenStoreAsync(Database, "host-b");

        var first = await a.TryAcquireLeaseAsync("outstation:RTU-1", "host-a", Long, CancellationToken.None);
        var second = await b.TryAcquireLeaseAsync("outstation:RTU-1", "host-b", Long, CancellationToken.None);

        Assert.NotNull(first);
        Assert.Equal(1, first.Epoch);
        Assert.Null(first.PreviousHolder);
        Assert.Null(second);
    }

    [Fact]
    public async Task TryAcquireLeaseAsync_Renewal_SameEpochLaterExpiry()
    {
        await using var a = await PostgresTestServer.OpenStoreAsync(Database, "host-a");
        var first = await a.TryAcquireLeaseAsync("modem:M1", "host-a", TimeSpan.FromSeconds(30), CancellationToken.None);

        var renewed = await a.TryAcquireLeaseAsync("modem:M1", "host-a", TimeSpan.FromSeconds(60), CancellationToken.None);

        Assert.NotNull(first);
        Assert.NotNull(renewed);
        Assert.Equal(first.Epoch, renewed.Epoch);
        Assert.Null(renewed.PreviousHolder);
        Assert.True(renewed.ExpiresAt >= first.ExpiresAt.AddSeconds(29), $"{renewed.ExpiresAt:O} vs {first.ExpiresAt:O}");
    }

    [Fact]
    public async Task TryAcquireLeaseAsync_ManyTasksOfTwoHostsRaceForAFreeResource_ExactlyOneWins()
    {
        await using var a = await PostgresTestServer.OpenStoreAsync(Database, "host-a");
        await using var b = await PostgresTestServer.OpenStoreAsync(Database, "host-b");
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var racers = Enumerable.Range(0, 16).Select(i => Task.Run(async () =>
        {
            await start.Task;
            var (store, host) = i % 2 == 0 ? (a, "host-a") : (b, "host-b");
            return await store.TryAcquireLeaseAsync("outstation:RACE", $"{host}/{i}", Long, CancellationToken.None);
        })).ToArray();

        start.SetResult();
        var grants = await Task.WhenAll(racers).WaitAsync(TimeSpan.FromSeconds(30));

        var winner = Assert.Single(grants, g => g is not null);
        var snapshot = await a.ReadLeasesAsync(CancellationToken.None);
        Assert.Equal(winner!.Holder, Assert.Single(snapshot.Live).Holder);
    }

    [Fact]
    public async Task TryAcquireLeaseAsync_HolderStopsRenewing_StandbyTakesOverAfterExpiryWithinTheLeaseTime()
    {
        var lease = TimeSpan.FromSeconds(2);
        var b = await PostgresTestServer.OpenStoreAsync(Database, "host-b");
        await using (b)
        {
            LeaseGrant? granted;
            var clock = Stopwatch.StartNew();
            await using (var a = await PostgresTestServer.OpenStoreAsync(Database, "host-a"))
            {
                granted = await a.TryAcquireLeaseAsync("outstation:RTU-9", "host-a", lease, CancellationToken.None);
                clock.Restart();
                // host-a dies here: its store (and every connection) goes away without releasing the lease.
            }

            Assert.NotNull(granted);
            LeaseGrant? takeover = null;
            var refusedWhileLive = 0;
            while (takeover is null && clock.Elapsed < lease + TimeSpan.FromSeconds(5))
            {
                takeover = await b.TryAcquireLeaseAsync("outstation:RTU-9", "host-b", lease, CancellationToken.None);
                if (takeover is null)
                {
                    refusedWhileLive++;
                    await Task.Delay(TimeSpan.FromMilliseconds(100), TimeProvider.System);
                }
            }

            Assert.NotNull(takeover);
            Assert.True(refusedWhileLive > 0, "the standby must not get the lease while host-a's is live");
            Assert.True(clock.Elapsed >= lease - TimeSpan.FromMilliseconds(200), $"taken after {clock.Elapsed}, lease {lease}");
            Assert.True(clock.Elapsed <= lease + TimeSpan.FromSeconds(2), $"taken after {clock.Elapsed}, lease {lease}");
            Assert.Equal("host-a", takeover.PreviousHolder);
            Assert.Equal(granted.Epoch + 1, takeover.Epoch);
        }
    }

    [Fact]
    public async Task ReleaseLeaseAsync_CleanShutdown_PeerTakesOverAtOnceWithTheNextEpoch()
    {
        await using var a = await PostgresTestServer.OpenStoreAsync(Database, "host-a");
        await using var b = await PostgresTestServer.OpenStoreAsync(Database, "host-b");
        await a.TryAcquireLeaseAsync("modem:M2", "host-a", Long, CancellationToken.None);

        Assert.False(await b.ReleaseLeaseAsync("modem:M2", "host-b", CancellationToken.None));
        Assert.True(await a.ReleaseLeaseAsync("modem:M2", "host-a", CancellationToken.None));
        var taken = await b.TryAcquireLeaseAsync("modem:M2", "host-b", Long, CancellationToken.None);

        Assert.NotNull(taken);
        Assert.Equal(2, taken.Epoch);
        Assert.Equal("host-a", taken.PreviousHolder);
        Assert.False(await a.ReleaseLeaseAsync("modem:M2", "host-a", CancellationToken.None));
    }

    [Fact]
    public async Task TakeOver_DeadHostHadADialInProgress_StandbyCountsItAsFailedAndTheNumberStaysGuarded()
    {
        // The takeover sequence docs/scale-out.md describes: lease of the dead host -> its open attempts closed as failed
        // (research §3.1) -> the guard goes on from there: no early redial of the number.
        var profile = CountryProfiles.UK;
        var t0 = new DateTimeOffset(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);
        await using var b = await PostgresTestServer.OpenStoreAsync(Database, "host-b");
        await using (var a = await PostgresTestServer.OpenStoreAsync(Database, "host-a"))
        {
            await a.TryAcquireLeaseAsync("host:host-a", "host-a", TimeSpan.FromMilliseconds(300), CancellationToken.None);
            Assert.True((await new RepeatCallBook(profile, a).TryBeginAttemptAsync("01632960200", t0, "A1", CancellationToken.None)).Allowed);
        }

        LeaseGrant? grant = null;
        for (var i = 0; i < 50 && grant is null; i++)
        {
            grant = await b.TryAcquireLeaseAsync("host:host-a", "host-b", TimeSpan.FromSeconds(30), CancellationToken.None);
            if (grant is null)
                await Task.Delay(TimeSpan.FromMilliseconds(100), TimeProvider.System);
        }

        Assert.Equal("host-a", grant?.PreviousHolder);
        var book = new RepeatCallBook(profile, b);
        var recovered = await b.RecoverAttemptsOfHostAsync(grant!.PreviousHolder!, t0.AddSeconds(20), (l, at) => RepeatCallGuard.RecoverAfterRestart(l, profile, at), CancellationToken.None);

        Assert.Single(recovered);
        var early = await book.TryBeginAttemptAsync("01632960200", t0.AddSeconds(60), "B1", CancellationToken.None);
        Assert.False(early.Allowed);
        Assert.Equal(GuardRefusal.Waiting, early.Refusal);
        Assert.True((await book.TryBeginAttemptAsync("01632960200", t0.AddSeconds(20) + profile.GapAfter(1), "B1", CancellationToken.None)).Allowed);
    }

    [Fact]
    public async Task OpenAsync_Version1Database_MigratesToLeasesAndKeepsItsData()
    {
        await (await PostgresTestServer.OpenStoreAsync(Database, "host-a")).DisposeAsync();
        await PostgresTestServer.ScalarAsync(Database, "DROP TABLE lease; DELETE FROM schema_version WHERE version = 2; INSERT INTO retry_schedule (outstation, failed_attempts, body) VALUES ('X', 0, '{}');");

        await using var store = await PostgresTestServer.OpenStoreAsync(Database, "host-a");

        Assert.Equal(2, PostgresStateStore.SchemaVersion);
        Assert.NotNull(await store.TryAcquireLeaseAsync("modem:M1", "host-a", Long, CancellationToken.None));
        Assert.Equal(1, await PostgresTestServer.IntAsync(Database, "SELECT count(*) FROM retry_schedule WHERE outstation = 'X';"));
        Assert.Equal(2, await PostgresTestServer.IntAsync(Database, "SELECT max(version) FROM schema_version;"));
    }
}
