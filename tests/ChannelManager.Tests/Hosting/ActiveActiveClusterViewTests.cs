using System.Text.Json;
using ChannelManager.Core.Persistence;
using ChannelManager.Host.Api;
using ChannelManager.Host.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace ChannelManager.Tests.Hosting;

/// <summary>
/// /api/cluster on an active/active host (docs/scale-out.md §6): the mode, this host's share and each peer's share from
/// the lease table; the SSE snapshot's copy carries no lease expiry (it moved at every renewal and re-sent the snapshot).
/// </summary>
public sealed class ActiveActiveClusterViewTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);

    private sealed class Table(List<LeaseRecord> rows) : ILeaseStore
    {
        public Task<LeaseGrant?> TryAcquireLeaseAsync(string resource, string holder, TimeSpan duration, CancellationToken cancellationToken) =>
            Task.FromResult<LeaseGrant?>(new LeaseGrant(resource, holder, 1, T0 + duration, null));

        public Task<bool> ReleaseLeaseAsync(string resource, string holder, CancellationToken cancellationToken) => Task.FromResult(true);

        public Task<LeaseSnapshot> ReadLeasesAsync(CancellationToken cancellationToken) => Task.FromResult(new LeaseSnapshot(T0, [.. rows]));
    }

    [Fact]
    public async Task ReadAsync_ActiveActive_ModeSharesAndPeerSharesFromTheLeaseTable()
    {
        var plan = new OwnershipPlan([("R1", null), ("R2", null), ("R3", null)], [("M1", [], true), ("M2", [], true), ("COM1", [], false)], shards: 64);
        var rows = new List<LeaseRecord>
        {
            new("host:fe-a", "fe-a", 1, T0.AddSeconds(9)),
            new("host:fe-b", "fe-b", 1, T0.AddSeconds(8)),
            new("modem:M2", "fe-b", 1, T0.AddSeconds(7)),
            new("host:fe-c", "fe-c", 1, T0.AddSeconds(-60)),
        };
        // fe-a holds R1's shard and M1; fe-b holds the others' shards and M2.
        rows.AddRange(plan.ShardOf.Where(o => o.Key != "R1" && o.Value != plan.ShardOf["R1"]).Select(o => o.Value).Distinct().Select(s => new LeaseRecord(s, "fe-b", 1, T0.AddSeconds(7))));
        var time = new FakeTimeProvider(T0);
        var ownership = new ActiveActiveOwnership(plan, new Table(rows), "fe-a", SharedStorage.Timing(TimeSpan.FromSeconds(10)), time);
        ownership.Took(plan.ShardOf["R1"], 1, time.GetTimestamp());
        ownership.Took("modem:M1", 1, time.GetTimestamp());
        ownership.SeeHolders(rows.Where(r => r.ExpiresAt > T0).ToDictionary(r => r.Resource, r => r.Holder)); // as the ownership loop's last round saw them
        var view = new ClusterView("fe-a", "Postgres", standby: null, ownership);

        var dto = await view.ReadAsync(CancellationToken.None);

        Assert.Equal(("ActiveActive", HostRole.Active), (dto.Mode, dto.Role));
        Assert.Equal(new ShareDto(Outstations: 1, Modems: 1, Shards: 1, LocalModems: 1, Takeovers: 0), dto.Shares);
        Assert.Equal(
            [new PeerDto("fe-b", true, true, T0.AddSeconds(8), 3 - plan.ShardOf.Values.Count(s => s == plan.ShardOf["R1"]), 1), new PeerDto("fe-c", false, false, T0.AddSeconds(-60), 0, 0)],
            dto.Peers);
        Assert.Null(view.OwnerElsewhere("R1"));
        Assert.Equal(plan.ShardOf["R2"] == plan.ShardOf["R1"] ? null : "fe-b", view.OwnerElsewhere("R2")); // 409 names fe-b
        Assert.Equal((1, 1), view.Owned);
    }

    [Fact]
    public void WithoutExpiry_TwoReadsThatDifferOnlyInRenewals_SerializeTheSame()
    {
        ClusterDto Read(int renewedSeconds) => new(
            "fe-a", HostRole.Active, "Postgres", 3, T0.AddSeconds(renewedSeconds), null, "fe-a", T0.AddSeconds(renewedSeconds),
            [new PeerDto("fe-b", false, true, T0.AddSeconds(renewedSeconds + 1))], null, "HotStandby");

        var first = JsonSerializer.Serialize(Read(10).WithoutExpiry());
        var second = JsonSerializer.Serialize(Read(12).WithoutExpiry());

        Assert.Equal(first, second);
        Assert.NotEqual(JsonSerializer.Serialize(Read(10)), JsonSerializer.Serialize(Read(12)));
        Assert.DoesNotContain("2026-11-23", first, StringComparison.Ordinal);
    }
}
