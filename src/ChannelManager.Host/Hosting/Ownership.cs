using System.Collections.Concurrent;
using ChannelManager.Core.Channels;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Scheduling;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ChannelManager.Host.Hosting;

/// <summary>
/// This host's share of an active/active group (issue 11 item 2, docs/scale-out.md §6): which shard, modem and IP
/// outstation leases it holds now (<see cref="OwnsIp"/> for the IP outstations' channels, §6.6). <see cref="Owns"/> is the scheduler's predicate: true only while this host holds the outstation's shard
/// lease, is not handing it over, and is inside the lease's safe window (LeaseTime − SafetyMargin since the last renewal
/// it SENT, on its own monotonic clock — the database cannot expire the lease before that, so a host that cannot renew
/// stops polling before a peer may start, as <see cref="ActiveLease"/> does for the hot standby).
/// </summary>
internal sealed class ActiveActiveOwnership : IPollOwnership
{
    private readonly ConcurrentDictionary<string, Held> _held = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _releasing = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private volatile IReadOnlyDictionary<string, string> _holders = new Dictionary<string, string>(StringComparer.Ordinal);
    private volatile bool _stopped;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ActiveActiveOwnership(OwnershipPlan plan, ILeaseStore leases, string hostId, ActiveLeaseOptions timing, TimeProvider timeProvider)
    {
        Plan = plan ?? throw new ArgumentNullException(nameof(plan));
        Leases = leases ?? throw new ArgumentNullException(nameof(leases));
        HostId = hostId;
        Timing = timing ?? throw new ArgumentNullException(nameof(timing));
        _time = timeProvider ?? throw new ArgumentNullException(nameof(timeProvider));
    }

    public OwnershipPlan Plan { get; }

    public ILeaseStore Leases { get; }

    public string HostId { get; }

    public ActiveLeaseOptions Timing { get; }

    private TimeSpan Safe => Timing.LeaseTime - Timing.SafetyMargin;

    /// <summary>Leases this host holds now (shards and modems).</summary>
    public IReadOnlyCollection<string> HeldResources => [.. _held.Keys];

    /// <summary>Dial-up outstations of the shards it holds plus the IP outstations it holds (both polled by this host only).</summary>
    public int OwnedOutstations => Plan.ShardOf.Count(o => Owns(o.Key)) + OwnedIpOutstations;

    /// <summary>IP outstations whose lease this host holds and uses.</summary>
    public int OwnedIpOutstations => Plan.IpLeaseOf.Count(o => IsUsable(o.Value));

    public int OwnedModems => _held.Keys.Count(r => r.StartsWith(OwnershipPlan.ModemPrefix, StringComparison.Ordinal) && IsUsable(r));

    public int OwnedShards => _held.Keys.Count(r => r.StartsWith(OwnershipPlan.ShardPrefix, StringComparison.Ordinal) && IsUsable(r));

    /// <summary>Dead peers whose open dials this host adopted.</summary>
    public long Takeovers => Interlocked.Read(ref _takeovers);

    private long _takeovers;

    public bool Owns(string outstation) => Plan.ShardOf.TryGetValue(outstation, out var shard) && IsUsable(shard);

    public string? OwnerOf(string outstation) => HolderOf(Plan.ShardOf.GetValueOrDefault(outstation));

    /// <summary>True while this host holds IP outstation <paramref name="name"/>'s lease and may keep its connection open and poll it.</summary>
    public bool OwnsIp(string name) => Plan.IpLeaseOf.TryGetValue(name, out var resource) && IsUsable(resource);

    /// <summary>
    /// The host that owns outstation <paramref name="outstation"/> — dial-up (its shard lease) or IP (its own lease) — when
    /// it is not this one ("unknown" while nobody holds the lease); null when this host uses the lease, or the name has none.
    /// </summary>
    public string? OwnerElsewhere(string outstation) =>
        (Plan.ShardOf.GetValueOrDefault(outstation) ?? Plan.IpLeaseOf.GetValueOrDefault(outstation)) is not { } lease || IsUsable(lease) ? null
        : HolderOf(lease) ?? "unknown";

    /// <summary>This host while it uses <paramref name="resource"/>, else its holder in the last lease table read (null: unknown or no such lease).</summary>
    private string? HolderOf(string? resource) =>
        resource is null ? null
        : IsUsable(resource) ? HostId
        : _holders.TryGetValue(resource, out var holder) ? holder : null;

