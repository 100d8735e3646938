namespace ChannelManager.Core.Modems;

/// <summary>
/// Finds the modem's "\r\nNO CARRIER\r\n" in the data-mode byte stream without corrupting binary data
/// (Modbus RTU frames are arbitrary bytes). Bytes that could be the start of the pattern are held back until
/// the next bytes rule it in or out; the caller releases them after a quiet time (<see cref="AtModemOptions.DataHoldBackTime"/>).
/// Incremental and I/O-free (style.md §3.3).
/// </summary>
internal sealed class CarrierLossDetector
{
    /// <summary>V.250 §5.7.1 verbose framing of result code 3, sent by the DCE when it loses carrier in data state.</summary>
    private static readonly byte[] Pattern = "\r\nNO CARRIER\r\n"u8.ToArray();

    // The held bytes are always a proper prefix of the pattern, so they fit in one pattern-sized array: nothing is
    // allocated per byte (issue 9: the old List.GetRange per data byte was the scale run's largest allocation).
    private readonly byte[] _held = new byte[Pattern.Length];
    private int _count;

    public bool HasHeldBytes => _count > 0;

    /// <summary>
    /// Scans <paramref name="input"/>; appends the bytes that are certainly data to <paramref name="data"/>.
    /// Returns the number of input bytes consumed: all of them, or up to and including a complete match
    /// (then <paramref name="matched"/> is true and the rest belongs to command state).
    /// </summary>
    public int Feed(ReadOnlySpan<byte> input, List<byte> data, out bool matched)
    {
        matched = false;
        var i = 0;
        while (i < input.Length)
        {
            if (_count == 0)
            {
                // Nothing held: every byte before the next CR is certainly data, so it goes on in one run.
                var run = input[i..].IndexOf(Pattern[0]);
                run = run < 0 ? input.Length - i : run;
                data.AddRange(input.Slice(i, run));
                i += run;
                if (i == input.Length)
                {
                    break;
                }
            }

            _held[_count++] = input[i++];
            if (_count == Pattern.Length && IsPrefix(0))
            {
                _count = 0;
                matched = true;
                return i;
            }

            // Keep only the longest suffix that is still a prefix of the pattern; the rest is data.
            var start = 0;
            while (start < _count && !IsPrefix(start))
            {
                start++;
            }

            if (start > 0)
            {
                data.AddRange(_held.AsSpan(0, start));
                _held.AsSpan(start, _count - start).CopyTo(_held);
                _count -= start;
            }
        }

        return input.Length;
    }

    /// <summary>Gives up on the held partial match: the bytes were data after all.</summary>
    public void Release(List<byte> data)
    {
        data.AddRange(_held.AsSpan(0, _count));
        _count = 0;
    }

    public void Reset() => _count = 0;

    private bool IsPrefix(int start)
    {
        for (var j = start; j < _count; j++)
        {
            if (_held[j] != Pattern[j - start])
            {
                return false;
            }
        }

        return true;
    }
}
