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
/// On a shared store in hot standby only the host holding the active lease polls (<see cref="HotStandby.Active"/>); in
/// active/active each IP outstation is polled by the one host holding its <c>ip:</c> lease (docs/scale-out.md §6.6):
/// its channel runs only while <see cref="ActiveActiveOwnership.OwnsIp"/>, and is stopped (the link closed) as soon as
/// a hand-over begins, before the ownership loop releases the lease.
/// </summary>
internal sealed class IpOutstationService(
    IpOutstationSet outstations,
    IStateStore store,
    TimeProvider time,
    IHostApplicationLifetime lifetime,
    ServiceExitState exit,
    ILogger<IpOutstationService> logger,
    HotStandby? standby = null,
    ActiveActiveOwnership? ownership = null) : BackgroundService
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

            if (ownership is not null)
            {
                await Task.WhenAll(outstations.All.Select(o => OwnedLoopAsync(o, ownership, failed))).ConfigureAwait(false);
                return;
            }

            foreach (var o in outstations.All)
            {
                await o.Channel.StartAsync(failed.Token).ConfigureAwait(false);
                IpLog.Started(logger, o.Name, o.Endpoint, o.Protocol, o.PollInterval, o.Channel.Heartbeat.ToString());
            }

            await Task.WhenAll(outstations.All.Select(o => PollLoopAsync(o, failed, CancellationToken.None))).ConfigureAwait(false);
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

    /// <summary>
    /// Active/active: one ownership period after another. Waits until this host holds the outstation's lease, marks the
    /// channel in use (then checks the lease again: a hand-over begun meanwhile is seen by one side or the other), starts
    /// it and polls until the lease is being handed over; then lets a poll in flight end, stops the channel (closing
    /// the link) and only then clears the mark — the ownership loop releases the lease only once the mark is clear.
    /// </summary>
    private async Task OwnedLoopAsync(IpOutstation outstation, ActiveActiveOwnership own, CancellationTokenSource failed)
    {
        var ct = failed.Token;
        while (true)
        {
            var changed = own.Changed;
            if (!own.OwnsIp(outstation.Name))
            {
                await WaitForChangeAsync(changed, own, ct).ConfigureAwait(false);
                continue;
            }

            outstation.MarkInUse();
            try
            {
                if (!own.OwnsIp(outstation.Name))
                    continue; // the hand-over began between the two checks: never connected

                await outstation.Channel.StartAsync(ct).ConfigureAwait(false);
                IpLog.Started(logger, outstation.Name, outstation.Endpoint, outstation.Protocol, outstation.PollInterval, outstation.Channel.Heartbeat.ToString());
                using var handedOver = CancellationTokenSource.CreateLinkedTokenSource(ct);
                var watch = WatchOwnershipAsync(outstation.Name, own, handedOver);
                try
                {
                    await PollLoopAsync(outstation, failed, handedOver.Token).ConfigureAwait(false);
                }
                finally
                {
                    await handedOver.CancelAsync().ConfigureAwait(false);
                    await watch.ConfigureAwait(false);
                }

                ct.ThrowIfCancellationRequested();
                IpLog.HandedOver(logger, outstation.Name, own.HostId);
            }
            finally
            {
                // Closed before the mark is cleared: the lease is released only after this host's connection is gone.
                await outstation.Channel.StopAsync().ConfigureAwait(false);
                outstation.Unscheduled();
                outstation.MarkNotInUse();
            }
        }
    }

    /// <summary>Cancels <paramref name="handedOver"/> once this host no longer owns the outstation (or it is cancelled anyway).</summary>
    private async Task WatchOwnershipAsync(string name, ActiveActiveOwnership own, CancellationTokenSource handedOver)
    {
        try
        {
            while (true)
            {
                var changed = own.Changed;
                if (!own.OwnsIp(name))
                {
                    await handedOver.CancelAsync().ConfigureAwait(false);
                    return;
                }

                await WaitForChangeAsync(changed, own, handedOver.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // The period ended (stopping, or the poll loop ended it).
        }
    }

    /// <summary>
    /// Until the ownership changes — or a retry interval passes: a lease whose safe window closed without a renewal stops
    /// being usable without an event (the ownership loop fail-stops the host soon after).
    /// </summary>
    private async Task WaitForChangeAsync(Task changed, ActiveActiveOwnership own, CancellationToken ct)
    {
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var tick = Task.Delay(own.Timing.RetryInterval, time, bound.Token);
        await Task.WhenAny(changed, tick).ConfigureAwait(false);
        await bound.CancelAsync().ConfigureAwait(false);
        ct.ThrowIfCancellationRequested();
    }

    /// <summary>
    /// Polls at start and then every PollInterval until <paramref name="failed"/> (stopping, store failure) or
    /// <paramref name="handedOver"/> (active/active: the lease is going to a peer) is cancelled. A hand-over lets a poll in
    /// flight end and be recorded; no new poll starts.
    /// </summary>
    private async Task PollLoopAsync(IpOutstation outstation, CancellationTokenSource failed, CancellationToken handedOver)
    {
        var ct = failed.Token;
        using var period = CancellationTokenSource.CreateLinkedTokenSource(ct, handedOver);
        try
        {
            var next = time.GetUtcNow();
            while (!period.IsCancellationRequested)
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
                await Task.Delay(next - now, time, period.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (period.IsCancellationRequested)
        {
            // Stopping (or another loop's store failure): a poll in flight is abandoned, not recorded. Handed over: the
            // wait for the next poll ends here; the channel is stopped by the caller.
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

    [LoggerMessage(7103, LogLevel.Information, "IP outstation {Outstation}: host {HostId} handed it over and closed its connection")]
    public static partial void HandedOver(ILogger logger, string outstation, string hostId);
}