    /// <summary>
    /// Completes at the next change of what this host holds or uses (a lease taken, a hand-over begun, a lease released,
    /// a fail-stop): the IP outstations' loops wait on it to open or close their connections.
    /// </summary>
    public Task Changed => Volatile.Read(ref _changed).Task;

    /// <summary>Held, not being handed over, and renewed recently enough that the database cannot have expired it.</summary>
    public bool IsUsable(string resource) =>
        !_stopped && !_releasing.ContainsKey(resource) && _held.TryGetValue(resource, out var h) && _time.GetElapsedTime(h.Sent) < Safe;

    internal bool Holds(string resource) => _held.ContainsKey(resource);

    internal bool IsReleasing(string resource) => _releasing.ContainsKey(resource);

    internal void Took(string resource, long epoch, long sent)
    {
        _held[resource] = new Held(epoch, sent);
        _releasing.TryRemove(resource, out _);
        Signal();
    }

    internal bool Renewed(string resource, long epoch, long sent)
    {
        if (!_held.TryGetValue(resource, out var h) || h.Epoch != epoch)
            return false;
        _held[resource] = h with { Sent = sent };
        return true;
    }

    internal long? EpochOf(string resource) => _held.TryGetValue(resource, out var h) ? h.Epoch : null;

    /// <summary>Stop using <paramref name="resource"/> (a hand-over): from now on <see cref="Owns"/> is false for it.</summary>
    internal void BeginRelease(string resource)
    {
        _releasing[resource] = true;
        // Dekker with IpOutstation.MarkInUse: the busy check that follows must see a channel marked in use before this,
        // and a channel marked after it must see this hand-over.
        Interlocked.MemoryBarrier();
        Signal();
    }

    /// <summary>The split gives a lease being handed over back to this host before it was released: use it again.</summary>
    internal bool KeepAfterAll(string resource)
    {
        if (!_releasing.TryRemove(resource, out _))
            return false;
        Signal();
        return true;
    }

    internal void Released(string resource)
    {
        _held.TryRemove(resource, out _);
        _releasing.TryRemove(resource, out _);
        Signal();
    }

    /// <summary>Fail-stop: owns nothing any more (a lease lost or not renewable in time).</summary>
    internal void Stop()
    {
        _stopped = true;
        Signal();
    }

    private void Signal() =>
        Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>A held resource whose safe window has passed without a successful renewal (null: none).</summary>
    internal string? Overdue() => _held.FirstOrDefault(kv => _time.GetElapsedTime(kv.Value.Sent) >= Safe).Key;

    internal IEnumerable<(string Resource, long Sent)> Renewals() => _held.Select(kv => (kv.Key, kv.Value.Sent));

    internal void SeeHolders(IReadOnlyDictionary<string, string> holders) => _holders = holders;

    internal void CountTakeover() => Interlocked.Increment(ref _takeovers);

    private sealed record Held(long Epoch, long Sent);
}

