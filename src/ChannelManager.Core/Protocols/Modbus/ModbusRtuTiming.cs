namespace ChannelManager.Core.Protocols.Modbus;

/// <summary>
/// RTU character timing (Modbus over Serial Line V1.02 §2.5.1.1). A character is start + data + parity +
/// stop bits (11 bits with the default 8E1). Frames are separated by at least 3.5 character times (t3.5);
/// inside a frame the gap between characters must not exceed 1.5 character times (t1.5). Above 19200 baud
/// the spec fixes t1.5 = 750 µs and t3.5 = 1.75 ms, because the computed values become too small for a
/// UART interrupt load to honour.
/// </summary>
public static class ModbusRtuTiming
{
    /// <summary>The baud rate above which the fixed values apply (§2.5.1.1).</summary>
    public const int FixedTimingAboveBaud = 19200;

    public static readonly TimeSpan FixedInterFrame = TimeSpan.FromMicroseconds(1750);

    public static readonly TimeSpan FixedInterCharacter = TimeSpan.FromMicroseconds(750);

    public static TimeSpan CharacterTime(int baudRate, int characterBits)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(baudRate);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(characterBits);
        return TimeSpan.FromTicks((long)Math.Ceiling(characterBits * (double)TimeSpan.TicksPerSecond / baudRate));
    }

    /// <summary>t3.5: the silent interval that must precede every frame.</summary>
    public static TimeSpan InterFrameDelay(int baudRate, int characterBits) =>
        baudRate > FixedTimingAboveBaud ? FixedInterFrame : TimeSpan.FromTicks((long)Math.Ceiling(CharacterTime(baudRate, characterBits).Ticks * 3.5));

    /// <summary>t1.5: the longest silence allowed between two characters of one frame.</summary>
    public static TimeSpan InterCharacterLimit(int baudRate, int characterBits) =>
        baudRate > FixedTimingAboveBaud ? FixedInterCharacter : TimeSpan.FromTicks((long)Math.Ceiling(CharacterTime(baudRate, characterBits).Ticks * 1.5));
}
