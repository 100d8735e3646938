using System.Threading.Channels;
using BenchmarkDotNet.Attributes;
using ChannelManager.Core.Transport;

namespace ChannelManager.Benchmarks.Micro;

/// <summary>
/// Issue 9: the in-memory transport's receive path, now a <see cref="ByteQueue"/>, against what it replaced (an
/// unbounded <c>Channel&lt;byte[]&gt;</c> of copied chunks read through <see cref="ChunkQueueReader"/>, the pattern
/// the test-only ScriptedTransport still uses). One op = a 25-byte Modbus reply written by one end and read by the
/// other: "Buffered" reads after the write (the synchronous path), "Waiting" parks a reader first, so the write
/// wakes it through the thread pool (the hand-off the scale simulation pays per reply). The benchmark methods' own
/// <c>Task&lt;int&gt;</c> (72 B) is in every row.
/// </summary>
/// <remarks>Not sealed: BenchmarkDotNet derives its generated runner from the benchmark class.</remarks>
[MemoryDiagnoser]
public class InMemoryTransportBenchmarks
{
    private readonly byte[] _reply = new byte[25];
    private readonly byte[] _buffer = new byte[256];
    private InMemoryTransport _left = null!;
    private InMemoryTransport _right = null!;
    private Channel<byte[]> _channel = null!;
    private ChunkQueueReader _chunks = null!;

    [GlobalSetup]
    public void Setup()
    {
        (_left, _right) = InMemoryTransport.CreatePair();
        _channel = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });
        _chunks = new ChunkQueueReader(_channel.Reader);
    }

    [Benchmark(Baseline = true)]
    public async Task<int> ChannelOfChunksBuffered()
    {
        _channel.Writer.TryWrite(_reply.AsSpan().ToArray());
        return await _chunks.ReadAsync(_buffer, _channel.Reader.WaitToReadAsync, CancellationToken.None);
    }

    [Benchmark]
    public async Task<int> ByteQueueBuffered()
    {
        await _left.WriteAsync(_reply, CancellationToken.None);
        return await _right.ReadAsync(_buffer, CancellationToken.None);
    }

    /// <summary>The reader is parked (its continuation registered) before the write: the write wakes it through the pool.</summary>
    [Benchmark]
    public Task<int> ChannelOfChunksWaiting()
    {
        var reader = ReadChunkAsync();
        _channel.Writer.TryWrite(_reply.AsSpan().ToArray());
        return reader;
    }

    [Benchmark]
    public async Task<int> ByteQueueWaiting()
    {
        var reader = ReadRightAsync();
        await _left.WriteAsync(_reply, CancellationToken.None);
        return await reader;
    }

    private async Task<int> ReadChunkAsync() => await _chunks.ReadAsync(_buffer, _channel.Reader.WaitToReadAsync, CancellationToken.None);

    private async Task<int> ReadRightAsync() => await _right.ReadAsync(_buffer, CancellationToken.None);
}
