using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Transport;

namespace ChannelManager.HardwareSim.Outstations;

/// <summary>
/// A simulated Modbus RTU outstation (slave/server): a register map, a unit id and scripted faults that can
/// be changed while it serves. It serves any <see cref="IChannelTransport"/>: an in-memory pair in unit
/// tests, the far end of a simulated modem call, a pty or a TCP connection (OutstationProcess).
/// </summary>
public sealed class ModbusRtuOutstation
{
    private readonly TimeProvider _time;
    private readonly ConcurrentQueue<OutstationFault> _queuedFaults = new();
    private int _requests;
    private int _replies;

    public ModbusRtuOutstation(byte unitId, TimeProvider timeProvider, ModbusRegisterMap? map = null)
    {
        ArgumentOutOfRangeException.ThrowIfZero(unitId);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(unitId, (byte)247);
        ArgumentNullException.ThrowIfNull(timeProvider);
        UnitId = unitId;
        _time = timeProvider;
        Map = map ?? new ModbusRegisterMap();
    }

    public byte UnitId { get; }

    public ModbusRegisterMap Map { get; }

    /// <summary>A fault applied to every request while no queued fault is pending; null = behave.</summary>
    public OutstationFault? Fault { get; set; }

    /// <summary>
    /// How long a partial request may stall before it is discarded. The spec's t3.5 cannot be timed on a
    /// PC or through a modem (docs/protocol-driver.md), so a floor like the master's is used.
    /// </summary>
    public TimeSpan SilenceTimeout { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Requests with a valid CRC addressed to this unit (or broadcast).</summary>
    public int RequestCount => Volatile.Read(ref _requests);

    /// <summary>Replies put on the wire (faulty ones included).</summary>
    public int ReplyCount => Volatile.Read(ref _replies);

    /// <summary>Applies these faults to the next requests, one each, before <see cref="Fault"/>.</summary>
    public void QueueFaults(params OutstationFault[] faults)
    {
        ArgumentNullException.ThrowIfNull(faults);
        foreach (var fault in faults)
        {
            _queuedFaults.Enqueue(fault);
        }
    }

    /// <summary>
    /// Serves requests on <paramref name="link"/> until the peer closes it, it fails, or
    /// <paramref name="cancellationToken"/> is cancelled; returns normally in all three cases.
    /// </summary>
    public async Task ServeAsync(IChannelTransport link, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(link);
        var buffer = new byte[ModbusRtuCodec.MaxFrameLength * 2];
        var count = 0;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                int n;
                if (count == 0)
                {
                    n = await link.ReadAsync(buffer, cancellationToken);
                }
                else
                {
                    using var silence = new CancellationTokenSource(SilenceTimeout, _time);
                    using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, silence.Token);
                    try
                    {
                        n = await link.ReadAsync(buffer.AsMemory(count), linked.Token);
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                        // The line went quiet part-way: only a frame whose length the function code does not
                        // tell (an unsupported function) can end here; anything else is noise or a cut frame.
                        if (ModbusRtuCodec.RequestLength(buffer.AsSpan(0, count)).IsInvalid && count >= 4 && ModbusCrc.IsValid(buffer.AsSpan(0, count)))
                        {
                            await HandleAsync(link, buffer.AsSpan(0, count).ToArray(), cancellationToken);
                        }

                        count = 0;
                        continue;
                    }
                }

                if (n == 0)
                {
                    return;
                }

                count += n;
                count = await DrainFramesAsync(link, buffer, count, cancellationToken);
                if (count == buffer.Length)
                {
                    count = 0;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (TransportFailureException)
        {
            // The link is gone: a served call ends as a real RTU's would, silently.
        }
    }

    private async Task<int> DrainFramesAsync(IChannelTransport link, byte[] buffer, int count, CancellationToken cancellationToken)
    {
        while (count > 0)
        {
            var length = ModbusRtuCodec.RequestLength(buffer.AsSpan(0, count));
            if (length.IsInvalid)
            {
                // An unknown function code: either noise in front of a request (skip to the next valid frame)
                // or a request we do not support, which only the following silence can delimit.
                var next = NextValidRequest(buffer.AsSpan(0, count));
                if (next < 0)
                {
                    return count;
                }

                count = Shift(buffer, count, next);
                continue;
            }

            if (!length.IsKnown || count < length.Length)
            {
                return count;
            }

            if (length.Length > ModbusRtuCodec.MaxFrameLength || !ModbusCrc.IsValid(buffer.AsSpan(0, length.Length)))
            {
                // Modbus over Serial Line V1.02 §2.4.1: a frame with a bad CRC is discarded without reply.
                // Drop one byte and look for a frame start further on (resynchronisation).
                count = Shift(buffer, count, 1);
                continue;
            }

            var frame = buffer.AsSpan(0, length.Length).ToArray();
            count = Shift(buffer, count, length.Length);
            await HandleAsync(link, frame, cancellationToken);
        }

        return count;
    }

    private static int NextValidRequest(ReadOnlySpan<byte> data)
    {
        for (var offset = 1; offset < data.Length; offset++)
        {
            var length = ModbusRtuCodec.RequestLength(data[offset..]);
            if (length.IsKnown && length.Length <= data.Length - offset && ModbusCrc.IsValid(data.Slice(offset, length.Length)))
            {
                return offset;
            }
        }

        return -1;
    }

    private static int Shift(byte[] buffer, int count, int by)
    {
        buffer.AsSpan(by, count - by).CopyTo(buffer);
        return count - by;
    }

    private async Task HandleAsync(IChannelTransport link, byte[] request, CancellationToken cancellationToken)
    {
        var unit = request[0];
        if (unit != UnitId && unit != 0)
        {
            return;
        }

        Interlocked.Increment(ref _requests);
        var fault = _queuedFaults.TryDequeue(out var queued) ? queued : Fault;
        if (fault?.Kind == OutstationFaultKind.NoReply)
        {
            return;
        }

        // Pooled: one reply per request, ~10 per simulated call (issue 9); the link copies what it sends.
        var reply = ArrayPool<byte>.Shared.Rent(ModbusRtuCodec.MaxFrameLength);
        try
        {
            reply[0] = UnitId;
            reply[1] = request[1];
            var pduLength = fault?.Kind == OutstationFaultKind.Exception
                ? ExceptionPdu(reply, request[1], fault.Code)
                : Execute(request, reply);

            // §2.1: a broadcast (address 0) is executed and never answered.
            if (unit == 0)
            {
                return;
            }

            var length = ModbusCrc.Append(reply, pduLength);
            switch (fault?.Kind)
            {
                case OutstationFaultKind.BadCrc:
                    reply[length - 1] ^= 0xFF;
                    break;
                case OutstationFaultKind.WrongUnit:
                    reply[0] = (byte)(UnitId == 247 ? 1 : UnitId + 1);
                    length = ModbusCrc.Append(reply, pduLength);
                    break;
                case OutstationFaultKind.PartialFrame:
                    length = Math.Max(1, length / 2);
                    break;
                case OutstationFaultKind.SlowReply:
                    await Task.Delay(fault.Delay, _time, cancellationToken);
                    break;
                default:
                    break;
            }

            await link.WriteAsync(reply.AsMemory(0, length), cancellationToken);
            Interlocked.Increment(ref _replies);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(reply);
        }
    }

    /// <summary>Executes the request against the map and writes the reply PDU after the unit byte; returns unit + PDU length.</summary>
    private int Execute(byte[] request, byte[] reply)
    {
        var function = request[1];
        if (!ModbusFunctionInfo.IsSupported(function))
        {
            return ExceptionPdu(reply, function, ModbusExceptionCode.IllegalFunction);
        }

        var address = BinaryPrimitives.ReadUInt16BigEndian(request.AsSpan(2));
        var quantity = BinaryPrimitives.ReadUInt16BigEndian(request.AsSpan(4));
        var error = Validate((ModbusFunction)function, request, address, quantity);
        if (error is { } code)
        {
            return ExceptionPdu(reply, function, code);
        }

        return Map.Access(t =>
        {
            switch ((ModbusFunction)function)
            {
                case ModbusFunction.ReadCoils:
                    return ReadBits(reply, t.Coils.AsSpan(address, quantity));
                case ModbusFunction.ReadDiscreteInputs:
                    return ReadBits(reply, t.DiscreteInputs.AsSpan(address, quantity));
                case ModbusFunction.ReadHoldingRegisters:
                    return ReadRegisters(reply, t.HoldingRegisters.AsSpan(address, quantity));
                case ModbusFunction.ReadInputRegisters:
                    return ReadRegisters(reply, t.InputRegisters.AsSpan(address, quantity));
                case ModbusFunction.WriteSingleCoil:
                    t.Coils[address] = quantity == 0xFF00;
                    return Echo(request, reply);
                case ModbusFunction.WriteSingleRegister:
                    t.HoldingRegisters[address] = quantity;
                    return Echo(request, reply);
                case ModbusFunction.WriteMultipleCoils:
                    for (var i = 0; i < quantity; i++)
                    {
                        t.Coils[address + i] = (request[7 + (i >> 3)] & (1 << (i & 7))) != 0;
                    }

                    return Echo(request, reply);
                case ModbusFunction.WriteMultipleRegisters:
                    for (var i = 0; i < quantity; i++)
                    {
                        t.HoldingRegisters[address + i] = BinaryPrimitives.ReadUInt16BigEndian(request.AsSpan(7 + (i * 2)));
                    }

                    return Echo(request, reply);
                default:
                    // FC23 (§6.17): the write is performed before the read.
                    var writeAddress = BinaryPrimitives.ReadUInt16BigEndian(request.AsSpan(6));
                    var writeQuantity = BinaryPrimitives.ReadUInt16BigEndian(request.AsSpan(8));
                    for (var i = 0; i < writeQuantity; i++)
                    {
                        t.HoldingRegisters[writeAddress + i] = BinaryPrimitives.ReadUInt16BigEndian(request.AsSpan(11 + (i * 2)));
                    }

                    return ReadRegisters(reply, t.HoldingRegisters.AsSpan(address, quantity));
            }
        });
    }

    /// <summary>Application Protocol §6 state diagrams: quantity first (03), then address range (02).</summary>
    private ModbusExceptionCode? Validate(ModbusFunction function, byte[] request, ushort address, ushort quantity)
    {
        switch (function)
        {
            case ModbusFunction.ReadCoils or ModbusFunction.ReadDiscreteInputs:
                return quantity is < 1 or > 2000 ? ModbusExceptionCode.IllegalDataValue : RangeCheck(address, quantity);
            case ModbusFunction.ReadHoldingRegisters or ModbusFunction.ReadInputRegisters:
                return quantity is < 1 or > 125 ? ModbusExceptionCode.IllegalDataValue : RangeCheck(address, quantity);
            case ModbusFunction.WriteSingleCoil:
                return quantity is not (0x0000 or 0xFF00) ? ModbusExceptionCode.IllegalDataValue : RangeCheck(address, 1);
            case ModbusFunction.WriteSingleRegister:
                return RangeCheck(address, 1);
            case ModbusFunction.WriteMultipleCoils:
                return quantity is < 1 or > 1968 || request[6] != (quantity + 7) / 8 ? ModbusExceptionCode.IllegalDataValue : RangeCheck(address, quantity);
            case ModbusFunction.WriteMultipleRegisters:
                return quantity is < 1 or > 123 || request[6] != quantity * 2 ? ModbusExceptionCode.IllegalDataValue : RangeCheck(address, quantity);
            default:
                var writeAddress = BinaryPrimitives.ReadUInt16BigEndian(request.AsSpan(6));
                var writeQuantity = BinaryPrimitives.ReadUInt16BigEndian(request.AsSpan(8));
                if (quantity is < 1 or > 125 || writeQuantity is < 1 or > 121 || request[10] != writeQuantity * 2)
                {
                    return ModbusExceptionCode.IllegalDataValue;
                }

                return RangeCheck(address, quantity) ?? RangeCheck(writeAddress, writeQuantity);
        }
    }

    private ModbusExceptionCode? RangeCheck(int address, int quantity) =>
        Map.InRange(address, quantity) ? null : ModbusExceptionCode.IllegalDataAddress;

    private static int ExceptionPdu(byte[] reply, byte function, ModbusExceptionCode code)
    {
        reply[1] = (byte)(function | ModbusFunctionInfo.ExceptionFlag);
        reply[2] = (byte)code;
        return 3;
    }

    private static int ReadBits(byte[] reply, ReadOnlySpan<bool> bits)
    {
        var byteCount = (bits.Length + 7) / 8;
        reply[2] = (byte)byteCount;
        reply.AsSpan(3, byteCount).Clear();
        for (var i = 0; i < bits.Length; i++)
        {
            if (bits[i])
            {
                reply[3 + (i >> 3)] |= (byte)(1 << (i & 7));
            }
        }

        return 3 + byteCount;
    }

    private static int ReadRegisters(byte[] reply, ReadOnlySpan<ushort> registers)
    {
        reply[2] = (byte)(registers.Length * 2);
        for (var i = 0; i < registers.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(3 + (i * 2)), registers[i]);
        }

        return 3 + (registers.Length * 2);
    }

    /// <summary>§6.5/6.6 echo the request; §6.11/6.12 echo address and quantity: both are bytes 2..5.</summary>
    private static int Echo(byte[] request, byte[] reply)
    {
        request.AsSpan(2, 4).CopyTo(reply.AsSpan(2));
        return 6;
    }
}
