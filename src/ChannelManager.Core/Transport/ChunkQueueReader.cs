using System.Threading.Channels;

namespace ChannelManager.Core.Transport;

/// <summary>
/// Reads a byte stream out of a queue of received chunks, keeping the part of a chunk a short read
/// left behind. Shared by the transports that receive by chunk (in-memory pipe, modem data mode).
/// </summary>
internal sealed class ChunkQueueReader(ChannelReader<byte[]> chunks)
{
    private ReadOnlyMemory<byte> _pending;

    public bool HasPending => !_pending.IsEmpty;

    /// <summary>
    /// Copies at least one byte into <paramref name="buffer"/>, waiting with <paramref name="waitForData"/>
    /// (false = the stream has ended) when nothing is pending; returns 0 at the end of the stream.
    /// </summary>
    public async ValueTask<int> ReadAsync(Memory<byte> buffer, Func<CancellationToken, ValueTask<bool>> waitForData, CancellationToken cancellationToken)
    {
        while (_pending.IsEmpty)
        {
            if (!await waitForData(cancellationToken).ConfigureAwait(false))
            {
                return 0;
            }

            if (chunks.TryRead(out var chunk))
            {
                _pending = chunk;
            }
        }

        var n = Math.Min(buffer.Length, _pending.Length);
        _pending[..n].CopyTo(buffer);
        _pending = _pending[n..];
        return n;
    }
}