/// <summary>
/// Runs an active/active host's share (docs/scale-out.md §6): every <see cref="ActiveLeaseOptions.RetryInterval"/> it
/// reads the lease table, computes the split for the live hosts (presence leases <c>host:&lt;id&gt;</c>), hands over
/// what is no longer its own (stop using it, wait until its polls and calls have ended — and a modem's or IP outstation's
/// connection is closed — then release the lease), takes what is
/// (lease first, then use: modems leave <see cref="ModemAvailability.HeldByPeer"/>, outstations' retries are re-read),
/// renews what it holds, and adopts the open dials of a dead peer. A lease it cannot keep stops the host (exit 3), as a
/// hot-standby host that loses the active lease does.
/// </summary>
internal sealed class OwnershipService(
    ActiveActiveOwnership ownership,
    PollScheduler scheduler,
    ModemChannelManager channels,
    ServiceExitState exit,
    IHostApplicationLifetime lifetime,
    TimeProvider timeProvider,
    ILogger<OwnershipService> logger,
    IpOutstationSet? ipOutstations = null) : BackgroundService
{
    private readonly HashSet<string> _adopted = new(StringComparer.Ordinal);

    /// <summary>Outstations whose shard this host took but whose state it has not re-read yet (the database was away): not polled until it has.</summary>
    private readonly HashSet<string> _toResume = new(StringComparer.Ordinal);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        OwnershipLog.Started(logger, ownership.HostId, ownership.Plan.ShardOf.Values.Distinct(StringComparer.Ordinal).Count(), ownership.Plan.ModemResources.Count(), ownership.Plan.IpLeaseOf.Count);
        try
        {
            while (true)
            {
                if (!await StepAsync(draining: false, stoppingToken).ConfigureAwait(false))
                    return;
                await Task.Delay(ownership.Timing.RetryInterval, timeProvider, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            await DrainAsync().ConfigureAwait(false);
        }
        catch (StateStoreException ex) when (ex.Fault == StateStoreFault.Fenced)
        {
            FailStop("fenced");
        }
    }

    /// <summary>
    /// One round. Returns false after a fail-stop. <paramref name="draining"/>: a clean stop — nothing is this host's any
    /// more, so everything is handed over as soon as its calls end (leases kept renewed meanwhile).
    /// </summary>
    internal async Task<bool> StepAsync(bool draining, CancellationToken cancellationToken)
    {
        LeaseSnapshot? snapshot = null;
        try
        {
            snapshot = await ownership.Leases.ReadLeasesAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (StateStoreException)
        {
            // The database is away: nothing new is taken; renewals below fail too and the safe window decides.
        }

        if (snapshot is not null)
        {
            var live = snapshot.Live.ToList();
            var hosts = live.Where(l => l.Resource.StartsWith(HostPresence.ResourcePrefix, StringComparison.Ordinal)).Select(l => l.Holder)
                .Where(h => !draining || h != ownership.HostId).ToHashSet(StringComparer.Ordinal);
            if (!draining)
                hosts.Add(ownership.HostId);
            ownership.SeeHolders(live.ToDictionary(l => l.Resource, l => l.Holder, StringComparer.Ordinal));
            var desired = ownership.Plan.Assign(hosts);

            await HandOverAsync(desired, cancellationToken).ConfigureAwait(false);
            if (!draining)
            {
                if (!await TakeAsync(desired, cancellationToken).ConfigureAwait(false))
                    return false;
                await AdoptDeadAsync(snapshot, cancellationToken).ConfigureAwait(false);
            }
        }

        if (!await RenewAsync(cancellationToken).ConfigureAwait(false))
            return false;
        if (ownership.Overdue() is { } overdue)
        {
            FailStop($"no renewal of {overdue} within the safe window");
            return false;
        }

        return true;
    }

    /// <summary>Hand-over: stop using each lease the split gives another host, and release it once nothing of it runs.</summary>
    private async Task HandOverAsync(IReadOnlyDictionary<string, string> desired, CancellationToken cancellationToken)
    {
        foreach (var resource in ownership.HeldResources)
        {
            if (desired.TryGetValue(resource, out var owner) && owner == ownership.HostId)
            {
                // Given back (its new owner died, or the views flapped) while its calls were still ending: the lease never
                // left this host, so it is used again at once rather than held unused for ever.
                if (ownership.KeepAfterAll(resource))
                    Keep(resource);
                continue;
            }

            if (!ownership.IsReleasing(resource))
            {
                ownership.BeginRelease(resource);
                if (resource.StartsWith(OwnershipPlan.ModemPrefix, StringComparison.Ordinal))
                    channels.SetHeldByPeer(OwnershipPlan.ModemOf(resource), heldByPeer: true);
                OwnershipLog.HandingOver(logger, ownership.HostId, resource, owner ?? "(none)");
            }

            if (Busy(resource))
                continue; // its calls end first; the lease is renewed meanwhile
            if (resource.StartsWith(OwnershipPlan.ModemPrefix, StringComparison.Ordinal) && !await ReleaseLinkAsync(OwnershipPlan.ModemOf(resource), cancellationToken).ConfigureAwait(false))
                continue; // its link is still open: tried again next round, the lease renewed meanwhile
            try
            {
                await ownership.Leases.ReleaseLeaseAsync(resource, ownership.HostId, CancellationToken.None).ConfigureAwait(false);
                ownership.Released(resource);
            }
            catch (StateStoreException)
            {
                // Not released now: still renewed (and still not used); tried again next round.
            }
        }
    }

    private void Keep(string resource)
    {
        OwnershipLog.Kept(logger, ownership.HostId, resource);
        if (resource.StartsWith(OwnershipPlan.ModemPrefix, StringComparison.Ordinal))
            channels.SetHeldByPeer(OwnershipPlan.ModemOf(resource), heldByPeer: false);
        else if (resource.StartsWith(OwnershipPlan.ShardPrefix, StringComparison.Ordinal))
            _toResume.UnionWith(ownership.Plan.ShardOf.Where(o => o.Value == resource).Select(o => o.Key)); // parked meanwhile: re-read before polling
    }

    /// <summary>
    /// Closes the handed-over modem's link before its lease goes: a serial server that takes one client per port would
    /// refuse the new owner (a set-up fault against a healthy modem) while this host's idle connection stays open.
    /// Bounded by the retry interval so a hung close cannot stall the loop past the lease.
    /// </summary>
    private async Task<bool> ReleaseLinkAsync(string modem, CancellationToken cancellationToken)
    {
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(ownership.Timing.RetryInterval);
        try
        {
            await channels.ReleaseLinkAsync(modem, bound.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            OwnershipLog.LinkNotReleased(logger, ownership.HostId, modem, ownership.Timing.RetryInterval);
            return false;
        }
    }

    /// <summary>
    /// Still in use by this host: a call on the modem, a poll of the shard's outstations, or — an IP outstation — its
    /// channel not yet stopped (a poll in flight, or the connection not closed yet: IpOutstationService closes it as soon
    /// as the hand-over begins, and the new owner connects only after the lease is released).
    /// </summary>
    private bool Busy(string resource) =>
        resource.StartsWith(OwnershipPlan.ModemPrefix, StringComparison.Ordinal) ? channels.IsBusy(OwnershipPlan.ModemOf(resource))
        : resource.StartsWith(OwnershipPlan.IpPrefix, StringComparison.Ordinal) ? ipOutstations?.IsInUse(OwnershipPlan.IpOutstationOf(resource)) ?? false
        : scheduler.AnyRunning(o => ownership.Plan.ShardOf.TryGetValue(o, out var shard) && shard == resource);

    /// <summary>Takes the leases the split gives this host; only once a lease is held is its modem or outstations used.</summary>
    private async Task<bool> TakeAsync(IReadOnlyDictionary<string, string> desired, CancellationToken cancellationToken)
    {
        foreach (var (resource, owner) in desired.OrderBy(d => d.Key, StringComparer.Ordinal))
        {
            if (owner != ownership.HostId || ownership.Holds(resource))
                continue;
            var sent = timeProvider.GetTimestamp();
            LeaseGrant? grant;
            try
            {
                grant = await ownership.Leases.TryAcquireLeaseAsync(resource, ownership.HostId, ownership.Timing.LeaseTime, cancellationToken).ConfigureAwait(false);
            }
            catch (StateStoreException)
            {
                break; // the database is away: take the rest next round
            }

            if (grant is null)
                continue; // still another host's (it hands over when its calls end, or its lease expires)
            ownership.Took(resource, grant.Epoch, sent);
            OwnershipLog.Took(logger, ownership.HostId, resource, grant.Epoch, grant.PreviousHolder ?? "(none)");
            if (resource.StartsWith(OwnershipPlan.ModemPrefix, StringComparison.Ordinal))
                channels.SetHeldByPeer(OwnershipPlan.ModemOf(resource), heldByPeer: false);
            else if (resource.StartsWith(OwnershipPlan.ShardPrefix, StringComparison.Ordinal))
                _toResume.UnionWith(ownership.Plan.ShardOf.Where(o => o.Value == resource).Select(o => o.Key));
        }

        // Their retry schedules and ledgers as the previous owner left them: pending retries resume here. Until that read
        // succeeds they stay parked (not polled); a database error only delays it to the next round.
        _toResume.RemoveWhere(o => !ownership.Holds(ownership.Plan.ShardOf[o]));
        if (_toResume.Count > 0)
        {
            try
            {
                await scheduler.ResumeOwnedAsync([.. _toResume], cancellationToken).ConfigureAwait(false);
                _toResume.Clear();
            }
            catch (StateStoreException)
            {
                // Next round.
            }
        }

        return true;
    }

    /// <summary>
    /// A peer is dead when its presence lease has expired and it holds no live lease at all: its open dials are closed as
    /// failed (research §3.1) and backed off from — once per death (a host that comes back is watched again).
    /// </summary>
    private async Task AdoptDeadAsync(LeaseSnapshot snapshot, CancellationToken cancellationToken)
    {
        var liveHolders = snapshot.Live.Select(l => l.Holder).ToHashSet(StringComparer.Ordinal);
        _adopted.RemoveWhere(liveHolders.Contains);
        foreach (var dead in snapshot.Leases.Where(l => l.Resource.StartsWith(HostPresence.ResourcePrefix, StringComparison.Ordinal)).Select(l => l.Holder)
            .Where(h => h != ownership.HostId && !liveHolders.Contains(h) && !_adopted.Contains(h)).ToList())
        {
            int closed;
            try
            {
                closed = await scheduler.AdoptAttemptsOfAsync(dead, cancellationToken).ConfigureAwait(false);
            }
            catch (StateStoreException)
            {
                return; // the database is away: adopt next round (its dials stay open, so the numbers stay blocked, not free)
            }

            _adopted.Add(dead);
            if (closed > 0)
                ownership.CountTakeover();
            OwnershipLog.Adopted(logger, ownership.HostId, dead, closed);
        }
    }

    /// <summary>Renews every held lease a RenewInterval after its last renewal; a lease another host now holds is a fail-stop.</summary>
    private async Task<bool> RenewAsync(CancellationToken cancellationToken)
    {
        foreach (var (resource, last) in ownership.Renewals().ToList())
        {
            if (timeProvider.GetElapsedTime(last) < ownership.Timing.RenewInterval)
                continue;
            var sent = timeProvider.GetTimestamp();
            try
            {
                var grant = await ownership.Leases.TryAcquireLeaseAsync(resource, ownership.HostId, ownership.Timing.LeaseTime, cancellationToken).ConfigureAwait(false);
                if (grant is null || !ownership.Renewed(resource, grant.Epoch, sent))
                {
                    FailStop($"{resource} is held by another host now");
                    return false;
                }
            }
            catch (StateStoreException)
            {
                return true; // not renewed; the safe window decides
            }
        }

        return true;
    }

    /// <summary>A clean stop: hand everything over as its calls end (bounded: leases still held then simply expire).</summary>
    private async Task DrainAsync()
    {
        using var bound = new CancellationTokenSource(ownership.Timing.LeaseTime * 6, timeProvider);
        try
        {
            while (ownership.HeldResources.Count > 0)
            {
                if (!await StepAsync(draining: true, bound.Token).ConfigureAwait(false))
                    return;
                if (ownership.HeldResources.Count == 0)
                    break;
                await Task.Delay(TimeSpan.FromMilliseconds(200), timeProvider, bound.Token).ConfigureAwait(false);
            }

            OwnershipLog.Drained(logger, ownership.HostId);
        }
        catch (OperationCanceledException)
        {
            // Calls still running after the bound: their leases expire and the peers take over then.
        }
    }

    private void FailStop(string reason)
    {
        ownership.Stop();
        OwnershipLog.Lost(logger, ownership.HostId, reason);
        exit.ExitCode = ExitCodes.StoreError;
        lifetime.StopApplication();
    }
}

/// <summary>Active/active log events (EventId block 73xx, beside the hot standby's 72xx).</summary>
internal static partial class OwnershipLog
{
    [LoggerMessage(7301, LogLevel.Information, "Host {HostId} is ACTIVE/ACTIVE: sharing {Shards} outstation shards, {Modems} shared modems and {IpOutstations} IP outstations with its live peers")]
    public static partial void Started(ILogger logger, string hostId, int shards, int modems, int ipOutstations);

    [LoggerMessage(7302, LogLevel.Information, "Host {HostId} took {Resource} (epoch {Epoch}, previous holder {PreviousHolder})")]
    public static partial void Took(ILogger logger, string hostId, string resource, long epoch, string previousHolder);

    [LoggerMessage(7303, LogLevel.Information, "Host {HostId} hands {Resource} over to {Owner} once its calls end")]
    public static partial void HandingOver(ILogger logger, string hostId, string resource, string owner);

    [LoggerMessage(7304, LogLevel.Warning, "Host {HostId} adopted dead host {DeadHost}: {Closed} interrupted dials counted as failed")]
    public static partial void Adopted(ILogger logger, string hostId, string deadHost, int closed);

    [LoggerMessage(7305, LogLevel.Critical, "Host {HostId} LOST its share ({Reason}): polling stopped; the host exits so it can come back")]
    public static partial void Lost(ILogger logger, string hostId, string reason);

    [LoggerMessage(7306, LogLevel.Information, "Host {HostId} handed its whole share over")]
    public static partial void Drained(ILogger logger, string hostId);

    [LoggerMessage(7308, LogLevel.Information, "Host {HostId} keeps {Resource}: the split gives it back before it was released")]
    public static partial void Kept(ILogger logger, string hostId, string resource);

    [LoggerMessage(7307, LogLevel.Warning, "Host {HostId} could not close modem {Modem}'s link within {Bound}: it keeps the lease (unused) and tries again")]
    public static partial void LinkNotReleased(ILogger logger, string hostId, string modem, TimeSpan bound);
}
