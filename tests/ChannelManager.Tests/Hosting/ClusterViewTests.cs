using ChannelManager.Core.Persistence;
using ChannelManager.Host.Api;
using ChannelManager.Host.Hosting;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;

namespace ChannelManager.Tests.Hosting;

/// <summary>
/// What /api/cluster says (issue 11 item 4): the role from this host's own active lease, the peers from the lease
/// table — live and expired presence leases, the active holder — and a typed error when the table cannot be read.
/// </summary>
public sealed class ClusterViewTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);

    private sealed class TableLeases : ILeaseStore
    {
        public LeaseGrant? Grant { get; set; }

        public List<LeaseRecord> Rows { get; } = [];

        public StateStoreException? ReadFailure { get; set; }

        public Task<LeaseGrant?> TryAcquireLeaseAsync(string resource, string holder, TimeSpan duration, CancellationToken cancellationToken) => Task.FromResult(Grant);

        public Task<bool> ReleaseLeaseAsync(string resource, string holder, CancellationToken cancellationToken) => Task.FromResult(true);

        public Task<LeaseSnapshot> ReadLeasesAsync(CancellationToken cancellationToken) =>
            ReadFailure is { } failure ? Task.FromException<LeaseSnapshot>(failure) : Task.FromResult(new LeaseSnapshot(T0, [.. Rows]));
    }

    private static (ClusterView View, ActiveLease Lease) Build(TableLeases leases, string hostId)
    {
        var lease = new ActiveLease(leases, hostId, SharedStorage.Timing(TimeSpan.FromSeconds(10)), new FakeTimeProvider(T0));
        var standby = new HotStandby(lease, Substitute.For<ISharedLedgerStore>(), leases);
        return (new ClusterView(hostId, "Postgres", standby), lease);
    }

    private static LeaseRecord Presence(string host, double expiresInSeconds) => new(HostPresence.ResourceOf(host), host, 1, T0.AddSeconds(expiresInSeconds));

    [Fact]
    public async Task ReadAsync_NoSharedStore_IsSingleWithoutLeaseOrPeers()
    {
        var dto = await new ClusterView("fe-x", "Sqlite", standby: null).ReadAsync(CancellationToken.None);

        Assert.Equal(("fe-x", HostRole.Single, "Sqlite"), (dto.HostId, dto.Role, dto.Storage));
        Assert.Null(dto.LeaseEpoch);
        Assert.Null(dto.ActiveHost);
        Assert.Empty(dto.Peers);
    }

    [Fact]
    public async Task ReadAsync_StandbyWhileAnotherHostIsActive_NamesTheHolderAndEveryPeer()
    {
        var leases = new TableLeases();
        leases.Rows.Add(new LeaseRecord(ActiveLease.Resource, "fe-a", 3, T0.AddSeconds(7)));
        leases.Rows.Add(Presence("fe-a", 9));
        leases.Rows.Add(Presence("fe-b", 9));
        leases.Rows.Add(Presence("fe-c", -30)); // stopped half a minute ago
        var (view, _) = Build(leases, "fe-b");

        var dto = await view.ReadAsync(CancellationToken.None);

        Assert.Equal(HostRole.Standby, dto.Role);
        Assert.Equal(HostRole.Standby, view.Role);
        Assert.Null(dto.LeaseEpoch);
        Assert.Equal("fe-a", dto.ActiveHost);
        Assert.Equal(T0.AddSeconds(7), dto.ActiveLeaseExpiresAt);
        Assert.Equal(
            new[] { new PeerDto("fe-a", Active: true, Live: true, T0.AddSeconds(9)), new PeerDto("fe-c", Active: false, Live: false, T0.AddSeconds(-30)) },
            dto.Peers);
        Assert.Null(dto.Error);
    }

    [Fact]
    public async Task ReadAsync_ActiveAfterTakeover_ShowsEpochPreviousHolderAndTheDeadHostAsDown()
    {
        var leases = new TableLeases { Grant = new LeaseGrant(ActiveLease.Resource, "fe-b", 2, T0.AddSeconds(10), "fe-a") };
        leases.Rows.Add(new LeaseRecord(ActiveLease.Resource, "fe-b", 2, T0.AddSeconds(10)));
        leases.Rows.Add(Presence("fe-a", -1));
        var (view, lease) = Build(leases, "fe-b");
        await lease.AcquireAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));

        var dto = await view.ReadAsync(CancellationToken.None);

        Assert.Equal((HostRole.Active, 2L, "fe-a", "fe-b"), (dto.Role, dto.LeaseEpoch, dto.PreviousHolder, dto.ActiveHost));
        Assert.Equal(T0.AddSeconds(10), dto.LeaseExpiresAt);
        Assert.Equal(2, view.LeaseEpoch);
        var peer = Assert.Single(dto.Peers);
        Assert.Equal(("fe-a", false, false), (peer.HostId, peer.Active, peer.Live));
    }

    [Fact]
    public async Task ReadAsync_ActiveHolderWithoutPresenceRow_IsStillAPeer()
    {
        var leases = new TableLeases();
        leases.Rows.Add(new LeaseRecord(ActiveLease.Resource, "fe-a", 1, T0.AddSeconds(5)));
        var (view, _) = Build(leases, "fe-b");

        var dto = await view.ReadAsync(CancellationToken.None);

        Assert.Equal(new[] { new PeerDto("fe-a", Active: true, Live: true, T0.AddSeconds(5)) }, dto.Peers);
    }

    [Fact]
    public async Task ReadAsync_ExpiredActiveLease_NoActiveHost()
    {
        var leases = new TableLeases();
        leases.Rows.Add(new LeaseRecord(ActiveLease.Resource, "fe-a", 1, T0.AddSeconds(-1)));
        leases.Rows.Add(Presence("fe-a", -1));
        var (view, _) = Build(leases, "fe-b");

        var dto = await view.ReadAsync(CancellationToken.None);

        Assert.Null(dto.ActiveHost);
        Assert.Equal(T0.AddSeconds(-1), dto.ActiveLeaseExpiresAt);
        Assert.False(Assert.Single(dto.Peers).Active);
    }

    [Fact]
    public async Task ReadAsync_LeaseTableUnreadable_KeepsOwnRoleAndNamesTheFaultNotTheDatabase()
    {
        var leases = new TableLeases { ReadFailure = new StateStoreException(StateStoreFault.Unavailable, "postgres://db1:5432/cm", "connection refused") };
        var (view, _) = Build(leases, "fe-b");

        var dto = await view.ReadAsync(CancellationToken.None);

        Assert.Equal(HostRole.Standby, dto.Role);
        Assert.Equal(nameof(StateStoreFault.Unavailable), dto.Error);
        Assert.Empty(dto.Peers);
    }

    [Fact]
    public void IsStandby_SingleHost_False()
    {
        Assert.False(new ClusterView("fe-x", "Sqlite", standby: null).IsStandby);
    }

    [Fact]
    public async Task IsStandby_WaitingThenGrantedAndMarkedActive_TrueThenFalse()
    {
        var leases = new TableLeases { Grant = new LeaseGrant(ActiveLease.Resource, "fe-b", 1, T0.AddSeconds(10), null) };
        var lease = new ActiveLease(leases, "fe-b", SharedStorage.Timing(TimeSpan.FromSeconds(10)), new FakeTimeProvider(T0));
        var standby = new HotStandby(lease, Substitute.For<ISharedLedgerStore>(), leases);
        var view = new ClusterView("fe-b", "Postgres", standby);
        Assert.True(view.IsStandby);

        // Holding a grant is not enough: the host is active once BecomeActiveAsync has adopted the dead host's work.
        await lease.AcquireAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(view.IsStandby);
        standby.MarkActive();

        Assert.False(view.IsStandby);
    }
}
