using ChannelManager.Core.Transport;

namespace ChannelManager.Tests.Transport;

/// <summary>The AT engine's reply-line queue and the simulated modem's event queue (issue 9).</summary>
public sealed class SingleReaderInboxTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    [Fact]
    public void WaitToReadAsync_ItemQueued_TrueAtOnceAndItemsComeOutInOrder()
    {
        var inbox = new SingleReaderInbox<string>();
        Assert.True(inbox.TryWrite("OK"));
        Assert.True(inbox.TryWrite("RING"));

        Assert.True(Completed(inbox.WaitToReadAsync(CancellationToken.None)));
        Assert.Equal(2, inbox.Count);
        Assert.True(inbox.TryRead(out var first) && first == "OK");
        Assert.True(inbox.TryRead(out var second) && second == "RING");
        Assert.False(inbox.TryRead(out _));
    }

    [Fact]
    public async Task WaitToReadAsync_Waiting_TryWriteWakesTheReaderOffTheWritersStack()
    {
        var inbox = new SingleReaderInbox<int>();
        var wait = inbox.WaitToReadAsync(CancellationToken.None).AsTask();
        Assert.False(wait.IsCompleted);
        var inWrite = false;
        var ranInsideWrite = wait.ContinueWith(_ => inWrite, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

        inWrite = true;
        inbox.TryWrite(7);
        inWrite = false;

        Assert.False(await ranInsideWrite.WaitAsync(Limit));
        Assert.True(await wait);
    }

    [Fact]
    public async Task Complete_ReaderWaitingOrDraining_FalseOnceEmptyAndWritesRefused()
    {
        var inbox = new SingleReaderInbox<int>();
        var wait = inbox.WaitToReadAsync(CancellationToken.None).AsTask();
        inbox.Complete();
        Assert.False(await wait.WaitAsync(Limit));
        Assert.False(inbox.TryWrite(1));

        var draining = new SingleReaderInbox<int>();
        draining.TryWrite(5);
        draining.Complete();
        Assert.True(await draining.WaitToReadAsync(CancellationToken.None));
        Assert.True(draining.TryRead(out var five) && five == 5);
        Assert.False(await draining.WaitToReadAsync(CancellationToken.None));
    }

    [Fact]
    public async Task WaitToReadAsync_Cancelled_ThrowsAndALaterWaitSeesNewItems()
    {
        var inbox = new SingleReaderInbox<int>();
        using var cts = new CancellationTokenSource();
        var wait = inbox.WaitToReadAsync(cts.Token).AsTask();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait.WaitAsync(Limit));

        Assert.True(inbox.WaitToReadAsync(new CancellationToken(canceled: true)).AsTask().IsCanceled);   // cancellation first, as Channel<T>
        inbox.TryWrite(3);
        Assert.True(await inbox.WaitToReadAsync(CancellationToken.None));
    }

    [Fact]
    public void WaitToReadAsync_SecondWaiter_Throws()
    {
        var inbox = new SingleReaderInbox<int>();
        var first = inbox.WaitToReadAsync(CancellationToken.None).AsTask();

        Assert.Throws<InvalidOperationException>(() => { _ = inbox.WaitToReadAsync(CancellationToken.None).AsTask(); });
        Assert.False(first.IsCompleted);
    }
    /// <summary>The result of a read that must have completed synchronously.</summary>
    private static bool Completed(ValueTask<bool> pending)
    {
        Assert.True(pending.IsCompletedSuccessfully, "expected a synchronous completion");
        return pending.IsCompletedSuccessfully ? pending.Result : default;
    }
}
