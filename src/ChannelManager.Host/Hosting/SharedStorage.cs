using ChannelManager.Core.Channels;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Scheduling;
using ChannelManager.Host.Api;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ChannelManager.Host.Hosting;

/// <summary>
/// Hot standby on a shared PostgreSQL store (issue 11, docs/scale-out.md): only the host holding the active lease runs
/// the scheduler and the modem health checks; the others wait, and take over when the active host's lease expires.
/// </summary>
internal static class SharedStorage
{
    /// <summary>
    /// Registers <see cref="ActiveLease"/> and this host's presence lease (<see cref="HostPresence"/>) when the store is
    /// shared (Storage.Provider = Postgres); for both providers, the <see cref="ClusterView"/> the API and metrics show.
    /// </summary>
    public static IServiceCollection AddSharedStorage(this IServiceCollection services, SettingsLoadResult loaded, IStateStore store)
    {
        ArgumentNullException.ThrowIfNull(loaded);
        var provider = loaded.Settings.Storage.Provider.ToString();
        if (store is not (ILeaseStore leases and ISharedLedgerStore shared))
        {
            var hostId = string.IsNullOrWhiteSpace(loaded.Settings.Storage.HostId) ? Environment.MachineName : loaded.Settings.Storage.HostId;
            services.AddSingleton(new ClusterView(hostId, provider, standby: null));
            return services;
        }

        var timing = Timing(loaded.Settings.Storage.LeaseTime);
        if (loaded.Settings.Storage.Mode == StorageMode.ActiveActive)
            return services.AddActiveActive(loaded.Settings, leases, shared.HostId, provider, timing);
        services.AddSingleton(sp => new HotStandby(new ActiveLease(leases, shared.HostId, timing, sp.GetRequiredService<TimeProvider>()), shared, leases));
        services.AddSingleton(sp => new ClusterView(shared.HostId, provider, sp.GetRequiredService<HotStandby>()));
        services.AddHostedService(sp => new HostPresence(leases, shared.HostId, timing, sp.GetRequiredService<TimeProvider>()));
        return services;
    }

    /// <summary>
    /// Active/active (docs/scale-out.md §6): no active lease — every host polls its share. Registers the share
    /// (<see cref="ActiveActiveOwnership"/>; resolving it marks every shared modem as held by a peer until its lease is
    /// taken, before the scheduler or a health check can touch one), the presence lease and the
    /// <see cref="OwnershipService"/> that gives the scheduler its predicate and takes, renews and hands over the leases.
    /// The IP outstations get one lease each (<see cref="IpOutstationService"/> runs a channel only while it holds it).
    /// </summary>
    private static IServiceCollection AddActiveActive(this IServiceCollection services, ChannelManagerSettings settings, ILeaseStore leases, string hostId, string provider, ActiveLeaseOptions timing)
    {
        var plan = new OwnershipPlan(
            settings.Outstations.Select(o => (o.Name, o.Pool)),
            settings.Modems.Select(m => (m.Name, (IReadOnlyList<string>)[.. m.Pools], IsShared(m))),
            settings.Storage.Shards,
            settings.IpOutstations.Select(o => o.Name));
        services.AddSingleton(sp =>
        {
            var ownership = new ActiveActiveOwnership(plan, leases, hostId, timing, sp.GetRequiredService<TimeProvider>());
            var channels = sp.GetRequiredService<ModemChannelManager>();
            foreach (var modem in plan.ModemResources)
            {
                channels.SetHeldByPeer(OwnershipPlan.ModemOf(modem), heldByPeer: true);
            }

            return ownership;
        });
        services.AddSingleton(sp => new ClusterView(hostId, provider, standby: null, sp.GetRequiredService<ActiveActiveOwnership>()));
        services.AddHostedService(sp => new HostPresence(leases, hostId, timing, sp.GetRequiredService<TimeProvider>()));
        services.AddHostedService(sp =>
        {
            // Every hosted service is created before any starts: the scheduler has its predicate before its first plan.
            var scheduler = sp.GetRequiredService<PollScheduler>();
            var ownership = sp.GetRequiredService<ActiveActiveOwnership>();
            scheduler.Ownership = ownership;
            return new OwnershipService(ownership, scheduler, sp.GetRequiredService<ModemChannelManager>(), sp.GetRequiredService<ServiceExitState>(),
                sp.GetRequiredService<IHostApplicationLifetime>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<OwnershipService>>(),
                sp.GetService<IpOutstationSet>());
        });
        return services;
    }

    /// <summary>A modem both hosts reach (a TCP serial server): leased. A serial port or an in-process simulated modem is the host's own.</summary>
    private static bool IsShared(ModemOptions modem) =>
        modem.Endpoint is { } endpoint && endpoint.StartsWith("tcp://", StringComparison.OrdinalIgnoreCase);

