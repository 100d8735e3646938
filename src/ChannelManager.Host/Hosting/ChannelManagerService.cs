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
    ILogger<ChannelManagerService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var health = channels.RunHealthChecksAsync(stoppingToken);
        try
        {
            await scheduler.RunAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (InvalidOperationException ex) when (!stoppingToken.IsCancellationRequested)
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
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        Log.Stopping(logger);
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
    }
}
