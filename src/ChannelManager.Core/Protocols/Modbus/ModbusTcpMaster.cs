using ChannelManager.Core.Transport;
using Microsoft.Extensions.Logging;

namespace ChannelManager.Core.Protocols.Modbus;

/// <summary>
/// Modbus TCP master (Modbus Messaging on TCP/IP V1.0b) over any connected <see cref="IChannelTransport"/>: the
/// <see cref="ModbusRtuMaster"/>'s encoding, classification and timeout retries under MBAP framing
/// (<see cref="MbapFramedLink"/>), with one transaction id counter per master. The same driver contract: every failure
/// is a ProtocolCommand outcome counted against the outstation; nothing a peer sends makes it throw.
/// </summary>
/// <remarks>
/// <see cref="CommandResult.Request"/>/<see cref="CommandResult.Response"/> carry the unit + PDU (+ CRC as the RTU
/// classifier saw it), not the MBAP header: the header's only variable field is the transaction id.
/// </remarks>
public sealed class ModbusTcpMaster : IProtocolDriver
{
    private readonly ModbusRtuMaster _pdu;
    private int _transaction;

    public ModbusTcpMaster(ModbusTcpOptions options, TimeProvider time, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var validation = new ModbusTcpOptionsValidator().Validate(null, options);
        if (validation.Failed)
            throw new ArgumentException($"Invalid Modbus TCP options: {validation.FailureMessage}", nameof(options));
        Options = options;
        _pdu = new ModbusRtuMaster(
            new ModbusRtuOptions
            {
                UnitId = options.UnitId,
                ResponseTimeout = options.ResponseTimeout,
                TimeoutRetries = options.TimeoutRetries,
                // No serial line: no t3.5 silence before a request; TCP may split a reply, so allow the RTU
                // classifier's default floor between its segments (the MBAP view delivers whole ADUs anyway).
                InterFrameDelay = TimeSpan.Zero,
            },
            time,
            logger);
    }

    public ModbusTcpOptions Options { get; }

    public async Task<ProtocolResult> ExecuteAsync(IChannelTransport link, IReadOnlyList<ProtocolCommand> commands, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(link);
        var framed = new MbapFramedLink(link, NextTransactionId);
        var result = await _pdu.ExecuteAsync(framed, commands, cancellationToken).ConfigureAwait(false);
        if (result.Code == OutcomeCode.MalformedFrame && framed.Fault is { } fault && result.FailedCommand is { } failed)
        {
            // The RTU parser only saw unframed bytes; name the real cause (a bad MBAP header).
            var commandsWithDetail = result.Commands.Take(result.Commands.Count - 1).Append(failed with { Detail = fault }).ToList();
            return result with { Commands = commandsWithDetail };
        }

        return result;
    }

    /// <summary>§3.1.3 transaction id: wraps at 65535; unique among the few requests in flight on one connection.</summary>
    private ushort NextTransactionId() => unchecked((ushort)Interlocked.Increment(ref _transaction));
}