    /// <summary>Renew three times per lease; a standby asks every fifth of it (at most 2 s); stop a fifth before expiry.</summary>
    public static ActiveLeaseOptions Timing(TimeSpan leaseTime)
    {
        var fifth = leaseTime / 5;
        return new ActiveLeaseOptions
        {
            LeaseTime = leaseTime,
            RenewInterval = leaseTime / 3,
            RetryInterval = fifth < TimeSpan.FromSeconds(2) ? fifth : TimeSpan.FromSeconds(2),
            SafetyMargin = fifth,
        };
    }

    /// <summary>
    /// Waits (standby) until this host holds the active lease, then adopts the attempts the previous active host left
    /// open: the scheduler's load closes them as failed (research §3.1) and backs off from them, and resumes the pending
    /// retries from the shared retry schedules — so the dead host's requests are neither lost nor run early.
    /// </summary>
    public static async Task<LeaseGrant> BecomeActiveAsync(HotStandby standby, RepeatCallBook book, ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(standby);
        ArgumentNullException.ThrowIfNull(book);
        var active = standby.Lease;
        SharedStorageLog.Standby(logger, active.HostId);
        var grant = await active.AcquireAsync(cancellationToken).ConfigureAwait(false);
        // Fence first (docs/scale-out.md §6 item 1): from here on every ledger and schedule write of this host — the
        // adoption's too — is refused once another host holds a newer epoch, and the scheduler stops (exit 3).
        standby.Ledger.Fence(grant.Epoch);
        if (grant.PreviousHolder is { } previous && !string.Equals(previous, active.HostId, StringComparison.Ordinal))
        {
            book.AdoptAttemptsOf(previous);
            standby.CountTakeover();
        }

        SharedStorageLog.Active(logger, active.HostId, grant.Epoch, grant.PreviousHolder ?? "(none)");
        standby.MarkActive();
        return grant;
    }
}

/// <summary>The active lease, the shared ledger it guards and the lease table (registered only for a shared store).</summary>
internal sealed record HotStandby(ActiveLease Lease, ISharedLedgerStore Ledger, ILeaseStore Leases)
{
    private readonly TaskCompletionSource _active = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _takeovers;

    /// <summary>How often this host took the active lease over from another host's EXPIRED lease (a failover, not a clean hand-over).</summary>
    public long Takeovers => Interlocked.Read(ref _takeovers);

    public void CountTakeover() => Interlocked.Increment(ref _takeovers);

    /// <summary>
    /// Completes when this host has become the active one; the other workers of the host (the IP outstations' polls)
    /// wait for it, so a standby host polls nothing. Losing the lease stops the whole host, so it never resets.
    /// </summary>
    public Task Active => _active.Task;

    public void MarkActive() => _active.TrySetResult();
}

/// <summary>
/// Makes this host known to its peers (issue 11 item 4): a lease <c>host:&lt;id&gt;</c> of its own, renewed every
/// <see cref="ActiveLeaseOptions.RetryInterval"/> for <see cref="ActiveLeaseOptions.LeaseTime"/>, so a standby —
/// which holds no other lease — shows up in every host's <c>/api/cluster</c>. A live row means "running now"; an expired
/// one names a host that stopped or died. Released on a clean stop. It guards nothing: a failed renewal only hides the
/// host from the peer lists for a while.
/// </summary>
internal sealed class HostPresence(ILeaseStore leases, string hostId, ActiveLeaseOptions timing, TimeProvider timeProvider) : BackgroundService
{
    public const string ResourcePrefix = "host:";

    public static string ResourceOf(string hostId) => ResourcePrefix + hostId;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (true)
            {
                try
                {
                    await leases.TryAcquireLeaseAsync(ResourceOf(hostId), hostId, timing.LeaseTime, stoppingToken).ConfigureAwait(false);
                }
                catch (StateStoreException)
                {
                    // The database is away: the host's presence expires, which is what a peer should see.
                }

                await Task.Delay(timing.RetryInterval, timeProvider, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            try
            {
                await leases.ReleaseLeaseAsync(ResourceOf(hostId), hostId, CancellationToken.None).ConfigureAwait(false);
            }
            catch (StateStoreException)
            {
                // Not released: it simply expires.
            }
        }
    }
}

/// <summary>Hot-standby log events (EventId block 72xx, under the host's 7xxx; 71xx is the IP outstations').</summary>
internal static partial class SharedStorageLog
{
    [LoggerMessage(7201, LogLevel.Information, "Host {HostId} is STANDBY: waiting for the active lease")]
    public static partial void Standby(ILogger logger, string hostId);

    [LoggerMessage(7202, LogLevel.Warning, "Host {HostId} is ACTIVE (lease epoch {Epoch}, previous holder {PreviousHolder})")]
    public static partial void Active(ILogger logger, string hostId, long epoch, string previousHolder);

    [LoggerMessage(7203, LogLevel.Critical, "Host {HostId} LOST the active lease ({End}): dialling stopped; the host exits so it can come back as standby")]
    public static partial void Lost(ILogger logger, string hostId, LeaseEnd end);
}
