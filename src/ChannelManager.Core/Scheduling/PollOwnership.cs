using System.Text;

namespace ChannelManager.Core.Scheduling;

/// <summary>
/// Active/active seam of the scheduler (issue 11 item 2, docs/scale-out.md §6): "each outstation is owned by exactly one
/// live host at a time". <see cref="PollScheduler"/> asks it under its lock right before it dispatches (or refuses) a
/// queued poll; an outstation it does not own is parked — not polled, its waiters refused — until
/// <see cref="PollScheduler.ResumeOwnedAsync"/> hands it back. Without one (SQLite, hot standby) every outstation is the
/// host's own.
/// </summary>
public interface IPollOwnership
{
    /// <summary>True while this host holds the lease that covers <paramref name="outstation"/> and may poll it.</summary>
    bool Owns(string outstation);

    /// <summary>The host that owns <paramref name="outstation"/> as this host last saw the lease table (null: unknown).</summary>
    string? OwnerOf(string outstation);
}

/// <summary>
/// Who should own what among the live hosts: rendezvous (highest-random-weight) hashing with bounded loads, the same
/// pure function on every host, so hosts that see the same live set agree without talking to each other. The
/// database's leases make it SAFE (one holder at a time, whatever a host computes during a change of view); this makes
/// it BALANCED (no host gets more than ⌈keys/hosts⌉) and STABLE (a host joining or leaving moves about keys/hosts keys,
/// not all of them).
/// </summary>
public static class Rendezvous
{
    /// <summary>The shard (0 … <paramref name="shards"/>−1) an outstation belongs to: FNV-1a of its name, stable across builds and hosts.</summary>
    public static int ShardOf(string outstation, int shards)
    {
        ArgumentNullException.ThrowIfNull(outstation);
        ArgumentOutOfRangeException.ThrowIfLessThan(shards, 1);
        return (int)(Fnv1a(outstation) % (uint)shards);
    }

    /// <summary>
    /// Assigns every key to one of <paramref name="hosts"/>: keys in order of name each go to the highest-scoring host
    /// that still has room (at most ⌈keys/hosts⌉ each). Deterministic for the same keys and host set, whatever the
    /// order they are given in. Empty when there are no hosts.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Assign(IEnumerable<string> keys, IEnumerable<string> hosts)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(hosts);
        var hostList = hosts.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var keyList = keys.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (hostList.Count == 0)
            return result;
        var capacity = (keyList.Count + hostList.Count - 1) / hostList.Count;
        var load = hostList.ToDictionary(h => h, _ => 0, StringComparer.Ordinal);

        // Keys whose best host is least contested go first would be optimal; name order is good enough and keeps every
        // host's computation identical (balanced by the cap, stable because each key's preference order never changes).
        foreach (var key in keyList)
        {
            var owner = hostList.Where(h => load[h] < capacity).MaxBy(h => Score(h, key))!; // capacity × hosts ≥ keys: a host has room
            load[owner]++;
            result[key] = owner;
        }

        return result;
    }

    /// <summary>The weight of <paramref name="host"/> for <paramref name="key"/> (64-bit FNV-1a of both, then a finaliser so near names spread).</summary>
    public static ulong Score(string host, string key)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(key);
        var h = Fnv1a64(host + "\n" + key);
        // SplitMix64's finaliser: FNV alone leaves keys differing in their last character too close.
        h ^= h >> 30;
        h *= 0xbf58476d1ce4e5b9UL;
        h ^= h >> 27;
        h *= 0x94d049bb133111ebUL;
        h ^= h >> 31;
        return h;
    }

    private static uint Fnv1a(string s)
    {
        var h = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(s))
        {
            h = (h ^ b) * 16777619u;
        }

        return h;
    }

    private static ulong Fnv1a64(string s)
    {
        var h = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(s))
        {
            h = (h ^ b) * 1099511628211UL;
        }

        return h;
    }
}
