using ChannelManager.Core.Transport;
using Microsoft.Extensions.Time.Testing;

namespace ChannelManager.Tests.Transport;

/// <summary>The reusable reply deadline of the AT engine and the Modbus RTU master (issue 9).</summary>
public sealed class CommandDeadlineTests
{
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    [Fact]
    public void Start_TimeoutPasses_TokenCancelledAtTheDeadlineAndNotBefore()
    {
        var time = new FakeTimeProvider();
        using var deadline = new CommandDeadline(time);

        var token = deadline.Start(Second, CancellationToken.None);
        time.Advance(Second - TimeSpan.FromTicks(1));
        Assert.False(token.IsCancellationRequested);
        time.Advance(TimeSpan.FromTicks(1));

        Assert.True(token.IsCancellationRequested);
    }

    [Fact]
    public void Stop_BeforeTheDeadline_TheOldTimerNeverCancelsTheNextCommand()
    {
        var time = new FakeTimeProvider();
        using var deadline = new CommandDeadline(time);

        var first = deadline.Start(Second, CancellationToken.None);
        time.Advance(TimeSpan.FromMilliseconds(900));
        deadline.Stop();
        var second = deadline.Start(TimeSpan.FromSeconds(5), CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(4));

        Assert.False(first.IsCancellationRequested);
        Assert.False(second.IsCancellationRequested);
        time.Advance(Second);
        Assert.True(second.IsCancellationRequested);
    }

    [Fact]
    public void Start_AfterATimeout_GivesAFreshToken()
    {
        var time = new FakeTimeProvider();
        using var deadline = new CommandDeadline(time);

        var first = deadline.Start(Second, CancellationToken.None);
        time.Advance(Second);
        deadline.Stop();
        var second = deadline.Start(Second, CancellationToken.None);

        Assert.True(first.IsCancellationRequested);
        Assert.False(second.IsCancellationRequested);
    }

    [Fact]
    public void Start_CallerCancels_TokenCancelledAtOnce_AndACallerCancelAfterStopReachesNothing()
    {
        var time = new FakeTimeProvider();
        using var deadline = new CommandDeadline(time);
        using var poll = new CancellationTokenSource();
        using var later = new CancellationTokenSource();

        var token = deadline.Start(TimeSpan.FromMinutes(1), poll.Token);
        poll.Cancel();
        Assert.True(token.IsCancellationRequested);
        deadline.Stop();

        var next = deadline.Start(Second, later.Token);
        deadline.Stop();
        later.Cancel();
        var third = deadline.Start(Second, CancellationToken.None);
        Assert.False(next.IsCancellationRequested);
        Assert.False(third.IsCancellationRequested);
    }

    [Fact]
    public void Start_CallerAlreadyCancelled_TokenCancelled()
    {
        using var deadline = new CommandDeadline(new FakeTimeProvider());

        var token = deadline.Start(Second, new CancellationToken(canceled: true));

        Assert.True(token.IsCancellationRequested);
    }

    [Fact]
    public void Extend_MovesTheDeadlineFromNow()
    {
        var time = new FakeTimeProvider();
        using var deadline = new CommandDeadline(time);

        var token = deadline.Start(Second, CancellationToken.None);
        time.Advance(TimeSpan.FromMilliseconds(800));
        deadline.Extend(TimeSpan.FromMilliseconds(500));
        time.Advance(TimeSpan.FromMilliseconds(400));
        Assert.False(token.IsCancellationRequested);
        time.Advance(TimeSpan.FromMilliseconds(100));

        Assert.True(token.IsCancellationRequested);
    }

    [Fact]
    public void TimerFiresBeforeTheDueTime_StaleFiringIgnoredAndTheRestWaitedOut()
    {
        // A system timer's callback can be queued already when Start or Extend re-arms it; this clock fires its timers
        // on demand to play that stale callback.
        var time = new ManualTimerClock();
        using var deadline = new CommandDeadline(time);

        var token = deadline.Start(Second, CancellationToken.None);
        time.Now += TimeSpan.FromMilliseconds(300);
        time.FireAll();
        Assert.False(token.IsCancellationRequested);
        Assert.Equal(TimeSpan.FromMilliseconds(700), time.LastDue);

        time.Now += TimeSpan.FromMilliseconds(700);
        time.FireAll();
        Assert.True(token.IsCancellationRequested);
    }

    [Fact]
    public void Start_WhileRunning_Throws()
    {
        using var deadline = new CommandDeadline(new FakeTimeProvider());
        deadline.Start(Second, CancellationToken.None);

        Assert.Throws<InvalidOperationException>(() => deadline.Start(Second, CancellationToken.None));
    }

    private sealed class ManualTimerClock : TimeProvider
    {
        private readonly List<(TimerCallback Callback, object? State)> _timers = [];

        public TimeSpan Now { get; set; }

        public TimeSpan LastDue { get; private set; }

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Now.Ticks;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            _timers.Add((callback, state));
            return new Timer(this);
        }

        public void FireAll()
        {
            foreach (var (callback, state) in _timers)
            {
                callback(state);
            }
        }

        private sealed class Timer(ManualTimerClock clock) : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period)
            {
                if (dueTime != Timeout.InfiniteTimeSpan)
                {
                    clock.LastDue = dueTime;
                }

                return true;
            }

            public void Dispose()
            {
            }

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }
}
