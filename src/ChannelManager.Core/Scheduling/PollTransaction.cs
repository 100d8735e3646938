using ChannelManager.Core.Channels;
using ChannelManager.Core.Protocols;

namespace ChannelManager.Core.Scheduling;

/// <summary>A request to poll one outstation now, with the driver that speaks its protocol (and unit address).</summary>
public sealed record PollRequest(string Outstation, string Number, IProtocolDriver Driver, IReadOnlyList<ProtocolCommand> Commands, string? Pool = null);

/// <summary>
/// How one poll ended (design.md §3: category, code, modem used, raw reply or frame, modems tried,
/// timestamps), with the protocol result when a connection was made and the guard's next allowed time.
/// </summary>
public sealed record PollOutcome(
    string Outstation,
    string Number,
    OutcomeCode Code,
    string? Modem,
    IReadOnlyList<ModemAttempt> ModemsTried,
    string Reply,
    ProtocolResult? Protocol,
    DateTimeOffset StartedAt,
    DateTimeOffset EndedAt,
    DateTimeOffset? NextAllowedAt)
{
    public OutcomeCategory Category => Code.Category();

    public FaultAttribution CountedAgainst => Code.CountedAgainst();

    public bool IsSuccess => Code == OutcomeCode.Success;

    /// <summary>True when a modem was handed the dial (ATD may have gone out), even if the poll then ended <see cref="OutcomeCode.Cancelled"/>.</summary>
    public bool DialStarted { get; init; }

    /// <summary>
    /// True where the repeat-call ledger counted this poll as a dial that may have reached the line: every code that
    /// <see cref="OutcomeCodeExtensions.ReachedTheLine"/> says did, plus a dial cancelled after ATD went out.
    /// </summary>
    public bool ReachedTheLine => Code.ReachedTheLine() || (Code == OutcomeCode.Cancelled && DialStarted);

    /// <summary>The outstation answered "busy" (Modbus exception 06): retried soon and not counted (BackoffPolicy.IsServerBusy).</summary>
    public bool ServerBusy => Protocol?.ServerBusy ?? false;
}

/// <summary>
/// Runs one poll: the seam between the scheduler (which decides when) and the transaction (which dials once).
/// <see cref="PollTransaction"/> is the real one; unit tests script outcomes under a fake clock.
/// </summary>
public interface IPollExecutor
{
    /// <summary>
    /// Runs the poll once and reports how it ended — never redials. A repeat-call refusal is the outcome
    /// <see cref="OutcomeCode.RepeatCallLimit"/>. Throws only for bugs, a failing state store and cancellation.
    /// </summary>
    Task<PollOutcome> RunAsync(PollRequest request, CancellationToken cancellationToken);
}

/// <summary>
/// One transaction as design.md §2 describes it: ask the repeat-call guard, get a connected modem from
/// the Channel Manager (which retries set-up failures on the next modem itself), run the protocol
/// commands, hang up, and record the attempt in the ledger. It never redials: the scheduler decides
/// when to try again.
/// </summary>
public sealed class PollTransaction(ModemChannelManager channels, RepeatCallBook ledger, TimeProvider timeProvider) : IPollExecutor
{
    public async Task<PollOutcome> RunAsync(PollRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var started = timeProvider.GetUtcNow();
        // Persisted before ATD (research §3.1): a crash after this line is counted as a failed dial on restart.
        var guard = await ledger.TryBeginAttemptAsync(request.Number, started, null, cancellationToken).ConfigureAwait(false);
        if (!guard.Allowed)
        {
            return new PollOutcome(request.Outstation, request.Number, OutcomeCode.RepeatCallLimit, null, [], $"{guard.Refusal}: {guard.Detail}", null, started, timeProvider.GetUtcNow(), guard.NextAllowedAt);
        }

        var code = OutcomeCode.Cancelled;
        var dialStarted = false;
        string? modem = null;
        var reply = string.Empty;
        IReadOnlyList<ModemAttempt> tried = [];
        ProtocolResult? protocol = null;
        try
        {
            // After BLACKLISTED / DELAYED from one modem, another modem may dial the number only if the pool-wide
            // ledger would allow one more attempt now (research §3.5: the modem's counter disagrees with ours).
            var call = new CallRequest(request.Outstation, request.Number, request.Pool)
            {
                MayTryNextModem = _ => ledger.CheckAnotherAttempt(request.Number, timeProvider.GetUtcNow()).Allowed,
            };
            var connect = await channels.ConnectAsync(call, cancellationToken).ConfigureAwait(false);
            (code, modem, reply, tried) = (connect.Outcome.Code, connect.Outcome.Modem, connect.Outcome.RawReply, connect.Outcome.ModemsTried);
            dialStarted = connect.Outcome.DialStarted;
            if (connect.Lease is { } lease)
            {
                await using (lease.ConfigureAwait(false))
                {
                    // Until the driver reports, the call is not a success: a throw from it must not be recorded as
                    // Success (which would reset the number's sequence) but as an aborted call that reached the line.
                    code = OutcomeCode.Cancelled;
                    try
                    {
                        protocol = await request.Driver.ExecuteAsync(lease.Link, request.Commands, cancellationToken).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                    {
                        // Cancelled after CONNECT: a typed end (Cancelled, counted: the call was on the line), hung up by the lease.
                        reply = "cancelled during the protocol exchange";
                    }

                    if (protocol is not null)
                    {
                        code = protocol.Code;
                        lease.ReportProtocolOutcome(protocol.Code);
                        if (!protocol.IsSuccess)
                        {
                            reply = protocol.Detail ?? protocol.Code.ToString();
                        }
                    }
                }
            }
        }
        finally
        {
            // The dial (if any) is on-hook now: close the attempt in the ledger whatever happened, so a
            // crash of this method cannot leave a number looking "dialling" for ever. A cancel after ATD counts
            // (AttemptResult.DialStarted); one before it (waiting for a modem, init) does not.
            await ledger.CompleteAsync(request.Number, new AttemptResult(code, timeProvider.GetUtcNow()) { Modem = modem, RawReply = reply, DialStarted = dialStarted }).ConfigureAwait(false);
        }

        var next = ledger.Ledgers.TryGetValue(request.Number, out var l) ? l.NextAllowedAt : null;
        return new PollOutcome(request.Outstation, request.Number, code, modem, tried, reply, protocol, started, timeProvider.GetUtcNow(), next) { DialStarted = dialStarted };
    }
}
