namespace ChannelManager.Core.Persistence;

/// <summary>
/// Ownership with expiry in the shared database (issue 11 item 2: "each modem and each outstation is owned by exactly one
/// live host at a time … a standby host takes over the leases of a dead host within a configurable time"). A lease is a
/// named resource (<c>outstation:RTU-17</c>, <c>modem:M3</c>, <c>host:front-end-1</c>) held by one host until it expires;
/// the holder renews it well before then. Expiry is judged by the DATABASE's clock, never a host's, so two hosts whose
/// clocks disagree still agree on who holds what.
/// </summary>
public interface ILeaseStore
{
    /// <summary>
    /// Takes <paramref name="resource"/> for <paramref name="holder"/> for <paramref name="duration"/> if it is free, expired,
    /// or already <paramref name="holder"/>'s (a renewal). Returns the grant, or null if another holder's lease is still
    /// live. One statement, so two hosts racing for a free resource cannot both win.
    /// </summary>
    Task<LeaseGrant?> TryAcquireLeaseAsync(string resource, string holder, TimeSpan duration, CancellationToken cancellationToken);

    /// <summary>Gives the lease up at once (a clean shutdown), if <paramref name="holder"/> still holds it. True if it did.</summary>
    Task<bool> ReleaseLeaseAsync(string resource, string holder, CancellationToken cancellationToken);

    /// <summary>Every lease, live or expired, with the database's time of reading (what the API shows as roles and peers).</summary>
    Task<LeaseSnapshot> ReadLeasesAsync(CancellationToken cancellationToken);
}

/// <summary>
/// A lease held. <paramref name="Epoch"/> grows by one each time the resource changes hands (a fencing token: a write
/// stamped with an older epoch comes from a host that lost the lease). <paramref name="PreviousHolder"/> is the host whose
/// EXPIRED lease this grant replaced — its unfinished work (attempts in progress, pending retries) is now this holder's.
/// </summary>
public sealed record LeaseGrant(string Resource, string Holder, long Epoch, DateTimeOffset ExpiresAt, string? PreviousHolder);

/// <summary>One lease row as stored.</summary>
public sealed record LeaseRecord(string Resource, string Holder, long Epoch, DateTimeOffset ExpiresAt);

/// <summary>All leases at <paramref name="Now"/> (the database's clock).</summary>
public sealed record LeaseSnapshot(DateTimeOffset Now, IReadOnlyList<LeaseRecord> Leases)
{
    public IEnumerable<LeaseRecord> Live => Leases.Where(l => l.ExpiresAt > Now);
}
