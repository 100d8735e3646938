namespace ChannelManager.Core.Persistence;

/// <summary>
/// Hot standby (issue 11 item 2): of the hosts sharing one database, only the holder of the <see cref="Resource"/>
/// lease is active (polls and dials); the others wait in <see cref="AcquireAsync"/>. The active host renews the lease in
/// <see cref="HoldAsync"/> and stops being active — fail-stop — as soon as it cannot prove it still holds it: a refused
/// renewal, or no successful renewal for <see cref="ActiveLeaseOptions.LeaseTime"/> minus
/// <see cref="ActiveLeaseOptions.SafetyMargin"/> measured on its own monotonic clock from the moment the last good
/// renewal was SENT. The database expires the lease no earlier than that, so the old active host has stopped before a
/// standby can take over (docs/scale-out.md §4). A standby takes over at most <see cref="ActiveLeaseOptions.LeaseTime"/>
/// + <see cref="ActiveLeaseOptions.RetryInterval"/> after the active host's last renewal.
/// </summary>
public sealed class ActiveLease(ILeaseStore leases, string hostId, ActiveLeaseOptions options, TimeProvider timeProvider)
{
    private readonly ActiveLeaseOptions _options = options ?? throw new ArgumentNullException(nameof(options));

    public const string Resource = "cluster:active";

    private long _lastRenewSent;

    public string HostId { get; } = string.IsNullOrWhiteSpace(hostId) ? throw new ArgumentException("A host id is required.", nameof(hostId)) : hostId;

    /// <summary>The grant this host holds now, or null while standby or after the lease was lost.</summary>
    public LeaseGrant? Grant { get; private set; }

    public bool IsActive => Grant is not null;

    /// <summary>
    /// Waits until this host holds the lease, asking every <see cref="ActiveLeaseOptions.RetryInterval"/>. The grant's
    /// <see cref="LeaseGrant.PreviousHolder"/> names the host whose work is now this one's (its open attempts are to be
    /// closed as failed, its pending retries resumed). A database that cannot be reached just means "ask again".
    /// </summary>
    public async Task<LeaseGrant> AcquireAsync(CancellationToken cancellationToken)
    {
        _options.Validate();
        while (true)
        {
            var sent = timeProvider.GetTimestamp();
            try
            {
                if (await leases.TryAcquireLeaseAsync(Resource, HostId, _options.LeaseTime, cancellationToken).ConfigureAwait(false) is { } grant)
                {
                    _lastRenewSent = sent;
                    Grant = grant;
                    return grant;
                }
            }
            catch (StateStoreException)
            {
                // Standby with no database: nothing to take over yet; keep asking.
            }

            await Task.Delay(_options.RetryInterval, timeProvider, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Renews the lease every <see cref="ActiveLeaseOptions.RenewInterval"/> until it is lost (returns
    /// <see cref="LeaseEnd.Lost"/> or <see cref="LeaseEnd.Unreachable"/>: stop dialling at once) or
    /// <paramref name="cancellationToken"/> is cancelled (a clean shutdown: the lease is released so a standby takes over
    /// without waiting for expiry; returns <see cref="LeaseEnd.Released"/>).
    /// </summary>
    public async Task<LeaseEnd> HoldAsync(CancellationToken cancellationToken)
    {
        if (Grant is null)
            throw new InvalidOperationException("HoldAsync needs the lease: call AcquireAsync first.");
        var safe = _options.LeaseTime - _options.SafetyMargin;
        try
        {
            while (true)
            {
                // Wake for the next renewal, or earlier when the safe window would close first.
                var left = safe - timeProvider.GetElapsedTime(_lastRenewSent);
                if (left <= TimeSpan.Zero)
                    return Lose(LeaseEnd.Unreachable);
                await Task.Delay(left < _options.RenewInterval ? left : _options.RenewInterval, timeProvider, cancellationToken).ConfigureAwait(false);
                if (timeProvider.GetElapsedTime(_lastRenewSent) >= safe)
                    return Lose(LeaseEnd.Unreachable);

                var sent = timeProvider.GetTimestamp();
                try
                {
                    var grant = await leases.TryAcquireLeaseAsync(Resource, HostId, _options.LeaseTime, cancellationToken).ConfigureAwait(false);
                    if (grant is null || grant.Epoch != Grant.Epoch)
                        return Lose(LeaseEnd.Lost);
                    _lastRenewSent = sent;
                    Grant = grant;
                }
                catch (StateStoreException)
                {
                    // Not renewed; the safe window decides (checked at the top of the loop).
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            try
            {
                await leases.ReleaseLeaseAsync(Resource, HostId, CancellationToken.None).ConfigureAwait(false);
            }
            catch (StateStoreException)
            {
                // Cannot release: the lease simply expires; the standby takes over after LeaseTime instead of at once.
            }

            Grant = null;
            return LeaseEnd.Released;
        }
    }

    private LeaseEnd Lose(LeaseEnd end)
    {
        Grant = null;
        return end;
    }
}

/// <summary>Why <see cref="ActiveLease.HoldAsync"/> returned.</summary>
public enum LeaseEnd
{
    /// <summary>Shut down cleanly; the lease was given up.</summary>
    Released,
    /// <summary>Another host holds the lease (this one's expired): stop dialling.</summary>
    Lost,
    /// <summary>No renewal succeeded within the safe window (database unreachable): stop dialling before the lease can expire.</summary>
    Unreachable,
}

/// <summary>Timing of <see cref="ActiveLease"/> (issue 11: a standby takes over within ≤ 15 s by default).</summary>
public sealed class ActiveLeaseOptions
{
    /// <summary>How long a grant lasts in the database without renewal.</summary>
    public TimeSpan LeaseTime { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How often the active host renews (a third of the lease: two renewals may fail before it is lost).</summary>
    public TimeSpan RenewInterval { get; init; } = TimeSpan.FromSeconds(10.0 / 3);

    /// <summary>How often a standby asks for the lease.</summary>
    public TimeSpan RetryInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The active host gives up this long before the lease could expire (network delay, clock rate differences).</summary>
    public TimeSpan SafetyMargin { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Bad timing is bad config: an exception naming the rule (a renewal must fit in the safe window).</summary>
    public void Validate()
    {
        if (LeaseTime <= TimeSpan.Zero || RetryInterval <= TimeSpan.Zero || RenewInterval <= TimeSpan.Zero || SafetyMargin < TimeSpan.Zero)
            throw new ArgumentException($"ActiveLease times must be positive (LeaseTime {LeaseTime}, RenewInterval {RenewInterval}, RetryInterval {RetryInterval}, SafetyMargin {SafetyMargin}).");
        if (RenewInterval >= LeaseTime - SafetyMargin)
            throw new ArgumentException($"ActiveLease RenewInterval {RenewInterval} must be shorter than LeaseTime {LeaseTime} − SafetyMargin {SafetyMargin}, or the lease is lost between renewals.");
    }

    /// <summary>The longest a standby waits after the active host's last renewal: <see cref="LeaseTime"/> + <see cref="RetryInterval"/>.</summary>
    public TimeSpan WorstCaseTakeover => LeaseTime + RetryInterval;
}
