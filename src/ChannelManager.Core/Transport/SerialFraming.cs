namespace ChannelManager.Core.Transport;

public enum SerialParity
{
    None,
    Odd,
    Even,
    Mark,
    Space,
}

public enum SerialStopBits
{
    One,
    OnePointFive,
    Two,
}

/// <summary>
/// Character framing of an asynchronous serial line. Kept in Core (not the adapter) because the
/// Modbus RTU timings are counted in character times (Modbus over Serial Line V1.02 §2.5.1.1).
/// </summary>
public sealed record SerialFraming(int BaudRate, int DataBits = 8, SerialParity Parity = SerialParity.None, SerialStopBits StopBits = SerialStopBits.One)
{
    /// <summary>Start bit + data bits + parity bit + stop bits (1.5 rounds up to 2 for timing).</summary>
    public int BitsPerCharacter => 1 + DataBits + (Parity == SerialParity.None ? 0 : 1) + (StopBits == SerialStopBits.One ? 1 : 2);

    public TimeSpan CharacterTime => TimeSpan.FromTicks((long)Math.Ceiling(BitsPerCharacter * (double)TimeSpan.TicksPerSecond / BaudRate));
}
