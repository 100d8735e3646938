using ChannelManager.Core;
using ChannelManager.Core.Persistence;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ChannelManager.Host.Hosting;

/// <summary>
/// The <c>run</c> host's IP outstations (issue 7; docs/ip-outstations.md): starts each one's
/// <see cref="Core.Channels.Persistent.PersistentChannel"/> (which connects, keeps the heartbeat and reconnects by
/// itself), polls it at once and then every <see cref="IpOutstationSettings.PollInterval"/> on the injected
/// <see cref="TimeProvider"/>, and writes each poll to the event log as a <see cref="TransactionRecord"/> like a
/// dial-up poll. No poll passes the repeat-call guard: there is no number, and a TCP connect is not a call.
/// Stopping cancels the loops and closes every link; a failing state store stops the host, as for dial-up polls.
/// On a shared store only the host holding the active lease polls (<see cref="HotStandby.Active"/>).
/// </summary>
internal sealed class IpOutstationService(
    IpOutstationSet outstations,
    IStateStore store,
    TimeProvider time,
    IHostApplicationLifetime lifetime,
    ServiceExitState exit,
    ILogger<IpOutstationService> logger,
    HotStandby? standby = null) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (outstations.All.Count == 0)
        {
            return;
        }

        using var failed = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        try
        {
            // Shared store (issue 11, docs/scale-out.md): only the active host polls; a standby waits for the lease,
            // which ChannelManagerService acquires, so two hosts never poll (and log) the same IP outstation.
            if (standby is not null)
            {
                await standby.Active.WaitAsync(stoppingToken).ConfigureAwait(false);
            }

            foreach (var o in outstations.All)
            {
                await o.Channel.StartAsync(failed.Token).ConfigureAwait(false);
                IpLog.Started(logger, o.Name, o.Endpoint, o.Protocol, o.PollInterval, o.Channel.Heartbeat.ToString());
            }

            await Task.WhenAll(outstations.All.Select(o => PollLoopAsync(o, failed))).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: the loops end here; the channels are closed below.
        }
        catch (StateStoreException ex)
        {
            Log.Failed(logger, ex);
            exit.ExitCode = ExitCodes.StoreError;
            lifetime.StopApplication();
        }
        finally
        {
            foreach (var o in outstations.All)
            {
                await o.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task PollLoopAsync(IpOutstation outstation, CancellationTokenSource failed)
    {
        var ct = failed.Token;
        try
        {
            var next = time.GetUtcNow();
            while (!ct.IsCancellationRequested)
            {
                // Every poll ends with a typed result (PersistentChannel.PollAsync): waiting for a connection longer
                // than MaxPollWait is a TransportFailure against the channel, no reply the outstation's CommandTimeout.
                await outstation.PollAndRecordAsync(store, logger, ct).ConfigureAwait(false);

                // The next poll keeps the PollInterval grid; one that is already overdue (the poll waited for a
                // connection longer than the interval) runs at once rather than in a burst of catch-up polls.
                next += outstation.PollInterval;
                var now = time.GetUtcNow();
                if (next < now)
                {
                    next = now;
                }

                outstation.Scheduled(next);
                await Task.Delay(next - now, time, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Stopping (or another loop's store failure): a poll in flight is abandoned, not recorded.
        }
        catch (StateStoreException)
        {
            // The others stop too: the event log is gone (ExecuteAsync stops the host).
            await failed.CancelAsync().ConfigureAwait(false);
            throw;
        }
    }
}

/// <summary>IP outstation log events of the host (EventId block 71xx, under the host's 7xxx).</summary>
internal static partial class IpLog
{
    [LoggerMessage(7101, LogLevel.Information, "IP outstation {Outstation} at {Endpoint} ({Protocol}): polling every {PollInterval}; {Heartbeat}")]
    public static partial void Started(ILogger logger, string outstation, string endpoint, IpOutstationProtocol protocol, TimeSpan pollInterval, string heartbeat);

    [LoggerMessage(7102, LogLevel.Information, "IP poll of {Outstation} at {Endpoint}: {OutcomeCode} ({OutcomeCategory}), {Runs} run(s); {Heartbeat}")]
    public static partial void Polled(ILogger logger, string outstation, string endpoint, OutcomeCode outcomeCode, OutcomeCategory outcomeCategory, int runs, string heartbeat);
}
