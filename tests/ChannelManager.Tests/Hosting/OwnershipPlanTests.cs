using ChannelManager.Core.Scheduling;
using ChannelManager.Host.Hosting;

namespace ChannelManager.Tests.Hosting;

/// <summary>
/// Active/active split (docs/scale-out.md §6): rendezvous hashing with bounded loads over the live hosts — balanced,
/// deterministic on every host, and stable when a host joins or leaves; every key has exactly one live owner.
/// </summary>
public sealed class OwnershipPlanTests
{
    private static readonly string[] Shards = [.. Enumerable.Range(0, 64).Select(i => $"shard:default/{i}")];

    [Fact]
    public void Assign_ThreeHosts_EveryKeyOneLiveOwnerAndNoHostAboveItsShare()
    {
        var owners = Rendezvous.Assign(Shards, ["fe-a", "fe-b", "fe-c"]);

        Assert.Equal(Shards.Order(StringComparer.Ordinal), owners.Keys.Order(StringComparer.Ordinal));
        Assert.All(owners.Values, h => Assert.Contains(h, new[] { "fe-a", "fe-b", "fe-c" }));
        var loads = owners.Values.GroupBy(h => h).Select(g => g.Count()).ToList();
        Assert.Equal(3, loads.Count);
        Assert.All(loads, l => Assert.InRange(l, 64 - (2 * 22), 22)); // ⌈64/3⌉ = 22
    }

    [Fact]
    public void Assign_SameHostsInAnyOrder_SameOwners()
    {
        var a = Rendezvous.Assign(Shards, ["fe-a", "fe-b", "fe-c"]);
        var b = Rendezvous.Assign(Shards.Reverse(), ["fe-c", "fe-a", "fe-b", "fe-a"]);

        Assert.Equal(a.OrderBy(kv => kv.Key), b.OrderBy(kv => kv.Key));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    public void Assign_HostJoinsThenLeaves_MovesAboutItsShareOnlyAndComesBack(int hosts)
    {
        var before = Enumerable.Range(0, hosts).Select(i => $"fe-{i}").ToList();
        var after = before.Append("fe-new").ToList();

        var old = Rendezvous.Assign(Shards, before);
        var joined = Rendezvous.Assign(Shards, after);
        var moved = Shards.Count(s => old[s] != joined[s]);

        // Stable: about keys/(hosts+1) move (to the new host), never a wholesale reshuffle; a bounded-load cascade may
        // move a few more, at most one more share.
        var share = (64 + hosts) / (hosts + 1); // ⌈64/(hosts+1)⌉, the bounded load
        Assert.InRange(joined.Values.Count(h => h == "fe-new"), 64 - (hosts * share), share);
        Assert.True(moved <= 2 * share, $"{moved} of 64 shards moved when a host joined {hosts} hosts");
        // Leaving again restores the old split exactly (a pure function of the live set).
        Assert.Equal(old.OrderBy(kv => kv.Key), Rendezvous.Assign(Shards, before).OrderBy(kv => kv.Key));
    }

    [Fact]
    public void ShardOf_TenThousandOutstations_SpreadOverEveryShard()
    {
        var counts = Enumerable.Range(0, 10_000).GroupBy(i => Rendezvous.ShardOf($"RTU-{i:D5}", 64)).Select(g => g.Count()).ToList();

        Assert.Equal(64, counts.Count);
        Assert.All(counts, c => Assert.InRange(c, 156 * 0.6, 156 * 1.4)); // mean 156
    }

    [Fact]
    public void Assign_PoolsAndSerialModems_OutstationsGoToHostsWithModemsOfTheirPoolAndSerialModemsAreNeverLeased()
    {
        var plan = new OwnershipPlan(
            [.. Enumerable.Range(0, 40).Select(i => ($"N{i}", (string?)"north")), .. Enumerable.Range(0, 40).Select(i => ($"D{i}", (string?)null))],
            [("NM1", ["north"], true), ("DM1", [], true), ("DM2", [], true), ("DM3", [], true), ("COM1", [], false)],
            shards: 8);

        var owners = plan.Assign(["fe-a", "fe-b"]);

        Assert.Equal(["COM1"], plan.LocalModems);
        Assert.DoesNotContain("modem:COM1", owners.Keys);
        var northModemHost = owners["modem:NM1"];
        // Only one host has a north modem: every north shard is that host's, so no north poll waits for a modem it cannot have.
        Assert.All(plan.ShardOf.Where(o => o.Key.StartsWith('N')), o => Assert.Equal(northModemHost, owners[o.Value]));
        // The default pool's three modems are split, and so are its shards.
        Assert.Equal(2, new[] { "DM1", "DM2", "DM3" }.Select(m => owners["modem:" + m]).Distinct().Count());
        Assert.Equal(2, plan.ShardOf.Where(o => o.Key.StartsWith('D')).Select(o => owners[o.Value]).Distinct().Count());
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Assign_IpOutstations_OneLeaseEachSplitDisjointCoveringBalancedAndTheSameOnEveryHost(int hosts)
    {
        string[] ip = [.. Enumerable.Range(0, 7).Select(i => $"IP-{i}")];
        var live = Enumerable.Range(0, hosts).Select(i => $"fe-{i}").ToList();
        var plan = new OwnershipPlan([("D1", null)], [("M1", [], true)], shards: 4, ip);
        // Another host builds its plan from the same config listed in another order and sees the live set in another order.
        var other = new OwnershipPlan([("D1", null)], [("M1", [], true)], shards: 4, ip.Reverse());

        var owners = plan.Assign(live);

        Assert.Equal(ip.Select(n => "ip:" + n).Order(StringComparer.Ordinal), plan.IpLeaseOf.Values.Order(StringComparer.Ordinal));
        // Covering and disjoint: every IP outstation's lease has exactly one owner, a live host.
        Assert.All(ip, n => Assert.Contains(owners[plan.IpLeaseOf[n]], live));
        var loads = live.Select(h => ip.Count(n => owners[plan.IpLeaseOf[n]] == h)).ToList();
        Assert.Equal(ip.Length, loads.Sum());
        Assert.All(loads, l => Assert.InRange(l, 1, (ip.Length + hosts - 1) / hosts));
        Assert.Equal(owners.OrderBy(kv => kv.Key, StringComparer.Ordinal), other.Assign(Enumerable.Reverse(live).ToList()).OrderBy(kv => kv.Key, StringComparer.Ordinal));
        // Split over all live hosts, not among modem holders: the one shared modem has one host, the IP outstations all.
        Assert.Equal(hosts, ip.Select(n => owners[plan.IpLeaseOf[n]]).Distinct().Count());

        // A host dies: the survivors own every IP outstation, and those it did not hold stay where they were.
        var survivors = live.Skip(1).ToList();
        var after = plan.Assign(survivors);
        Assert.All(ip, n => Assert.Contains(after[plan.IpLeaseOf[n]], survivors));
        Assert.True(ip.Where(n => owners[plan.IpLeaseOf[n]] != live[0]).Count(n => after[plan.IpLeaseOf[n]] != owners[plan.IpLeaseOf[n]]) <= 1, "a survivor's IP outstations were reshuffled");
    }
}
