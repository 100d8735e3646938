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
}
