using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Transport;

namespace ChannelManager.Tests.Protocols.Modbus;

public sealed class ModbusRtuTimingTests
{
    [Theory]
    [InlineData(9600, 11, 4010.4, 1718.8)]   // 8E1: 11 bits / 9600 = 1.1458 ms per character
    [InlineData(9600, 10, 3645.9, 1562.5)]   // 8N1
    [InlineData(19200, 11, 2005.2, 859.4)]
    [InlineData(1200, 11, 32083.4, 13750.0)]
    [InlineData(38400, 11, 1750, 750)]       // §2.5.1.1: fixed above 19200
    [InlineData(115200, 10, 1750, 750)]
    public void InterFrameDelay_BaudAndFraming_MatchesSpec(int baud, int bits, double t35Microseconds, double t15Microseconds)
    {
        Assert.Equal(t35Microseconds, ModbusRtuTiming.InterFrameDelay(baud, bits).TotalMicroseconds, 0.5);
        Assert.Equal(t15Microseconds, ModbusRtuTiming.InterCharacterLimit(baud, bits).TotalMicroseconds, 0.5);
    }

    [Fact]
    public void CharacterBits_DefaultOptions_Is11For8E1()
    {
        var options = new ModbusRtuOptions();
        Assert.Equal(11, options.CharacterBits);
        Assert.Equal(10, new ModbusRtuOptions { Parity = SerialParity.None }.CharacterBits);
        Assert.Equal(11, new ModbusRtuOptions { Parity = SerialParity.None, StopBits = SerialStopBits.Two }.CharacterBits);
    }

    [Fact]
    public void EffectiveInterCharacterTimeout_Computed_IsFlooredForPcTimers()
    {
        Assert.Equal(ModbusRtuOptions.MinimumInterCharacterTimeout, new ModbusRtuOptions { BaudRate = 19200 }.EffectiveInterCharacterTimeout);
        Assert.Equal(55, new ModbusRtuOptions { BaudRate = 300 }.EffectiveInterCharacterTimeout.TotalMilliseconds, 0.01);
        Assert.Equal(TimeSpan.FromMilliseconds(2), new ModbusRtuOptions { InterCharacterTimeout = TimeSpan.FromMilliseconds(2) }.EffectiveInterCharacterTimeout);
    }
}
