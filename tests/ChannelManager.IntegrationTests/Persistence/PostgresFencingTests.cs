using System.Diagnostics;
using ChannelManager.Core;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Scheduling;
using ChannelManager.Persistence.Postgres;

namespace ChannelManager.IntegrationTests.Persistence;

/// <summary>
/// Fencing on writes (docs/scale-out.md §6 item 1) on the real database: two hosts = two stores with their own pools.
/// Host A is active at epoch 1; its lease runs out (the server's clock, short lease, bounded real-time wait) and B takes
/// over at epoch 2 while A — a paused VM — still believes it is active. A's next writes must be refused and change nothing.
/// </summary>
public sealed class PostgresFencingTests : PostgresDatabaseTest
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan ShortLease = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task Writes_OldActiveHostAfterTakeover_RefusedAsFencedAndNothingChanges()
    {
        var profile = CountryProfiles.UK;
        await using var a = await PostgresTestServer.OpenStoreAsync(Database, "host-a");
        await using var b = await PostgresTestServer.OpenStoreAsync(Database, "host-b");
        var grantA = await a.TryAcquireLeaseAsync(ActiveLease.Resource, "host-a", ShortLease, CancellationToken.None);
        Assert.NotNull(grantA);
        Assert.Equal(1, grantA.Epoch);
        a.Fence(grantA.Epoch);

        // Active at epoch 1: A's writes go through.
        await a.UpdateLedgerAsync("0100", l => RepeatCallGuard.RecordAttemptStarted(l, profile, T0, "A1"), CancellationToken.None);
        var scheduleA = RetrySchedule.Initial with { FailedAttempts = 1, LastAccess = T0, LastFailure = T0, NextDue = T0.AddMinutes(5) };
        await a.SaveRetryScheduleAsync("RTU-1", scheduleA, CancellationToken.None);

        var grantB = await TakeOverAsync(b, "host-b");
        Assert.Equal(2, grantB.Epoch);
        Assert.Equal("host-a", grantB.PreviousHolder);
        b.Fence(grantB.Epoch);
        var ledgerRows = await PostgresTestServer.IntAsync(Database, "SELECT count(*) FROM ledger;");
        var events = await PostgresTestServer.IntAsync(Database, "SELECT count(*) FROM ledger_event;");
        var ledger0100 = (string?)await PostgresTestServer.ScalarAsync(Database, "SELECT body::text FROM ledger WHERE number = '0100';");

        // A wakes up still believing it is active: every kind of ledger and schedule write is refused.
        var update = await Assert.ThrowsAsync<StateStoreException>(() =>
            a.UpdateLedgerAsync("0100", l => RepeatCallGuard.RecordOutcome(l, profile, new AttemptResult(OutcomeCode.Busy, T0.AddSeconds(20))), CancellationToken.None));
        var fresh = await Assert.ThrowsAsync<StateStoreException>(() =>
            a.UpdateLedgerAsync("0200", l => RepeatCallGuard.RecordAttemptStarted(l, profile, T0.AddMinutes(1), "A1"), CancellationToken.None));
        var save = await Assert.ThrowsAsync<StateStoreException>(() =>
            a.SaveLedgerAsync(RepeatCallGuard.RecordAttemptStarted(new NumberLedger("0300"), profile, T0.AddMinutes(1), "A1"), CancellationToken.None));
        var schedule = await Assert.ThrowsAsync<StateStoreException>(() =>
            a.SaveRetryScheduleAsync("RTU-1", RetrySchedule.Initial with { LastAccess = T0.AddMinutes(1), LastSuccess = T0.AddMinutes(1) }, CancellationToken.None));

        foreach (var ex in new[] { update, fresh, save, schedule })
        {
            Assert.Equal(StateStoreFault.Fenced, ex.Fault);
            Assert.Contains("epoch 2 held by host-b", ex.Message, StringComparison.Ordinal);
        }

        Assert.Equal(ledgerRows, await PostgresTestServer.IntAsync(Database, "SELECT count(*) FROM ledger;"));
        Assert.Equal(0, await PostgresTestServer.IntAsync(Database, "SELECT count(*) FROM ledger WHERE number IN ('0200', '0300');"));
        Assert.Equal(events, await PostgresTestServer.IntAsync(Database, "SELECT count(*) FROM ledger_event;"));
        Assert.Equal(ledger0100, (string?)await PostgresTestServer.ScalarAsync(Database, "SELECT body::text FROM ledger WHERE number = '0100';"));
        Assert.Equal(scheduleA, (await b.LoadRetrySchedulesAsync(CancellationToken.None))["RTU-1"]);

        // The new active host writes fine: it recovers A's open attempt and saves its own schedule.
        var recovered = await b.RecoverAttemptsOfHostAsync("host-a", T0.AddMinutes(2), (l, at) => RepeatCallGuard.RecoverAfterRestart(l, profile, at), CancellationToken.None);
        Assert.Equal("0100", Assert.Single(recovered).Ledger.Number);
        var scheduleB = scheduleA with { FailedAttempts = 2, LastAccess = T0.AddMinutes(2), NextDue = T0.AddMinutes(10) };
        await b.SaveRetryScheduleAsync("RTU-1", scheduleB, CancellationToken.None);
        await b.UpdateLedgerAsync("0200", l => RepeatCallGuard.RecordAttemptStarted(l, profile, T0.AddMinutes(3), "B1"), CancellationToken.None);
        Assert.Equal(scheduleB, (await a.LoadRetrySchedulesAsync(CancellationToken.None))["RTU-1"]);
        Assert.Equal("host-b", await PostgresTestServer.ScalarAsync(Database, "SELECT in_progress_host FROM ledger WHERE number = '0200';"));
        Assert.Null((await b.LoadLedgersAsync(CancellationToken.None)).Single(l => l.Number == "0100").InProgress);
    }

    [Fact]
    public async Task TryBeginAttemptAsync_BookOfAFencedOutHost_ThrowsFencedAndRecordsNoAttempt()
    {
        var profile = CountryProfiles.UK;
        await using var a = await PostgresTestServer.OpenStoreAsync(Database, "host-a");
        await using var b = await PostgresTestServer.OpenStoreAsync(Database, "host-b");
        var grantA = await a.TryAcquireLeaseAsync(ActiveLease.Resource, "host-a", ShortLease, CancellationToken.None);
        a.Fence(grantA!.Epoch);
        var bookA = new RepeatCallBook(profile, a);
        Assert.True((await bookA.TryBeginAttemptAsync("0400", T0, "A1", CancellationToken.None)).Allowed);
        await bookA.CompleteAsync("0400", new AttemptResult(OutcomeCode.Busy, T0.AddSeconds(10)));

        b.Fence((await TakeOverAsync(b, "host-b")).Epoch);
        var events = await PostgresTestServer.IntAsync(Database, "SELECT count(*) FROM ledger_event;");

        // Long after any spacing: the guard would allow it, but the write (and with it the dial) is refused.
        var ex = await Assert.ThrowsAsync<StateStoreException>(() => bookA.TryBeginAttemptAsync("0400", T0.AddHours(1), "A1", CancellationToken.None));
        Assert.Equal(StateStoreFault.Fenced, ex.Fault);
        Assert.Equal(events, await PostgresTestServer.IntAsync(Database, "SELECT count(*) FROM ledger_event;"));
        Assert.Equal(0, await PostgresTestServer.IntAsync(Database, "SELECT count(*) FROM ledger WHERE in_progress_host IS NOT NULL;"));

        var bookB = new RepeatCallBook(profile, b);
        Assert.True((await bookB.TryBeginAttemptAsync("0400", T0.AddHours(1), "B1", CancellationToken.None)).Allowed);
    }

    [Fact]
    public async Task Writes_StoreNeverFencedWhileAnotherHostIsActive_WriteAsBefore()
    {
        // A host before it took the lease (a standby) is not fenced: its writes go through the shared ledger's row locks as before.
        await using var a = await PostgresTestServer.OpenStoreAsync(Database, "host-a");
        await using var standby = await PostgresTestServer.OpenStoreAsync(Database, "host-s");
        var grant = await a.TryAcquireLeaseAsync(ActiveLease.Resource, "host-a", TimeSpan.FromMinutes(5), CancellationToken.None);
        a.Fence(grant!.Epoch);

        await standby.UpdateLedgerAsync("0500", l => RepeatCallGuard.RecordAttemptStarted(l, CountryProfiles.UK, T0, "S1"), CancellationToken.None);
        await standby.SaveRetryScheduleAsync("RTU-5", RetrySchedule.Initial with { LastAccess = T0 }, CancellationToken.None);
        await a.SaveRetryScheduleAsync("RTU-6", RetrySchedule.Initial with { LastAccess = T0 }, CancellationToken.None);

        Assert.Equal(1, await PostgresTestServer.IntAsync(Database, "SELECT count(*) FROM ledger WHERE number = '0500' AND in_progress_host = 'host-s';"));
        Assert.Equal(2, await PostgresTestServer.IntAsync(Database, "SELECT count(*) FROM retry_schedule;"));
    }

    /// <summary>Asks for <c>cluster:active</c> until the old holder's short lease has expired (the server's clock); bounded.</summary>
    private static async Task<LeaseGrant> TakeOverAsync(PostgresStateStore store, string host)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(15))
        {
            if (await store.TryAcquireLeaseAsync(ActiveLease.Resource, host, TimeSpan.FromMinutes(5), CancellationToken.None) is { } grant)
                return grant;
            await Task.Delay(TimeSpan.FromMilliseconds(100), TimeProvider.System);
        }

        throw new TimeoutException($"{host} could not take {ActiveLease.Resource} over within 15 s");
    }
}
