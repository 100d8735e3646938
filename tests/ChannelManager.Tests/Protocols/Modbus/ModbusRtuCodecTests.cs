using CsCheck;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Tests.Support;

namespace ChannelManager.Tests.Protocols.Modbus;

/// <summary>
/// Exact request bytes per function code. PDUs are the examples of Modbus Application Protocol V1.1b3 §6;
/// the CRCs were cross-checked with pymodbus 3.0's computeCRC (an independent implementation).
/// </summary>
public sealed class ModbusRtuCodecTests
{
    public static TheoryData<ModbusCommand, string> Requests => new()
    {
        { new ReadCoils(0x13, 19), "01 01 00 13 00 13 8C 02" },                          // §6.1
        { new ReadDiscreteInputs(0xC4, 22), "01 02 00 C4 00 16 B8 39" },                 // §6.2
        { new ReadHoldingRegisters(0, 2), "01 03 00 00 00 02 C4 0B" },
        { new ReadInputRegisters(8, 1), "01 04 00 08 00 01 B0 08" },                      // §6.4
        { new WriteSingleCoil(0xAC, true), "01 05 00 AC FF 00 4C 1B" },                   // §6.5
        { new WriteSingleCoil(0xAC, false), "01 05 00 AC 00 00 0D EB" },
        { new WriteSingleRegister(1, 3), "01 06 00 01 00 03 98 0B" },                     // §6.6
        { new WriteMultipleCoils(0x13, [true, false, true, true, false, false, true, true, true, false]), "01 0F 00 13 00 0A 02 CD 01 72 CB" }, // §6.11
        { new WriteMultipleRegisters(1, [0x000A, 0x0102]), "01 10 00 01 00 02 04 00 0A 01 02 92 30" },   // §6.12
        { new ReadWriteMultipleRegisters(3, 6, 0x0E, [0x00FF, 0x00FF, 0x00FF]), "01 17 00 03 00 06 00 0E 00 03 06 00 FF 00 FF 00 FF 46 91" }, // §6.17
    };

    [Theory]
    [MemberData(nameof(Requests))]
    public void EncodeRequest_EachFunction_WritesExactBytes(ModbusCommand command, string expected)
    {
        var buffer = new byte[ModbusRtuCodec.MaxFrameLength];
        var length = ModbusRtuCodec.EncodeRequest(1, command, buffer);
        Assert.Equal(expected, ScriptedTransport.ToHex(buffer[..length]));
        Assert.Equal(length, ModbusRtuCodec.RequestLength(buffer.AsSpan(0, length)).Length);
    }

    [Fact]
    public void EncodeRequest_SteadyState_DoesNotAllocate()
    {
        var buffer = new byte[ModbusRtuCodec.MaxFrameLength];
        var command = new WriteMultipleRegisters(1, [1, 2, 3, 4]);
        var reply = ScriptedTransport.FromHex("01 03 04 00 0A 00 0B 9B F6");
        Span<ushort> values = stackalloc ushort[2];
        ModbusRtuCodec.EncodeRequest(1, command, buffer);
        ModbusRtuResponseParser.Parse(reply, lineIdle: false);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            ModbusRtuCodec.EncodeRequest(1, command, buffer);
            var parse = ModbusRtuResponseParser.Parse(reply, lineIdle: false);
            ModbusRtuCodec.ReadRegisters(reply.AsSpan(parse.Offset, parse.Length), values);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(11, values[1]);
    }

    [Fact]
    public void Parse_HeaderOfRegisterRead_NeedsExactlyTheRest()
    {
        var result = ModbusRtuResponseParser.Parse(ScriptedTransport.FromHex("01 03 04"), lineIdle: false);
        Assert.Equal(RtuParseStatus.NeedMore, result.Status);
        Assert.Equal(6, result.MissingBytes);   // 4 data bytes + CRC
    }

    [Fact]
    public void Parse_ImpossibleByteCount_MalformedWithoutWaitingForMore()
    {
        // 0xFB (251) can never be a register byte count (§6.3: 2 x N, N <= 125) and 0 never a read.
        var odd = ModbusRtuResponseParser.Parse(ScriptedTransport.FromHex("01 03 05"), lineIdle: false);
        Assert.Equal(RtuParseStatus.NeedMore, odd.Status);   // only the trailing bytes could still start a frame
        var idle = ModbusRtuResponseParser.Parse(ScriptedTransport.FromHex("01 03 FB"), lineIdle: true);
        Assert.Equal(RtuParseStatus.Malformed, idle.Status);
        Assert.Equal(RtuFrameFault.BadByteCount, idle.Fault);
        Assert.True(ModbusRtuCodec.ResponseLength(ScriptedTransport.FromHex("01 03 05")).IsInvalid);
        Assert.True(ModbusRtuCodec.ResponseLength(ScriptedTransport.FromHex("01 01 00")).IsInvalid);
    }

    [Fact]
    public void Parse_ExceptionReply_IsFiveBytes()
    {
        var result = ModbusRtuResponseParser.Parse(ScriptedTransport.FromHex("01 83 02 C0 F1 FF"), lineIdle: false);
        Assert.Equal(RtuParseResult.Frame(0, 5), result);
    }

    [Fact]
    public void Parse_NoiseBeforeFrame_ResynchronisesOnTheFrame()
    {
        var result = ModbusRtuResponseParser.Parse(ScriptedTransport.FromHex("00 FF 13 01 03 04 00 0A 00 0B 9B F6"), lineIdle: false);
        Assert.Equal(RtuParseResult.Frame(3, 9), result);
    }

    [Fact]
    public void Parse_BadCrcAndIdleLine_MalformedBadCrc()
    {
        var result = ModbusRtuResponseParser.Parse(ScriptedTransport.FromHex("01 03 04 00 0A 00 0B 9B F7"), lineIdle: true);
        Assert.Equal(RtuParseStatus.Malformed, result.Status);
        Assert.Equal(RtuFrameFault.BadCrc, result.Fault);
    }

    [Fact]
    public void Parse_FrameArrivingByteByByte_NeedMoreUntilLastByte()
    {
        var frame = ScriptedTransport.FromHex("01 03 04 00 0A 00 0B 9B F6");
        for (var n = 1; n < frame.Length; n++)
        {
            Assert.Equal(RtuParseStatus.NeedMore, ModbusRtuResponseParser.Parse(frame.AsSpan(0, n), lineIdle: false).Status);
        }

        Assert.Equal(RtuParseResult.Frame(0, 9), ModbusRtuResponseParser.Parse(frame, lineIdle: false));
    }

    [Fact]
    public void Parse_RandomBytes_NeverThrows()
    {
        Gen.Byte.Array[0, 600].Sample(data =>
        {
            var result = ModbusRtuResponseParser.Parse(data, lineIdle: true);
            return result.Status != RtuParseStatus.NeedMore
                && (result.Status != RtuParseStatus.Frame || ModbusCrc.IsValid(data.AsSpan(result.Offset, result.Length)));
        });
    }
}
