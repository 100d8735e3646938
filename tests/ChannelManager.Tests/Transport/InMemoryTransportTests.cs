using ChannelManager.Core.Transport;

namespace ChannelManager.Tests.Transport;

/// <summary>InMemoryTransport over ByteQueue (issue 9): the end-of-stream rules the AT engine and simulator rely on.</summary>
public sealed class InMemoryTransportTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task ReadAsync_PeerHangsUpWhileWaiting_DrainsThenReadsZero()
    {
        var (left, right) = InMemoryTransport.CreatePair();
        var buffer = new byte[8];
        var pending = left.ReadAsync(buffer, CancellationToken.None).AsTask();
        await right.WriteAsync("NO CARRIER"u8.ToArray(), CancellationToken.None);
        right.HangUpLink();

        Assert.Equal(8, await pending.WaitAsync(Limit));
        Assert.Equal(2, await left.ReadAsync(buffer, CancellationToken.None));
        Assert.Equal(0, await left.ReadAsync(buffer, CancellationToken.None));
    }

    [Fact]
    public async Task ReadAsync_SeveredWhileWaiting_ThrowsTransportFailure()
    {
        var (left, right) = InMemoryTransport.CreatePair();
        var pending = left.ReadAsync(new byte[8], CancellationToken.None).AsTask();

        right.Sever();

        var ex = await Assert.ThrowsAsync<TransportFailureException>(() => pending.WaitAsync(Limit));
        Assert.Equal(TransportFault.LinkFailed, ex.Fault);
        await Assert.ThrowsAsync<TransportFailureException>(() => right.WriteAsync(new byte[1], CancellationToken.None).AsTask());
    }

    [Fact]
    public async Task ReadAsync_ClosedThenPeerHangsUp_ThrowsNotOpen()
    {
        var (left, right) = InMemoryTransport.CreatePair();
        var pending = left.ReadAsync(new byte[8], CancellationToken.None).AsTask();
        await left.CloseAsync(CancellationToken.None);

        right.HangUpLink();

        var ex = await Assert.ThrowsAsync<TransportFailureException>(() => pending.WaitAsync(Limit));
        Assert.Equal(TransportFault.NotOpen, ex.Fault);
    }

    /// <summary>
    /// Issue 9's CI deadlock: the reader's continuation ran inside the peer's WriteAsync (an inline wake), and code
    /// further up that continuation waited synchronously (WebApplicationFactory's Host.Dispose) for something the
    /// writer would only do after its write returned. The reader must run off the writer's stack.
    /// </summary>
    [Fact]
    public async Task WriteAsync_ReaderContinuationWaitsSynchronouslyForTheWriter_RunsOffTheWritersStack()
    {
        var (left, right) = InMemoryTransport.CreatePair();
        var buffer = new byte[8];
        var pending = left.ReadAsync(buffer, CancellationToken.None);
        Assert.False(pending.IsCompleted);
        using var writeReturned = new ManualResetEventSlim();
        var sawWriteReturn = ReadThenWaitForTheWriterAsync(pending, writeReturned);

        await right.WriteAsync("OK\r\n"u8.ToArray(), CancellationToken.None);
        writeReturned.Set();

        Assert.True(await sawWriteReturn.WaitAsync(Limit), "the reader ran inside the writer's WriteAsync and blocked it");
    }

    private static async Task<bool> ReadThenWaitForTheWriterAsync(ValueTask<int> read, ManualResetEventSlim writeReturned)
    {
        // No captured context (as on the host's threads): xunit's would otherwise take the continuation off the stack.
        await read.ConfigureAwait(false);
        return writeReturned.Wait(TimeSpan.FromSeconds(2));
    }
}
