namespace ChannelManager.Core.Modems;

/// <summary>
/// Splits command-state bytes into lines, feeding one byte at a time and doing no I/O. V.250 §5.7.1:
/// verbose results are framed CR LF text CR LF, numeric ones are text CR; either terminator ends a line and
/// empty lines are skipped, so both framings (and an E1 echo ending in CR) parse the same way. A line
/// longer than the cap is cut: its first cap+1 characters are emitted (the classifier turns that into
/// Garbage) and the rest is discarded up to the next terminator, so memory stays bounded.
/// <para>
/// Allocation-free in steady state (issue 9): bytes go into a fixed char buffer, and a completed line is looked up by
/// its span in a small per-modem table of lines already seen, so the modem's recurring lines ("OK", "CONNECT 9600",
/// "NO CARRIER", the init echoes) come back as the same string instead of a new one each time. Strings are immutable,
/// so sharing them is invisible to callers. The table holds at most <see cref="MaxRememberedLines"/> short lines and
/// is emptied when full, so one-off lines (a dial echo per number) cannot pin memory.
/// </para>
/// </summary>
internal sealed class AtLineAssembler(int maxLineLength)
{
    /// <summary>Distinct recent lines kept for reuse; a modem's result vocabulary is a handful of lines.</summary>
    internal const int MaxRememberedLines = 64;

    /// <summary>Longer lines are not remembered (they are information text or garbage, rarely repeated).</summary>
    internal const int MaxRememberedLength = 48;

    private readonly char[] _line = new char[Math.Max(1, maxLineLength) + 1];
    private readonly Dictionary<string, string> _seen = new(StringComparer.Ordinal);
    private int _length;
    private bool _discarding;

    /// <summary>The terminator that ended the last line (CR or LF).</summary>
    public byte LastTerminator { get; private set; }

    /// <summary>Bytes of a line still being assembled (no terminator yet).</summary>
    public bool HasPartialLine => _length > 0 || _discarding;

    /// <summary>Feeds one byte; returns a complete line, or null. Bytes map 1:1 to chars (Latin-1) so binary survives.</summary>
    public string? Push(byte b)
    {
        if (b is (byte)'\r' or (byte)'\n')
        {
            LastTerminator = b;
            if (_discarding)
            {
                _discarding = false;
                return null;
            }

            if (_length == 0)
            {
                return null;
            }

            return Take();
        }

        if (_discarding)
        {
            return null;
        }

        _line[_length++] = (char)b;
        if (_length > maxLineLength)
        {
            var line = Take();
            _discarding = true;
            return line;
        }

        return null;
    }

    public void Reset()
    {
        _length = 0;
        _discarding = false;
    }

    /// <summary>The buffered line as a string (a remembered one when it was seen before); empties the buffer.</summary>
    private string Take()
    {
        var chars = _line.AsSpan(0, _length);
        _length = 0;
        if (chars.Length > MaxRememberedLength)
        {
            return new string(chars);
        }

        var seen = _seen.GetAlternateLookup<ReadOnlySpan<char>>();
        if (seen.TryGetValue(chars, out var known))
        {
            return known;
        }

        if (_seen.Count >= MaxRememberedLines)
        {
            _seen.Clear();
        }

        var line = new string(chars);
        _seen[line] = line;
        return line;
    }
}
