using System.Diagnostics.CodeAnalysis;
using ChannelManager.Core.Persistence;
using ChannelManager.Host.Hosting;

namespace ChannelManager.Host.Api;

/// <summary>What a host is in its group (issue 11 item 4, docs/scale-out.md §1).</summary>
public enum HostRole : byte
{
    /// <summary>The only host on its own store (SQLite): it polls and dials.</summary>
    [SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "The operator's word for a host without peers (docs/scale-out.md); shown in the API and dashboard.")]
    Single = 0,
    /// <summary>Holds the shared store's active lease: it polls and dials.</summary>
    Active = 1,
    /// <summary>Waits for the active lease: it polls and dials nothing on its own.</summary>
    Standby = 2,
}

/// <summary>
/// A host seen in the shared lease table: its presence lease (<c>host:&lt;id&gt;</c>), or the active lease when it holds
/// that. <paramref name="Live"/> is false for a host whose lease has expired (stopped, killed, or cut off).
/// </summary>
/// <param name="LeaseExpiresAt">When its lease expires (GET /api/cluster only: the SSE snapshot leaves it out, it changes at every renewal).</param>
/// <param name="Outstations">Active/active: outstations whose shard lease it holds (live leases only).</param>
/// <param name="Modems">Active/active: shared modems whose lease it holds.</param>
public sealed record PeerDto(string HostId, bool Active, bool Live, DateTimeOffset? LeaseExpiresAt, int? Outstations = null, int? Modems = null);

/// <summary>Active/active: what this host holds now (docs/scale-out.md §6).</summary>
/// <param name="Outstations">Outstations it polls (their shard lease — or, an IP outstation, its own lease — held, not being handed over).</param>
/// <param name="Modems">Shared (TCP-attached) modems it holds; its own serial modems are in <paramref name="LocalModems"/>.</param>
/// <param name="Shards">Outstation shard leases it holds.</param>
/// <param name="LocalModems">Modems on this host's own ports: never leased, never moved.</param>
/// <param name="Takeovers">Dead peers whose open dials it adopted.</param>
/// <param name="IpOutstations">Of <paramref name="Outstations"/>, the IP outstations (docs/scale-out.md §6.6).</param>
public sealed record ShareDto(int Outstations, int Modems, int Shards, int LocalModems, long Takeovers, int IpOutstations = 0);

/// <summary>
/// GET /api/cluster and the dashboard snapshot's <c>cluster</c>: this host's role and the peers it knows. The storage is
/// named by provider only — never a connection string, which may hold a password.
/// </summary>
/// <param name="LeaseEpoch">This host's active-lease epoch (the fencing token) while it is active.</param>
/// <param name="PreviousHolder">The host whose EXPIRED lease this host's grant replaced (a takeover), if any.</param>
/// <param name="ActiveHost">The holder of the live active lease as the database has it (null: none, or the table could not be read).</param>
/// <param name="Error">Why the lease table could not be read (the database's fault kind); the role is still this host's own.</param>
public sealed record ClusterDto(
    string HostId,
    HostRole Role,
    string Storage,
    long? LeaseEpoch,
    DateTimeOffset? LeaseExpiresAt,
    string? PreviousHolder,
    string? ActiveHost,
    DateTimeOffset? ActiveLeaseExpiresAt,
    IReadOnlyList<PeerDto> Peers,
    string? Error,
    string Mode = "Single",
    ShareDto? Shares = null)
{
    /// <summary>
    /// For the dashboard's SSE feed: without lease expiry times, which move at every renewal (every ~2 s on a pair) and
    /// made the feed re-send an otherwise unchanged snapshot.
    /// </summary>
    public ClusterDto WithoutExpiry() => this with
    {
        LeaseExpiresAt = null,
        ActiveLeaseExpiresAt = null,
        Peers = [.. Peers.Select(p => p with { LeaseExpiresAt = null })],
    };
}

/// <summary>
/// This host's role and peers: <see cref="HostRole.Single"/> on a SQLite store; on a shared store the role comes from
/// this host's own <see cref="ActiveLease"/> (what it acts on), the peers from the lease table.
/// </summary>
internal sealed class ClusterView(string hostId, string storage, HotStandby? standby, ActiveActiveOwnership? shares = null)
{
    /// <summary>For a host that registered none (the demo's dashboard, tests): one host on its own store.</summary>
    public static ClusterView SingleHost { get; } = new(Environment.MachineName, nameof(StorageProvider.Sqlite), standby: null);

    public string HostId { get; } = hostId;

    public HostRole Role => shares is not null ? HostRole.Active : standby is null ? HostRole.Single : standby.Lease.IsActive ? HostRole.Active : HostRole.Standby;

    /// <summary>Single (SQLite), HotStandby or ActiveActive.</summary>
    public string Mode => shares is not null ? nameof(StorageMode.ActiveActive) : standby is not null ? nameof(StorageMode.HotStandby) : nameof(HostRole.Single);

    /// <summary>Active/active: this host's share now (null otherwise).</summary>
    public ShareDto? Shares => shares is null ? null : new ShareDto(shares.OwnedOutstations, shares.OwnedModems, shares.OwnedShards, shares.Plan.LocalModems.Count, shares.Takeovers, shares.OwnedIpOutstations);

