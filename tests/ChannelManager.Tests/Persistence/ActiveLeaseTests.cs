using ChannelManager.Core.Persistence;
using Microsoft.Extensions.Time.Testing;

namespace ChannelManager.Tests.Persistence;

/// <summary>
/// The hot-standby lease's timing on a fake clock (issue 11 item 2; docs/scale-out.md §6): fail-stop before the lease
/// can expire in the database, release on a clean shutdown, and standby retries.
/// </summary>
public sealed class ActiveLeaseTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);

    /// <summary>Lease 10 s, renew every 10/3 s, safety margin 2 s: the active host must stop by 8 s without a renewal.</summary>
    private static readonly ActiveLeaseOptions Options = new();

    private sealed class ScriptedLeases : ILeaseStore
    {
        public Func<int, LeaseGrant?> OnAcquire { get; set; } = _ => null;

        public int Acquires { get; private set; }

        public int Releases { get; private set; }

        public Task<LeaseGrant?> TryAcquireLeaseAsync(string resource, string holder, TimeSpan duration, CancellationToken cancellationToken)
        {
            Acquires++;
            return Task.FromResult(OnAcquire(Acquires));
        }

        public Task<bool> ReleaseLeaseAsync(string resource, string holder, CancellationToken cancellationToken)
        {
            Releases++;
            return Task.FromResult(true);
        }

        public Task<LeaseSnapshot> ReadLeasesAsync(CancellationToken cancellationToken) => throw new NotSupportedException();
    }

    private static LeaseGrant Grant(long epoch = 1, string? previous = null) => new(ActiveLease.Resource, "fe-a", epoch, T0.AddSeconds(10), previous);

    private static async Task AdvanceAsync(FakeTimeProvider time, TimeSpan span)
    {
        var step = TimeSpan.FromMilliseconds(100);
        for (var done = TimeSpan.Zero; done < span; done += step)
        {
            time.Advance(step);
            await Task.Yield();
        }
    }

    [Fact]
    public async Task HoldAsync_DatabaseUnreachable_StopsAtLeaseTimeMinusMarginNotLater()
    {
        var time = new FakeTimeProvider(T0);
        var store = new ScriptedLeases { OnAcquire = n => n == 1 ? Grant() : throw new StateStoreException(StateStoreFault.Unavailable, "postgres://db/cm", "down") };
        var lease = new ActiveLease(store, "fe-a", Options, time);
        await lease.AcquireAsync(CancellationToken.None);

        var hold = lease.HoldAsync(CancellationToken.None);
        await AdvanceAsync(time, TimeSpan.FromSeconds(7.9));
        Assert.False(hold.IsCompleted);
        Assert.True(lease.IsActive);
        await AdvanceAsync(time, TimeSpan.FromSeconds(0.2));

        Assert.True(hold.IsCompleted);
        Assert.Equal(LeaseEnd.Unreachable, await hold);
        Assert.False(lease.IsActive);
        Assert.Equal(3, store.Acquires);   // the grant, then renewals at 3.3 s and 6.7 s
    }

    [Fact]
    public async Task HoldAsync_RenewalsSucceed_StaysActiveForAnHour()
    {
        var time = new FakeTimeProvider(T0);
        var store = new ScriptedLeases { OnAcquire = _ => Grant() };
        var lease = new ActiveLease(store, "fe-a", Options, time);
        await lease.AcquireAsync(CancellationToken.None);

        var hold = lease.HoldAsync(CancellationToken.None);
        for (var minute = 0; minute < 60; minute++)
        {
            await AdvanceAsync(time, TimeSpan.FromMinutes(1));
        }

        Assert.False(hold.IsCompleted);
        Assert.True(lease.IsActive);
        // One renewal per 3.33 s; the fake clock moves in 100 ms steps, so each wait ends up to 3.4 s: 1058 … 1080 renewals.
        Assert.InRange(store.Acquires, 1 + 1058, 1 + 1080);
    }

    [Fact]
    public async Task HoldAsync_OneRenewalFailsThenSucceeds_StillActive()
    {
        var time = new FakeTimeProvider(T0);
        var store = new ScriptedLeases { OnAcquire = n => n == 2 ? throw new StateStoreException(StateStoreFault.Locked, "postgres://db/cm", "slow") : Grant() };
        var lease = new ActiveLease(store, "fe-a", Options, time);
        await lease.AcquireAsync(CancellationToken.None);

        var hold = lease.HoldAsync(CancellationToken.None);
        await AdvanceAsync(time, TimeSpan.FromSeconds(30));

        Assert.False(hold.IsCompleted);
        Assert.True(lease.IsActive);
    }

    [Fact]
    public async Task HoldAsync_RenewalRefusedOrNewEpoch_LostAtOnce()
    {
        var time = new FakeTimeProvider(T0);
        var store = new ScriptedLeases { OnAcquire = n => n == 1 ? Grant() : Grant(epoch: 2, previous: "fe-a") };
        var lease = new ActiveLease(store, "fe-a", Options, time);
        await lease.AcquireAsync(CancellationToken.None);

        var hold = lease.HoldAsync(CancellationToken.None);
        await AdvanceAsync(time, TimeSpan.FromSeconds(3.5));

        Assert.True(hold.IsCompleted);
        Assert.Equal(LeaseEnd.Lost, await hold);
        Assert.False(lease.IsActive);
    }

    [Fact]
    public async Task HoldAsync_Cancelled_ReleasesTheLease()
    {
        var time = new FakeTimeProvider(T0);
        var store = new ScriptedLeases { OnAcquire = _ => Grant() };
        var lease = new ActiveLease(store, "fe-a", Options, time);
        await lease.AcquireAsync(CancellationToken.None);
        using var stop = new CancellationTokenSource();

        var hold = lease.HoldAsync(stop.Token);
        await AdvanceAsync(time, TimeSpan.FromSeconds(5));
        await stop.CancelAsync();

        Assert.Equal(LeaseEnd.Released, await hold.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(1, store.Releases);
        Assert.False(lease.IsActive);
    }

    [Fact]
    public async Task AcquireAsync_HeldElsewhereThenFree_RetriesEveryIntervalAndReportsThePreviousHolder()
    {
        var time = new FakeTimeProvider(T0);
        var store = new ScriptedLeases { OnAcquire = n => n < 4 ? null : n == 4 ? throw new StateStoreException(StateStoreFault.Unavailable, "postgres://db/cm", "down") : Grant(epoch: 7, previous: "fe-b") };
        var lease = new ActiveLease(store, "fe-a", Options, time);

        var acquire = lease.AcquireAsync(CancellationToken.None);
        await AdvanceAsync(time, TimeSpan.FromSeconds(7.9));
        Assert.False(acquire.IsCompleted);
        Assert.False(lease.IsActive);
        await AdvanceAsync(time, TimeSpan.FromSeconds(0.2));

        var grant = await acquire.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("fe-b", grant.PreviousHolder);
        Assert.Equal(5, store.Acquires);   // at 0, 2, 4, 6 (unreachable) and 8 s
        Assert.True(lease.IsActive);
    }

    [Fact]
    public void Validate_RenewalLongerThanTheSafeWindow_Refused()
    {
        var ex = Assert.Throws<ArgumentException>(() => new ActiveLeaseOptions { LeaseTime = TimeSpan.FromSeconds(5), RenewInterval = TimeSpan.FromSeconds(4) }.Validate());

        Assert.Contains("RenewInterval", ex.Message, StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromSeconds(12), new ActiveLeaseOptions().WorstCaseTakeover);
    }
}
