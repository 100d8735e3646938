using ChannelManager.Core.Transport;

namespace ChannelManager.Tests.Transport;

/// <summary>The in-memory transport's receive queue (issue 9): synchronous reads of buffered bytes, pooled waits.</summary>
public sealed class ByteQueueTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    [Fact]
    public void ReadAsync_BytesBuffered_CompletesSynchronouslyWithAllWritesCoalesced()
    {
        var queue = new ByteQueue();
        queue.Write("AT"u8);
        queue.Write("\r\n"u8);
        var buffer = new byte[16];

        var n = Completed(queue.ReadAsync(buffer, CancellationToken.None));

        Assert.Equal("AT\r\n"u8.ToArray(), buffer[..n]);
    }

    [Fact]
    public void ReadAsync_ShortBuffer_KeepsTheRestInOrder()
    {
        var queue = new ByteQueue();
        queue.Write("ABCDE"u8);
        var buffer = new byte[2];

        Assert.Equal(2, Completed(queue.ReadAsync(buffer, CancellationToken.None)));
        Assert.Equal("AB"u8.ToArray(), buffer);
        queue.Write("F"u8);
        var rest = new byte[8];
        var n = Completed(queue.ReadAsync(rest, CancellationToken.None));
        Assert.Equal("CDEF"u8.ToArray(), rest[..n]);
        Assert.Equal(0, queue.Buffered);
    }

    [Fact]
    public async Task ReadAsync_Waiting_WriterHandsTheBytesOverWithoutRunningTheReaderOnItsStack()
    {
        var queue = new ByteQueue();
        var buffer = new byte[4];
        var read = queue.ReadAsync(buffer, CancellationToken.None).AsTask();
        Assert.False(read.IsCompleted);
        var inWrite = false;
        var ranInsideWrite = read.ContinueWith(_ => inWrite, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

        inWrite = true;
        queue.Write("OK\r\n!"u8);
        inWrite = false;

        Assert.False(await ranInsideWrite.WaitAsync(Limit));
        Assert.Equal(4, await read);
        Assert.Equal("OK\r\n"u8.ToArray(), buffer);
        Assert.Equal(1, queue.Buffered);   // what did not fit waits for the next read
    }

    [Fact]
    public async Task Complete_WhileWaitingOrAfterData_DrainsThenReadsZeroAndCallsOnEnd()
    {
        var ends = 0;
        var queue = new ByteQueue(() => ends++);
        var buffer = new byte[8];
        var waiting = queue.ReadAsync(buffer, CancellationToken.None).AsTask();
        queue.Complete();
        Assert.Equal(0, await waiting.WaitAsync(Limit));
        Assert.Equal(1, ends);

        var drained = new ByteQueue(() => ends++);
        drained.Write("X"u8);
        drained.Complete();
        drained.Write("lost"u8);   // after the end of the stream: dropped, as on a dead line
        Assert.Equal(1, Completed(drained.ReadAsync(buffer, CancellationToken.None)));
        Assert.Equal(0, Completed(drained.ReadAsync(buffer, CancellationToken.None)));
        Assert.Equal(2, ends);
    }

    [Fact]
    public async Task ReadAsync_EndOfStreamHookThrows_TheReadFails()
    {
        var queue = new ByteQueue(() => throw new TransportFailureException(TransportFault.LinkFailed, "mem:test", "link severed"));
        var waiting = queue.ReadAsync(new byte[4], CancellationToken.None).AsTask();
        queue.Complete();

        await Assert.ThrowsAsync<TransportFailureException>(() => waiting.WaitAsync(Limit));
    }

    [Fact]
    public async Task ReadAsync_CancelledWhileWaiting_ThrowsAndTheNextReadStillWorks()
    {
        var queue = new ByteQueue();
        using var cts = new CancellationTokenSource();
        var waiting = queue.ReadAsync(new byte[4], cts.Token).AsTask();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(Limit));
        queue.Write("Z"u8);
        Assert.Equal(1, Completed(queue.ReadAsync(new byte[4], CancellationToken.None)));
    }

    [Fact]
    public void ReadAsync_TokenAlreadyCancelled_FailsEvenWithBytesBuffered()
    {
        // As the channel it replaced: a read whose deadline has passed times out rather than taking late bytes.
        var queue = new ByteQueue();
        queue.Write("late"u8);

        var read = queue.ReadAsync(new byte[4], new CancellationToken(canceled: true)).AsTask();

        Assert.True(read.IsCanceled);
        Assert.Equal(4, queue.Buffered);
    }

    [Fact]
    public void ReadAsync_SecondReadWhileOneWaits_Throws()
    {
        var queue = new ByteQueue();
        var first = queue.ReadAsync(new byte[4], CancellationToken.None).AsTask();

        Assert.Throws<InvalidOperationException>(() => { _ = queue.ReadAsync(new byte[4], CancellationToken.None).AsTask(); });
        Assert.False(first.IsCompleted);
    }
    /// <summary>The result of a read that must have completed synchronously.</summary>
    private static int Completed(ValueTask<int> pending)
    {
        Assert.True(pending.IsCompletedSuccessfully, "expected a synchronous completion");
        return pending.IsCompletedSuccessfully ? pending.Result : default;
    }
}
