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

    private readonly List<byte> _held = new(Pattern.Length);

    public bool HasHeldBytes => _held.Count > 0;

    /// <summary>
    /// Scans <paramref name="input"/>; appends the bytes that are certainly data to <paramref name="data"/>.
    /// Returns the number of input bytes consumed: all of them, or up to and including a complete match
    /// (then <paramref name="matched"/> is true and the rest belongs to command state).
    /// </summary>
    public int Feed(ReadOnlySpan<byte> input, List<byte> data, out bool matched)
    {
        matched = false;
        for (var i = 0; i < input.Length; i++)
        {
            _held.Add(input[i]);
            if (_held.Count == Pattern.Length && IsPrefix(0))
            {
                _held.Clear();
                matched = true;
                return i + 1;
            }

            // Keep only the longest suffix that is still a prefix of the pattern; the rest is data.
            var start = 0;
            while (start < _held.Count && !IsPrefix(start))
            {
                start++;
            }

            if (start > 0)
            {
                data.AddRange(_held.GetRange(0, start));
                _held.RemoveRange(0, start);
            }
        }

        return input.Length;
    }

    /// <summary>Gives up on the held partial match: the bytes were data after all.</summary>
    public void Release(List<byte> data)
    {
        data.AddRange(_held);
        _held.Clear();
    }

    public void Reset() => _held.Clear();

    private bool IsPrefix(int start)
    {
        for (var j = start; j < _held.Count; j++)
        {
            if (_held[j] != Pattern[j - start])
            {
                return false;
            }
        }

        return true;
    }
}
