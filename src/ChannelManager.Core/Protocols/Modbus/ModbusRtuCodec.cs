using System.Buffers.Binary;

namespace ChannelManager.Core.Protocols.Modbus;

/// <summary>Byte offsets inside an RTU frame (Modbus over Serial Line V1.02 §2.3: address, PDU, CRC).</summary>
internal static class RtuOffset
{
    public const int Unit = 0;
    public const int Function = 1;
    public const int ByteCount = 2;
    public const int ExceptionCode = 2;
    public const int Address = 2;
    public const int Quantity = 4;
    public const int Data = 3;
}

/// <summary>
/// Encodes requests and decodes replies on caller-supplied spans: no allocation, so a poll loop runs in
/// steady state on pooled buffers (issue 5 item 2). All multi-byte fields are big-endian except the CRC.
/// </summary>
public static class ModbusRtuCodec
{
    /// <summary>The largest RTU frame (§2.5.1: 256 bytes = address + 253-byte PDU + CRC).</summary>
    public const int MaxFrameLength = 256;

    /// <summary>An exception reply: address, function | 0x80, code, CRC (Application Protocol §7).</summary>
    public const int ExceptionFrameLength = 5;

    /// <summary>Writes the request frame (CRC included) into <paramref name="destination"/>; returns its length.</summary>
    public static int EncodeRequest(byte unitId, ModbusCommand command, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(command);
        destination[RtuOffset.Unit] = unitId;
        destination[RtuOffset.Function] = (byte)command.FunctionCode;
        var body = destination[2..];
        int length;
        switch (command)
        {
            case ReadCoils c:
                length = WriteAddressQuantity(body, c.Address, c.Count);
                break;
            case ReadDiscreteInputs c:
                length = WriteAddressQuantity(body, c.Address, c.Count);
                break;
            case ReadHoldingRegisters c:
                length = WriteAddressQuantity(body, c.Address, c.Count);
                break;
            case ReadInputRegisters c:
                length = WriteAddressQuantity(body, c.Address, c.Count);
                break;
            case WriteSingleCoil c:
                // §6.5: ON is 0xFF00, OFF is 0x0000; any other value is illegal.
                length = WriteAddressQuantity(body, c.Address, c.Value ? (ushort)0xFF00 : (ushort)0x0000);
                break;
            case WriteSingleRegister c:
                length = WriteAddressQuantity(body, c.Address, c.Value);
                break;
            case WriteMultipleCoils c:
                length = WriteAddressQuantity(body, c.Address, (ushort)c.Values.Count);
                length += WritePackedBits(body[length..], c.Values);
                break;
            case WriteMultipleRegisters c:
                length = WriteAddressQuantity(body, c.Address, (ushort)c.Values.Count);
                length += WriteRegisterBlock(body[length..], c.Values);
                break;
            case ReadWriteMultipleRegisters c:
                length = WriteAddressQuantity(body, c.ReadAddress, c.ReadCount);
                length += WriteAddressQuantity(body[length..], c.WriteAddress, (ushort)c.Values.Count);
                length += WriteRegisterBlock(body[length..], c.Values);
                break;
            default:
                throw new ArgumentException($"Unsupported Modbus command {command.GetType().Name}.", nameof(command));
        }

        return ModbusCrc.Append(destination, 2 + length);
    }

    /// <summary>
    /// The reply length implied by the bytes at the start of <paramref name="frame"/>, validated before
    /// more is read (issue 5 item 2): an exception reply is 5 bytes, a write echo 8, a read 5 + byte count.
    /// </summary>
    public static FrameLength ResponseLength(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < 2)
        {
            return FrameLength.Need(ExceptionFrameLength);
        }

        var function = frame[RtuOffset.Function];
        if ((function & ModbusFunctionInfo.ExceptionFlag) != 0)
        {
            return FrameLength.Known(ExceptionFrameLength);
        }

        if (!ModbusFunctionInfo.IsSupported(function))
        {
            return FrameLength.Invalid(RtuFrameFault.UnknownFunction);
        }

        var fc = (ModbusFunction)function;
        if (!ModbusFunctionInfo.IsRead(fc))
        {
            return FrameLength.Known(8);
        }

        if (frame.Length < 3)
        {
            return FrameLength.Need(5);
        }

        var byteCount = frame[RtuOffset.ByteCount];
        var registers = fc is ModbusFunction.ReadHoldingRegisters or ModbusFunction.ReadInputRegisters or ModbusFunction.ReadWriteMultipleRegisters;

