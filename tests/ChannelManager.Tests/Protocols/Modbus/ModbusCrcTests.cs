using CsCheck;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Tests.Support;

namespace ChannelManager.Tests.Protocols.Modbus;

public sealed class ModbusCrcTests
{
    [Fact]
    public void Compute_SpecAppendixBExample_Returns0x1241()
    {
        // Modbus over Serial Line V1.02 Appendix B: slave 02, function 07 -> CRC 0x1241, sent 41 12.
        Assert.Equal(0x1241, ModbusCrc.Compute([0x02, 0x07]));
    }

    [Theory]
    [InlineData("01 03 00 00 00 02", "C4 0B")]
    [InlineData("01 03 04 00 0A 00 0B", "9B F6")]
    [InlineData("01 83 02", "C0 F1")]
    public void Append_KnownFrames_WritesLowByteFirst(string body, string crc)
    {
        var bytes = ScriptedTransport.FromHex(body);
        var frame = new byte[bytes.Length + 2];
        bytes.CopyTo(frame, 0);
        var length = ModbusCrc.Append(frame, bytes.Length);
        Assert.Equal(frame.Length, length);
        Assert.Equal(crc, ScriptedTransport.ToHex(frame[^2..]));
        Assert.True(ModbusCrc.IsValid(frame));
    }

    [Fact]
    public void IsValid_AnySingleBitFlipped_ReturnsFalse()
    {
        var frame = ScriptedTransport.FromHex("01 03 04 00 0A 00 0B 9B F6");
        for (var bit = 0; bit < frame.Length * 8; bit++)
        {
            var copy = (byte[])frame.Clone();
            copy[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.False(ModbusCrc.IsValid(copy), $"bit {bit} flipped still valid");
        }
    }

    [Fact]
    public void Compute_MatchesBitwiseReference_ForRandomData()
    {
        Gen.Byte.Array[0, 300].Sample(data => ModbusCrc.Compute(data) == Bitwise(data));
    }

    private static ushort Bitwise(byte[] data)
    {
        // The spec's own bit-by-bit procedure (§6.2.2), independent of the table.
        ushort crc = 0xFFFF;
        foreach (var b in data)
        {
            crc ^= b;
            for (var i = 0; i < 8; i++)
            {
                var lsb = (crc & 1) != 0;
                crc >>= 1;
                if (lsb)
                {
                    crc ^= 0xA001;
                }
            }
        }

        return crc;
    }
}
