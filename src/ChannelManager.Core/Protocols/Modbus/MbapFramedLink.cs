using System.Buffers.Binary;
using ChannelManager.Core.Transport;

namespace ChannelManager.Core.Protocols.Modbus;

/// <summary>
/// Modbus TCP framing under the RTU master: the RTU master writes "unit + PDU + CRC"; this view sends it as an MBAP ADU
/// (Modbus Messaging on TCP/IP V1.0b §3.1.3: transaction id, protocol id 0, length, unit id, PDU — no CRC, TCP checks
/// integrity) and hands each reply back as "unit + PDU + CRC". So the function codes, encoding, reply classification
/// and timeout retries are the RTU master's, not a copy of them. Replies whose transaction id is not the last
/// request's are late answers to a timed-out attempt (§4.2: the id "is used for transaction pairing") and are dropped.
/// </summary>
internal sealed class MbapFramedLink(IChannelTransport inner, Func<ushort> nextTransactionId) : IChannelTransport
{
    /// <summary>§4.1: the MBAP header is 7 bytes (the unit id is its last byte).</summary>
    public const int HeaderLength = 7;

    /// <summary>§4.1: "the MODBUS PDU … is limited to 253 bytes", so Length (unit id + PDU) is 2..254.</summary>
    private const int MaxLengthField = 254;

    private readonly byte[] _rx = new byte[(HeaderLength + MaxLengthField) * 2];
    private readonly byte[] _pending = new byte[ModbusRtuCodec.MaxFrameLength + 2];
    private int _rxCount;
    private int _pendingOffset;
    private int _pendingCount;
    private ushort _expectedTransaction;

    /// <summary>What was wrong with the last bad ADU, for the result's detail (null when none).</summary>
    public string? Fault { get; private set; }

    /// <summary>Replies dropped because they answered an earlier (timed-out) request.</summary>
    public int StaleRepliesDropped { get; private set; }

    public string Endpoint => inner.Endpoint;

    public bool IsOpen => inner.IsOpen;

    public IModemControlLines? ControlLines => null;

    public Task OpenAsync(CancellationToken cancellationToken) => inner.OpenAsync(cancellationToken);

    public Task CloseAsync(CancellationToken cancellationToken) => inner.CloseAsync(cancellationToken);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;   // the channel owns the inner link

    public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        // data = unit + PDU + CRC (from ModbusRtuCodec.EncodeRequest); the CRC is not sent on TCP (§3.1.3).
        var unitAndPdu = data.Length - 2;
        var adu = new byte[HeaderLength - 1 + unitAndPdu];
        _expectedTransaction = nextTransactionId();
        BinaryPrimitives.WriteUInt16BigEndian(adu, _expectedTransaction);
        BinaryPrimitives.WriteUInt16BigEndian(adu.AsSpan(2), 0);   // protocol id 0 = MODBUS
        BinaryPrimitives.WriteUInt16BigEndian(adu.AsSpan(4), (ushort)unitAndPdu);
        data.Span[..unitAndPdu].CopyTo(adu.AsSpan(6));
        _pendingCount = 0;   // a new request: anything not yet consumed belonged to the old one
        Fault = null;
        await inner.WriteAsync(adu, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (_pendingCount == 0)
        {
            if (TryTakeFrame())
                break;
            if (_rxCount == _rx.Length)
            {
                // Cannot happen with a valid length field (checked in TryTakeFrame); defensive reset.
                _rxCount = 0;
            }

            var n = await inner.ReadAsync(_rx.AsMemory(_rxCount), cancellationToken).ConfigureAwait(false);
            if (n == 0)
                return 0;
            _rxCount += n;
        }

        var count = Math.Min(buffer.Length, _pendingCount);
        _pending.AsSpan(_pendingOffset, count).CopyTo(buffer.Span);
        _pendingOffset += count;
        _pendingCount -= count;
        return count;
    }

    /// <summary>Moves one complete reply for the current request into the pending buffer (as unit + PDU + CRC).</summary>
    private bool TryTakeFrame()
    {
        while (_rxCount >= HeaderLength)
        {
            var transaction = BinaryPrimitives.ReadUInt16BigEndian(_rx);
            var protocol = BinaryPrimitives.ReadUInt16BigEndian(_rx.AsSpan(2));
            var length = BinaryPrimitives.ReadUInt16BigEndian(_rx.AsSpan(4));
            if (protocol != 0 || length < 2 || length > MaxLengthField)
            {
                // Not an MBAP header: framing on this stream is lost. Hand the bytes up unframed; the RTU parser
                // rejects them (MalformedFrame) and the detail names the real cause.
                Fault = protocol != 0
                    ? $"MBAP protocol id {protocol}, expected 0 (Modbus TCP §4.1)"
                    : $"MBAP length {length} outside 2..{MaxLengthField}";
                var raw = Math.Min(_rxCount, _pending.Length);
                _rx.AsSpan(0, raw).CopyTo(_pending);
                _pendingOffset = 0;
                _pendingCount = raw;
                _rxCount = 0;
                return true;
            }

            var total = 6 + length;
            if (_rxCount < total)
                return false;

            var frame = _rx.AsSpan(6, length);
            if (transaction == _expectedTransaction)
            {
                frame.CopyTo(_pending);
                _pendingOffset = 0;
                _pendingCount = ModbusCrc.Append(_pending, length);
            }
            else
            {
                StaleRepliesDropped++;
            }

            _rx.AsSpan(total, _rxCount - total).CopyTo(_rx);
            _rxCount -= total;
            if (_pendingCount > 0)
                return true;
        }

        return false;
    }
}
