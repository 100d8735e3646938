using System.Diagnostics;
using ChannelManager.Core.Persistence;

namespace ChannelManager.IntegrationTests.Persistence;

/// <summary>
/// Hot standby on the real database (issue 11 item 2): two hosts compete for <see cref="ActiveLease.Resource"/>. Expiry
/// is the server's clock, so these run in real time with a short lease (3 s) and bounded waits; the 1 s safety margin
/// leaves room for a loaded machine waking the old active host late.
/// </summary>
public sealed class ActiveLeaseFailoverTests : PostgresDatabaseTest
{
    private static readonly ActiveLeaseOptions Fast = new()
    {
        LeaseTime = TimeSpan.FromSeconds(3),
        RenewInterval = TimeSpan.FromMilliseconds(500),
        RetryInterval = TimeSpan.FromMilliseconds(200),
        SafetyMargin = TimeSpan.FromSeconds(1),
    };

    /// <summary>A host that dies: from <see cref="Kill"/> on, nothing it sends reaches the database (no renewal, no release).</summary>
    private sealed class Mortal(ILeaseStore inner) : ILeaseStore
    {
        private volatile bool _dead;

        public void Kill() => _dead = true;

        public Task<LeaseGrant?> TryAcquireLeaseAsync(string resource, string holder, TimeSpan duration, CancellationToken cancellationToken) =>
            _dead ? throw Gone() : inner.TryAcquireLeaseAsync(resource, holder, duration, cancellationToken);

        public Task<bool> ReleaseLeaseAsync(string resource, string holder, CancellationToken cancellationToken) =>
            _dead ? throw Gone() : inner.ReleaseLeaseAsync(resource, holder, cancellationToken);

        public Task<LeaseSnapshot> ReadLeasesAsync(CancellationToken cancellationToken) => inner.ReadLeasesAsync(cancellationToken);

        private static StateStoreException Gone() => new(StateStoreFault.Unavailable, "postgres://test", "host is dead");
    }

    [Fact]
    public async Task ActiveHostDies_StandbyTakesOverWithinTheLeaseTimeAndOnlyAfterTheOldOneStopped()
    {
        await using var storeA = await PostgresTestServer.OpenStoreAsync(Database, "host-a");
        await using var storeB = await PostgresTestServer.OpenStoreAsync(Database, "host-b");
        var mortal = new Mortal(storeA);
        var a = new ActiveLease(mortal, "host-a", Fast, TimeProvider.System);
        var b = new ActiveLease(storeB, "host-b", Fast, TimeProvider.System);
        using var stopB = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        var first = await a.AcquireAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        var holdA = a.HoldAsync(CancellationToken.None);
        var acquireB = b.AcquireAsync(stopB.Token);
        await Task.Delay(TimeSpan.FromSeconds(4), TimeProvider.System);   // longer than the lease: renewals keep host-a active
        Assert.False(acquireB.IsCompleted, "the standby took over from a live active host");
        Assert.True(a.IsActive);

        var clock = Stopwatch.StartNew();
        mortal.Kill();
        var endA = await holdA.WaitAsync(TimeSpan.FromSeconds(10));
        var stoppedAt = clock.Elapsed;
        var second = await acquireB.WaitAsync(TimeSpan.FromSeconds(10));
        var tookOverAt = clock.Elapsed;

        Assert.Equal(LeaseEnd.Unreachable, endA);
        Assert.False(a.IsActive);
        Assert.True(stoppedAt < tookOverAt, $"host-a stopped at {stoppedAt}, host-b took over at {tookOverAt}");
        Assert.True(tookOverAt <= Fast.WorstCaseTakeover + TimeSpan.FromSeconds(2), $"took over after {tookOverAt}");
        Assert.Equal("host-a", second.PreviousHolder);
        Assert.Equal(first.Epoch + 1, second.Epoch);
        Assert.True(b.IsActive);
        await stopB.CancelAsync();
    }

    [Fact]
    public async Task ActiveHostShutsDownCleanly_StandbyTakesOverWithoutWaitingForExpiry()
    {
        await using var storeA = await PostgresTestServer.OpenStoreAsync(Database, "host-a");
        await using var storeB = await PostgresTestServer.OpenStoreAsync(Database, "host-b");
        var slow = new ActiveLeaseOptions { LeaseTime = TimeSpan.FromSeconds(20), RenewInterval = TimeSpan.FromSeconds(5), RetryInterval = TimeSpan.FromMilliseconds(200), SafetyMargin = TimeSpan.FromSeconds(2) };
        var a = new ActiveLease(storeA, "host-a", slow, TimeProvider.System);
        var b = new ActiveLease(storeB, "host-b", slow, TimeProvider.System);
        using var stopA = new CancellationTokenSource();

        await a.AcquireAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        var holdA = a.HoldAsync(stopA.Token);
        var acquireB = b.AcquireAsync(CancellationToken.None);
        await Task.Delay(TimeSpan.FromMilliseconds(500), TimeProvider.System);
        Assert.False(acquireB.IsCompleted);

        var clock = Stopwatch.StartNew();
        await stopA.CancelAsync();
        Assert.Equal(LeaseEnd.Released, await holdA.WaitAsync(TimeSpan.FromSeconds(10)));
        var grant = await acquireB.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"took {clock.Elapsed} (lease {slow.LeaseTime})");
        Assert.Equal("host-a", grant.PreviousHolder);
        var snapshot = await storeB.ReadLeasesAsync(CancellationToken.None);
        Assert.Equal("host-b", Assert.Single(snapshot.Live).Holder);
    }
}
