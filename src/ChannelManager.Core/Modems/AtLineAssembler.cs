using System.Text;

namespace ChannelManager.Core.Modems;

/// <summary>
/// Splits command-state bytes into lines, feeding one byte at a time and doing no I/O. V.250 §5.7.1:
/// verbose results are framed CR LF text CR LF, numeric ones are text CR; either terminator ends a line and
/// empty lines are skipped, so both framings (and an E1 echo ending in CR) parse the same way. A line
/// longer than the cap is cut: its first cap+1 characters are emitted (the classifier turns that into
/// Garbage) and the rest is discarded up to the next terminator, so memory stays bounded.
/// </summary>
internal sealed class AtLineAssembler(int maxLineLength)
{
    private readonly StringBuilder _line = new();
    private bool _discarding;

    /// <summary>The terminator that ended the last line (CR or LF).</summary>
    public byte LastTerminator { get; private set; }

    /// <summary>Bytes of a line still being assembled (no terminator yet).</summary>
    public bool HasPartialLine => _line.Length > 0 || _discarding;

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

            if (_line.Length == 0)
            {
                return null;
            }

            var line = _line.ToString();
            _line.Clear();
            return line;
        }

        if (_discarding)
        {
            return null;
        }

        _line.Append((char)b);
        if (_line.Length > maxLineLength)
        {
            var line = _line.ToString();
            _line.Clear();
            _discarding = true;
            return line;
        }

        return null;
    }

    public void Reset()
    {
        _line.Clear();
        _discarding = false;
    }
}
