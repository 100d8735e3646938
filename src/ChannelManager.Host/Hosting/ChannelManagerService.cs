using ChannelManager.Core.Channels;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Scheduling;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ChannelManager.Host.Hosting;

/// <summary>Why the service stopped, for <c>run</c>'s exit code.</summary>
internal sealed class ServiceExitState
{
    public int ExitCode { get; set; } = ExitCodes.Ok;
}

/// <summary>
/// The service's work (issue 8 item 1): the poll scheduler and the Channel Manager's idle-modem health checks,
/// until the host stops. Stopping cancels the scheduler, which cancels in-flight polls and awaits them: each
/// lease hangs its modem up (bounded by ChannelManager.HangUpTimeout) and its outcome is written to the store
/// before <see cref="ExecuteAsync"/> returns. A failing store or poll stops the host (running on without the
/// ledger could break repeat-call rules, issue 6).
/// </summary>
internal sealed class ChannelManagerService(
    PollScheduler scheduler,
    ModemChannelManager channels,
    IHostApplicationLifetime lifetime,
    ServiceExitState exit,
    ILogger<ChannelManagerService> logger,
    RepeatCallBook book,
    HotStandby? standby = null) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Shared store (issue 11, docs/scale-out.md): wait as standby until this host holds the active lease; losing it
        // stops dialling at once (fail-stop) and stops the host, which comes back as standby when restarted.
        using var lost = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        using var release = new CancellationTokenSource();
        Task holding = Task.CompletedTask;
        if (standby is not null)
        {
            try
            {
                await SharedStorage.BecomeActiveAsync(standby, book, logger, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return; // stopped while standby: nothing was dialled
            }

            holding = HoldAsync(standby.Lease, lost, release.Token);
        }

        var running = lost.Token;
        var health = channels.RunHealthChecksAsync(running);
        try
        {
            await scheduler.RunAsync(running).ConfigureAwait(false);
        }
        catch (InvalidOperationException ex) when (!running.IsCancellationRequested)
        {
            Log.Failed(logger, ex);
            exit.ExitCode = ex.InnerException is StateStoreException || ex is { InnerException.InnerException: StateStoreException } ? ExitCodes.StoreError : ExitCodes.RuntimeError;
            lifetime.StopApplication();
        }
        catch (StateStoreException ex)
        {
            Log.Failed(logger, ex);
            exit.ExitCode = ExitCodes.StoreError;
            lifetime.StopApplication();
        }

        await health.ConfigureAwait(false);
        // Only now, with every call hung up and recorded, is the lease given up (a clean stop: the standby starts at once).
        await release.CancelAsync().ConfigureAwait(false);
        await holding.ConfigureAwait(false);
    }

    private async Task HoldAsync(ActiveLease lease, CancellationTokenSource lost, CancellationToken release)
    {
        var end = await lease.HoldAsync(release).ConfigureAwait(false);
        if (end == LeaseEnd.Released)
            return;
        SharedStorageLog.Lost(logger, lease.HostId, end);
        exit.ExitCode = ExitCodes.StoreError;
        await lost.CancelAsync().ConfigureAwait(false);
        lifetime.StopApplication();
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        Log.Stopping(logger);
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
    }
}
