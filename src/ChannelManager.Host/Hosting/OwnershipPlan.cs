using ChannelManager.Core.Channels;
using ChannelManager.Core.Scheduling;

namespace ChannelManager.Host.Hosting;

/// <summary>
/// What an active/active group leases (docs/scale-out.md §6), and who should hold each lease for a given set of live
/// hosts — a pure function of the configuration (identical on every host) and the live set.
/// <list type="bullet">
/// <item><c>modem:&lt;name&gt;</c> — one lease per TCP-attached modem (a serial server both hosts reach). A modem on a
/// host's own serial port (or an in-process simulated one) is that host's alone: never leased, never moved (§6 item 4).</item>
/// <item><c>shard:&lt;pool&gt;/&lt;n&gt;</c> — outstations are grouped by a hash of their name into <c>Shards</c> lease
/// shards per modem pool, so 10 000 outstations cost 64 lease rows per pool to renew, not 10 000. Per pool, because an
/// outstation must go to a host that holds modems of its pool: a pool's shards are split among the hosts that the modem
/// split gives modems of that pool (all live hosts if none does, e.g. a pool served only by serial modems).</item>
/// <item><c>ip:&lt;name&gt;</c> — one lease per IP outstation (always connected, issue 7): like a modem, each is one
/// long-lived connection that two hosts must never hold at once, and the holder closes it before it lets the lease go.
/// They need no modem, so they are split over all live hosts, balanced on their own (not mixed into a pool's shards,
/// where two outstations could share one shard and a pair of hosts end up with one idle).</item>
/// </list>
/// </summary>
internal sealed class OwnershipPlan
{
    public const string ShardPrefix = "shard:";
    public const string ModemPrefix = "modem:";
    public const string IpPrefix = "ip:";

    private readonly Dictionary<string, string> _shardOf = new(StringComparer.Ordinal);
    private readonly List<(string Resource, IReadOnlyList<string> Pools)> _modems = [];
    private readonly Dictionary<string, List<string>> _shardsByPool = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, string> _ipLeaseOf = new(StringComparer.Ordinal);

    /// <param name="outstations">Every dial-up outstation: name and pool (null = default).</param>
    /// <param name="modems">Every configured modem: name, pools, and whether it is shared (TCP-attached).</param>
    /// <param name="shards">Lease shards per pool.</param>
    /// <param name="ipOutstations">Every IP outstation's name (none: no <c>ip:</c> leases).</param>
    public OwnershipPlan(IEnumerable<(string Name, string? Pool)> outstations, IEnumerable<(string Name, IReadOnlyList<string> Pools, bool Shared)> modems, int shards, IEnumerable<string>? ipOutstations = null)
    {
        ArgumentNullException.ThrowIfNull(outstations);
        ArgumentNullException.ThrowIfNull(modems);
        ArgumentOutOfRangeException.ThrowIfLessThan(shards, 1);
        foreach (var (name, pool) in outstations)
        {
            var p = pool ?? ChannelPools.Default;
            var resource = $"{ShardPrefix}{p}/{Rendezvous.ShardOf(name, shards)}";
            _shardOf[name] = resource;
            if (!_shardsByPool.TryGetValue(p, out var list))
                _shardsByPool[p] = list = [];
            if (!list.Contains(resource, StringComparer.Ordinal))
                list.Add(resource);
        }

        foreach (var (name, pools, shared) in modems)
        {
            if (shared)
                _modems.Add((ModemPrefix + name, pools.Count == 0 ? [ChannelPools.Default] : pools));
            else
                LocalModems.Add(name);
        }

        foreach (var name in ipOutstations ?? [])
        {
            _ipLeaseOf[name] = IpPrefix + name;
        }
    }

    /// <summary>Modems never leased: this host's serial ports (and in-process simulated modems).</summary>
    public List<string> LocalModems { get; } = [];

    /// <summary>The lease names of the shared modems.</summary>
    public IEnumerable<string> ModemResources => _modems.Select(m => m.Resource);

    /// <summary>Every outstation with its shard lease.</summary>
    public IReadOnlyDictionary<string, string> ShardOf => _shardOf;

    /// <summary>Every IP outstation with its lease (<c>ip:&lt;name&gt;</c>).</summary>
    public IReadOnlyDictionary<string, string> IpLeaseOf => _ipLeaseOf;

    public static string IpOutstationOf(string resource) => resource[IpPrefix.Length..];

    public static string ModemOf(string resource) => resource[ModemPrefix.Length..];

    /// <summary>
    /// Who should hold each lease when <paramref name="liveHosts"/> are alive: the shared modems split per pool set by
    /// <see cref="Rendezvous.Assign"/>, then each pool's shards among the hosts holding modems of that pool; the IP
    /// outstations' leases among all of them.
    /// </summary>
    public IReadOnlyDictionary<string, string> Assign(IReadOnlyCollection<string> liveHosts)
    {
        ArgumentNullException.ThrowIfNull(liveHosts);
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (liveHosts.Count == 0)
            return result;

        // Modems with the same pools are split among themselves, so each host gets its share of every pool.
        foreach (var group in _modems.GroupBy(m => string.Join(",", m.Pools.Order(StringComparer.OrdinalIgnoreCase)), StringComparer.OrdinalIgnoreCase))
        {
            foreach (var (resource, host) in Rendezvous.Assign(group.Select(m => m.Resource), liveHosts))
            {
                result[resource] = host;
            }
        }

        foreach (var (pool, shards) in _shardsByPool)
        {
            var eligible = _modems.Where(m => m.Pools.Contains(pool, StringComparer.OrdinalIgnoreCase)).Select(m => result[m.Resource]).Distinct(StringComparer.Ordinal).ToList();
            foreach (var (resource, host) in Rendezvous.Assign(shards, eligible.Count > 0 ? eligible : liveHosts))
            {
                result[resource] = host;
            }
        }

        foreach (var (resource, host) in Rendezvous.Assign(_ipLeaseOf.Values, liveHosts))
        {
            result[resource] = host;
        }

        return result;
    }
}
