using ChannelManager.Core.Transport;

namespace ChannelManager.Core.Protocols;

/// <summary>
/// The protocol seam (docs/protocol-driver.md): a driver runs one transaction's commands over a link
/// the Channel Manager has already connected. It never sees an AT command (style.md §3.1, opendnp3's
/// "lower layer up/down"): on a dial-up link it receives the AT engine's data-mode view, whose
/// ReadAsync returns 0 on carrier loss / NO CARRIER.
/// </summary>
/// <remarks>
/// Contract every driver (Modbus RTU now, DNP3 or IEC 60870-5-101 later) keeps:
/// <list type="bullet">
/// <item>Commands run in order; the first failure stops the transaction (seed 004 row 3).</item>
/// <item>Only command timeouts are retried inside the driver, bounded and counted (seed 004 footnote ***);
/// every other failure returns at once so the application can schedule a BABT-compliant retry.</item>
/// <item>Every result code is in <see cref="OutcomeCategory.ProtocolCommand"/> (or Success): a driver
/// failure is counted against the outstation, never the modem (seed 004: "record the error against the
/// device and not the modem"). A transport fault in data mode is therefore ConnectionLost, not TransportFailure.</item>
/// <item>Nothing a peer can send makes it throw. It throws only for bad arguments (a bug or bad config)
/// and OperationCanceledException when <paramref name="cancellationToken"/> is cancelled.</item>
/// <item>It does not open, close or dispose the link: the Channel Manager owns it and hangs up.</item>
/// </list>
/// </remarks>
public interface IProtocolDriver
{
    Task<ProtocolResult> ExecuteAsync(IChannelTransport link, IReadOnlyList<ProtocolCommand> commands, CancellationToken cancellationToken);
}