        // Application Protocol §6.1-6.4: coils/inputs carry 1..250 bytes, registers 2..250 in pairs.
        if (byteCount == 0 || byteCount > 250 || (registers && byteCount % 2 != 0))
        {
            return FrameLength.Invalid(RtuFrameFault.BadByteCount);
        }

        return FrameLength.Known(5 + byteCount);
    }

    /// <summary>
    /// The request length implied by its first bytes (for the outstation): 8 for FC01-06, 9 + byte count for
    /// FC15/16, 13 + byte count for FC23; Unknown for other functions, which only silence can delimit.
    /// </summary>
    public static FrameLength RequestLength(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < 2)
        {
            return FrameLength.Need(8);
        }

        return frame[RtuOffset.Function] switch
        {
            >= 0x01 and <= 0x06 => FrameLength.Known(8),
            0x0F or 0x10 => frame.Length < 7 ? FrameLength.Need(9) : FrameLength.Known(9 + frame[6]),
            0x17 => frame.Length < 11 ? FrameLength.Need(13) : FrameLength.Known(13 + frame[10]),
            _ => FrameLength.Invalid(RtuFrameFault.UnknownFunction),
        };
    }

    /// <summary>The byte count a correct reply to this read request carries (§6.1-6.4, §6.17).</summary>
    public static int ExpectedByteCount(ReadOnlySpan<byte> request)
    {
        var fc = (ModbusFunction)request[RtuOffset.Function];
        var quantityOffset = RtuOffset.Quantity;
        var quantity = BinaryPrimitives.ReadUInt16BigEndian(request[quantityOffset..]);
        return fc is ModbusFunction.ReadCoils or ModbusFunction.ReadDiscreteInputs ? (quantity + 7) / 8 : quantity * 2;
    }

    /// <summary>Unpacks coil/input bits from a read reply (LSB of the first data byte is the first bit, §6.1).</summary>
    public static void ReadBits(ReadOnlySpan<byte> frame, Span<bool> destination)
    {
        var data = frame[RtuOffset.Data..];
        for (var i = 0; i < destination.Length; i++)
        {
            destination[i] = (data[i >> 3] & (1 << (i & 7))) != 0;
        }
    }

    /// <summary>Reads big-endian registers from a read reply.</summary>
    public static void ReadRegisters(ReadOnlySpan<byte> frame, Span<ushort> destination)
    {
        var data = frame[RtuOffset.Data..];
        for (var i = 0; i < destination.Length; i++)
        {
            destination[i] = BinaryPrimitives.ReadUInt16BigEndian(data[(i * 2)..]);
        }
    }

    /// <summary>Packs bits LSB-first (§6.11); returns the bytes written including the leading byte count.</summary>
    public static int WritePackedBits(Span<byte> destination, IReadOnlyList<bool> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var byteCount = (values.Count + 7) / 8;
        destination[0] = (byte)byteCount;
        destination.Slice(1, byteCount).Clear();
        for (var i = 0; i < values.Count; i++)
        {
            if (values[i])
            {
                destination[1 + (i >> 3)] |= (byte)(1 << (i & 7));
            }
        }

        return 1 + byteCount;
    }

    private static int WriteAddressQuantity(Span<byte> destination, ushort address, ushort quantityOrValue)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, address);
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], quantityOrValue);
        return 4;
    }

    private static int WriteRegisterBlock(Span<byte> destination, IReadOnlyList<ushort> values)
    {
        destination[0] = (byte)(values.Count * 2);
        for (var i = 0; i < values.Count; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(destination[(1 + (i * 2))..], values[i]);
        }

        return 1 + (values.Count * 2);
    }
}

/// <summary>What is wrong with bytes that do not make a frame.</summary>
public enum RtuFrameFault : byte
{
    None = 0,
    BadCrc,
    BadByteCount,
    UnknownFunction,
    Truncated,
    Overflow,
}

/// <summary>The length a frame's first bytes imply: Known, Need (at least this many to tell), or Invalid.</summary>
public readonly record struct FrameLength(int Length, bool IsKnown, RtuFrameFault Fault)
{
    public static FrameLength Known(int length) => new(length, true, RtuFrameFault.None);

    public static FrameLength Need(int atLeast) => new(atLeast, false, RtuFrameFault.None);

    public static FrameLength Invalid(RtuFrameFault fault) => new(0, false, fault);

    public bool IsInvalid => Fault != RtuFrameFault.None;
}
