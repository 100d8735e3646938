namespace ChannelManager.HardwareSim.Modems;

/// <summary>
/// Detects the "+++" escape in data mode by byte arrival times (the Hayes guard-time escape used by
/// V.250 modems; S2 is the escape character, S12 the guard time in 1/50 s). Three escape
/// characters, each within the guard time of the one before, preceded by at least the guard time
/// of silence; the escape takes effect when the guard time then passes with no further byte.
/// The escape characters are held back, and forwarded as data if the sequence turns out not to be
/// an escape, so the callee never sees a successful escape.
/// </summary>
internal sealed class EscapeDetector
{
    private const int SequenceLength = 3;
    private int _count;

    public EscapeDetector(byte escapeChar, TimeSpan guard, bool enabled, DateTimeOffset now)
    {
        EscapeChar = escapeChar;
        Guard = guard;
        Enabled = enabled;
        LastByteAt = now;
    }

    public byte EscapeChar { get; }

    public TimeSpan Guard { get; }

    public bool Enabled { get; }

    public DateTimeOffset LastByteAt { get; private set; }

    /// <summary>True when all three escape characters have arrived and the closing guard time is running.</summary>
    public bool Armed => _count == SequenceLength;

    /// <summary>True when the escape is complete at <paramref name="now"/>.</summary>
    public bool CompleteAt(DateTimeOffset now) => Armed && now - LastByteAt >= Guard;

    /// <summary>Feeds bytes that arrived together at <paramref name="at"/>; adds the ones to pass to the callee.</summary>
    public void Feed(ReadOnlySpan<byte> data, DateTimeOffset at, List<byte> forward)
    {
        foreach (var b in data)
        {
            if (!Enabled)
            {
                forward.Add(b);
                continue;
            }

            var gap = at - LastByteAt;
            var continues = _count is > 0 and < SequenceLength && b == EscapeChar && gap < Guard;
            var starts = _count == 0 && b == EscapeChar && gap >= Guard;
            if (continues || starts)
            {
                _count++;
            }
            else
            {
                // Not an escape after all: the held characters were data.
                for (var i = 0; i < _count; i++)
                {
                    forward.Add(EscapeChar);
                }

                _count = 0;
                if (b == EscapeChar && gap >= Guard)
                {
                    _count = 1;
                }
                else
                {
                    forward.Add(b);
                }
            }

            LastByteAt = at;
        }
    }
}