    /// <summary>
    /// Active/active: the host that owns outstation <paramref name="outstation"/> — dial-up (its shard) or IP (its own
    /// lease) — when it is not this one ("unknown" while nobody holds the lease); null when this host owns it, or outside
    /// active/active.
    /// </summary>
    public string? OwnerElsewhere(string outstation) => shares?.OwnerElsewhere(outstation);

    /// <summary>
    /// A host on a shared store that is not (or no longer) the active one: it must dial and poll nothing, on-demand polls
    /// included (docs/scale-out.md §3.3). <see cref="HotStandby.Active"/> not completed = still waiting for the lease;
    /// a lost grant = stopping after losing it.
    /// </summary>
    public bool IsStandby => standby is not null && (!standby.Active.IsCompleted || !standby.Lease.IsActive);

    /// <summary>The epoch of the active lease this host holds; 0 when it holds none (standby, single).</summary>
    public long LeaseEpoch => standby?.Lease.Grant?.Epoch ?? 0;

    /// <summary>Active/active: outstations and shared modems this host holds now (0 otherwise).</summary>
    public (int Outstations, int Modems) Owned => shares is null ? (0, 0) : (shares.OwnedOutstations, shares.OwnedModems);

    /// <summary>Times this host took over an expired active lease from another host.</summary>
    public long Takeovers => standby?.Takeovers ?? shares?.Takeovers ?? 0;

    public async Task<ClusterDto> ReadAsync(CancellationToken cancellationToken)
    {
        if (shares is not null)
            return await ReadSharesAsync(shares, cancellationToken).ConfigureAwait(false);
        if (standby is null)
            return new ClusterDto(HostId, HostRole.Single, storage, null, null, null, null, null, [], null);

        // Read once: the lease task may replace or drop the grant meanwhile.
        var grant = standby.Lease.Grant;
        var role = grant is null ? HostRole.Standby : HostRole.Active;
        LeaseSnapshot snapshot;
        try
        {
            snapshot = await standby.Leases.ReadLeasesAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (StateStoreException ex)
        {
            // The message names the database; the fault kind is enough to show.
            return new ClusterDto(HostId, role, storage, grant?.Epoch, grant?.ExpiresAt, grant?.PreviousHolder, null, null, [], ex.Fault.ToString(), Mode);
        }

        var active = snapshot.Leases.FirstOrDefault(l => l.Resource == ActiveLease.Resource);
        var activeHost = active is not null && active.ExpiresAt > snapshot.Now ? active.Holder : null;
        var peers = snapshot.Leases
            .Where(l => l.Resource.StartsWith(HostPresence.ResourcePrefix, StringComparison.Ordinal) && l.Holder != HostId)
            .Select(l => new PeerDto(l.Holder, l.Holder == activeHost, l.ExpiresAt > snapshot.Now, l.ExpiresAt))
            .ToList();
        // An active host without a presence row (it has not renewed it yet) is still a peer.
        if (activeHost is not null && activeHost != HostId && !peers.Any(p => p.HostId == activeHost))
            peers.Add(new PeerDto(activeHost, Active: true, Live: true, active!.ExpiresAt)); // activeHost is set only when active is.
        return new ClusterDto(
            HostId,
            role,
            storage,
            grant?.Epoch,
            grant?.ExpiresAt,
            grant?.PreviousHolder,
            activeHost,
            active?.ExpiresAt,
            [.. peers.OrderBy(p => p.HostId, StringComparer.Ordinal)],
            null,
            Mode);
    }

    /// <summary>Active/active: every host is Active on its share; peers with the outstations and modems they hold.</summary>
    private async Task<ClusterDto> ReadSharesAsync(ActiveActiveOwnership own, CancellationToken cancellationToken)
    {
        LeaseSnapshot snapshot;
        try
        {
            snapshot = await own.Leases.ReadLeasesAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (StateStoreException ex)
        {
            return new ClusterDto(HostId, HostRole.Active, storage, null, null, null, null, null, [], ex.Fault.ToString(), Mode, Shares);
        }

        var live = snapshot.Live.ToList();
        var peers = snapshot.Leases
            .Where(l => l.Resource.StartsWith(HostPresence.ResourcePrefix, StringComparison.Ordinal) && l.Holder != HostId)
            .Select(l =>
            {
                var held = live.Where(x => x.Holder == l.Holder).Select(x => x.Resource).ToHashSet(StringComparer.Ordinal);
                return new PeerDto(
                    l.Holder,
                    Active: l.ExpiresAt > snapshot.Now,
                    Live: l.ExpiresAt > snapshot.Now,
                    l.ExpiresAt,
                    own.Plan.ShardOf.Count(o => held.Contains(o.Value)) + own.Plan.IpLeaseOf.Count(o => held.Contains(o.Value)),
                    held.Count(r => r.StartsWith(OwnershipPlan.ModemPrefix, StringComparison.Ordinal)));
            })
            .OrderBy(p => p.HostId, StringComparer.Ordinal)
            .ToList();
        return new ClusterDto(HostId, HostRole.Active, storage, null, null, null, null, null, peers, null, Mode, Shares);
    }
}
