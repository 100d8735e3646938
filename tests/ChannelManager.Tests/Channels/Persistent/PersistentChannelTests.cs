using ChannelManager.Core;
using ChannelManager.Core.Channels.Persistent;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Scheduling;
using ChannelManager.Tests.Protocols;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;

namespace ChannelManager.Tests.Channels.Persistent;

/// <summary>The always-connected channel in virtual time against <see cref="FakeIpNetwork"/> (issue 7 items 1-3).</summary>
public sealed class PersistentChannelTests : IAsyncDisposable
{
    private static readonly TimeSpan S = TimeSpan.FromSeconds(1);
    private static readonly IReadOnlyList<ProtocolCommand> Poll = [new ReadHoldingRegisters(0, 10)];
    private static readonly IReadOnlyList<ProtocolCommand> HeartbeatRead = [new ReadHoldingRegisters(0, 1)];

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 23, 8, 0, 0, TimeSpan.Zero));
    private readonly FakeIpNetwork _net;
    private PersistentChannel? _channel;

    public PersistentChannelTests()
    {
        _net = new FakeIpNetwork(_time) { HeartbeatCommands = HeartbeatRead };
    }

    public async ValueTask DisposeAsync()
    {
        if (_channel is not null)
            await _channel.DisposeAsync();
    }

    private static PersistentChannelOptions Options(BackoffOptions? reconnect = null) => new()
    {
        Name = "RTU-IP-1",
        Heartbeat = new HeartbeatOptions { Default = 10 * S, Min = 10 * S, Increment = 5 * S, Max = 40 * S, SuccessesBeforeRaise = 1, ReprobeAfterSuccesses = null },
        Reconnect = reconnect ?? new BackoffOptions { Strategy = BackoffStrategyKind.Linear, Delay = 2 * S, Attempts = 3, AttemptsExceededDelay = 10 * S },
        MaxPollWait = 60 * S,
    };

    private async Task<PersistentChannel> StartAsync(PersistentChannelOptions? options = null, IHeartbeatStore? store = null, Func<double>? random = null)
    {
        _channel = new PersistentChannel(options ?? Options(), _net.CreateLink, _net, HeartbeatRead, _time, random ?? (() => 0.5), store);
        await _channel.StartAsync(CancellationToken.None);
        Assert.True(await VirtualClock.UntilAsync(() => _channel.State == PersistentChannelState.Connected || !_net.ConnectAttempts.IsEmpty));
        return _channel;
    }

    private Task<bool> AdvanceUntil(Func<bool> condition, int maxSteps = 2000) => VirtualClock.AdvanceUntilAsync(_time, S, condition, maxSteps);

    [Fact]
    public async Task StartAsync_IdleLink_HeartbeatAfterIntervalAndIntervalGrows()
    {
        var channel = await StartAsync();
        Assert.True(await VirtualClock.UntilAsync(() => channel.State == PersistentChannelState.Connected));

        Assert.True(await AdvanceUntil(() => _net.HeartbeatsAnswered >= 2));

        var beats = _net.Exchanges.Where(e => e.Heartbeat).ToList();
        Assert.InRange(beats[0].IdleBefore, 10 * S, 11 * S);   // Default 10 s
        Assert.InRange(beats[1].IdleBefore, 15 * S, 16 * S);   // + Increment after a success
        Assert.Equal(20 * S, channel.Heartbeat.Interval);
        Assert.Equal(1, _net.LinksOpened);
    }

    [Fact]
    public async Task Heartbeat_SilentDropThenAnsweredOnNewLink_ReconnectsAndLowersInterval()
    {
        _net.NatIdleTimeout = 18 * S;
        var channel = await StartAsync();

        Assert.True(await AdvanceUntil(() => channel.Count(ChannelEventKind.SilentDropConfirmed) == 1));

        // 10 ok, 15 ok, 20 silently dropped → reconnect → answered → back to 15, 20 remembered.
        Assert.Equal(15 * S, channel.Heartbeat.Interval);
        Assert.Equal(20 * S, channel.Heartbeat.LastFailed);
        Assert.Equal(2, _net.LinksOpened);
        Assert.Equal(1, channel.Count(ChannelEventKind.SilentDropSuspected));

        // And it stays there: more cycles, no further drops, no raise to 20 again.
        Assert.True(await AdvanceUntil(() => _net.HeartbeatsAnswered >= 10));
        Assert.Equal(15 * S, channel.Heartbeat.Interval);
        Assert.Equal(2, _net.LinksOpened);
    }

    [Fact]
    public async Task Heartbeat_NoReplyOnNewLinkEither_OutstationBlamedAndIntervalUnchanged()
    {
        var channel = await StartAsync();
        Assert.True(await AdvanceUntil(() => _net.HeartbeatsAnswered == 1));   // 10 → 15
        _net.OutstationSilent = true;

        Assert.True(await AdvanceUntil(() => channel.Count(ChannelEventKind.OutstationNotAnswering) == 1));

        Assert.Equal(15 * S, channel.Heartbeat.Interval);
        Assert.Null(channel.Heartbeat.LastFailed);
        Assert.Equal(2, _net.LinksOpened);
    }

    [Fact]
    public async Task Heartbeat_ConnectionReset_KnownCauseIntervalUnchangedAndReconnects()
    {
        var channel = await StartAsync();
        Assert.True(await AdvanceUntil(() => _net.HeartbeatsAnswered == 1));
        var before = channel.Heartbeat;
        _net.Forced.Enqueue(OutcomeCode.ConnectionLost);

        Assert.True(await AdvanceUntil(() => _net.LinksOpened == 2));

        Assert.Equal(before, channel.Heartbeat);
        Assert.Equal(1, channel.Count(ChannelEventKind.ConnectionLost));
    }

    [Fact]
    public async Task PollAsync_LinkDropsUnderReadPoll_RunAgainAfterReconnectNotLost()
    {
        var channel = await StartAsync();
        Assert.True(await VirtualClock.UntilAsync(() => channel.State == PersistentChannelState.Connected));
        _net.Forced.Enqueue(OutcomeCode.ConnectionLost);

        var result = await VirtualClock.RunAsync(channel.PollAsync(Poll, CancellationToken.None), _time, S);

        Assert.Equal(OutcomeCode.Success, result.Code);
        Assert.True(result.RetriedAfterReconnect);
        Assert.Equal(2, result.Runs);
        Assert.Equal(2, _net.LinksOpened);
        Assert.Equal(new ushort[] { 42 }, result.Protocol?.Commands[0].Registers);
    }

    [Fact]
    public async Task PollAsync_SilentDropUnderReadPoll_RetriedAndIntervalNotChargedForShortIdle()
    {
        _net.NatIdleTimeout = 5 * S;   // below Min: every idle link dies before its first heartbeat
        var channel = await StartAsync();
        Assert.True(await VirtualClock.UntilAsync(() => channel.State == PersistentChannelState.Connected));
        _time.Advance(6 * S);

        var result = await VirtualClock.RunAsync(channel.PollAsync(Poll, CancellationToken.None), _time, TimeSpan.FromMilliseconds(10));

        Assert.Equal(OutcomeCode.Success, result.Code);
        Assert.Equal(2, result.Runs);
        Assert.Equal(1, channel.Count(ChannelEventKind.SilentDropConfirmed));
        // 6 s of silence is less than the 10 s interval: the drop is not the heartbeat's to learn from.
        Assert.Equal(10 * S, channel.Heartbeat.Interval);
        Assert.Null(channel.Heartbeat.LastFailed);
    }

    [Fact]
    public async Task PollAsync_LinkDropsUnderWritePoll_TypedOutcomeNotReRun()
    {
        var channel = await StartAsync();
        Assert.True(await VirtualClock.UntilAsync(() => channel.State == PersistentChannelState.Connected));
        _net.Forced.Enqueue(OutcomeCode.ConnectionLost);

        var result = await VirtualClock.RunAsync(channel.PollAsync([new WriteSingleRegister(1, 7)], CancellationToken.None), _time, S);

        Assert.Equal(OutcomeCode.ConnectionLost, result.Code);
        Assert.Equal(1, result.Runs);
        Assert.Equal(FaultAttribution.Outstation, result.CountedAgainst);
        Assert.Contains("not re-run", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PollAsync_OutstationNeverAnswers_CommandTimeoutCountedAgainstOutstation()
    {
        _net.OutstationSilent = true;
        var channel = await StartAsync();
        Assert.True(await VirtualClock.UntilAsync(() => channel.State == PersistentChannelState.Connected));

        var result = await VirtualClock.RunAsync(channel.PollAsync(Poll, CancellationToken.None), _time, S);

        Assert.Equal(OutcomeCode.CommandTimeout, result.Code);
        Assert.Equal(FaultAttribution.Outstation, result.CountedAgainst);
        Assert.Equal(2, result.Runs);   // once on the old link, once on a fresh one to rule out the path
        Assert.Equal(1, channel.Count(ChannelEventKind.OutstationNotAnswering));
        Assert.Equal(10 * S, channel.Heartbeat.Interval);
        Assert.Null(channel.Heartbeat.LastFailed);
    }

    [Fact]
    public async Task Reconnect_LinearStrategyConnectRefused_DelaysFollowSeed002AndPollGetsTransportFailure()
    {
        _net.RefuseConnects = true;
        var channel = await StartAsync();

        var result = await VirtualClock.RunAsync(channel.PollAsync(Poll, CancellationToken.None), _time, S, maxSteps: 200);

        Assert.Equal(OutcomeCode.TransportFailure, result.Code);
        Assert.Equal(FaultAttribution.Modem, result.CountedAgainst);   // the channel/link, never the outstation
        Assert.Contains("connection refused", result.Detail, StringComparison.Ordinal);
        var delays = channel.Events.Where(e => e.Kind == ChannelEventKind.ReconnectScheduled).Select(e => e.Detail.Split(' ')[0]).ToList();
        // Linear, Delay 2 s, Attempts 3: failures 1-2 wait 2 s, then AttemptsExceededDelay 10 s for ever.
        Assert.Equal(["2000", "2000", "10000", "10000"], delays.Take(4));
        var attempts = _net.ConnectAttempts.ToArray();
        Assert.True(attempts[1] - attempts[0] >= 2 * S && attempts[3] - attempts[2] >= 10 * S);
    }

    [Fact]
    public async Task Reconnect_SuccessfulConnect_ResetsTheStrategy()
    {
        var options = Options(new BackoffOptions { Strategy = BackoffStrategyKind.ExponentialRandomized, Delay = S, Attempts = 5 });
        _net.RefuseConnects = true;
        var channel = await StartAsync(options, random: () => 1.0);
        Assert.True(await AdvanceUntil(() => channel.Count(ChannelEventKind.ReconnectScheduled) >= 3));
        _net.RefuseConnects = false;
        Assert.True(await AdvanceUntil(() => channel.State == PersistentChannelState.Connected));
        _net.RefuseConnects = true;
        _net.Forced.Enqueue(OutcomeCode.ConnectionLost);

        Assert.True(await AdvanceUntil(() => channel.Count(ChannelEventKind.ReconnectScheduled) >= 4));

        var delays = channel.Events.Where(e => e.Kind == ChannelEventKind.ReconnectScheduled).Select(e => e.Detail.Split(' ')[0]).ToList();
        // Seed 002: 2^i·Delay (r = 1 takes the top of the window) — 2, 4, 8 s; after the connect, back to 2 s.
        Assert.Equal(["2000", "4000", "8000", "2000"], delays.Take(4));
    }

    [Fact]
    public async Task Reconnect_NoneStrategy_GivesUpAndNextPollTriggersOneConnect()
    {
        var options = Options(new BackoffOptions { Strategy = BackoffStrategyKind.None });
        _net.RefuseConnects = true;
        var channel = await StartAsync(options);
        Assert.True(await VirtualClock.UntilAsync(() => channel.State == PersistentChannelState.Down));

        var refused = await VirtualClock.RunAsync(channel.PollAsync(Poll, CancellationToken.None), _time, S);
        _net.RefuseConnects = false;
        var served = await VirtualClock.RunAsync(channel.PollAsync(Poll, CancellationToken.None), _time, S);

        Assert.Equal(OutcomeCode.TransportFailure, refused.Code);
        Assert.Equal(OutcomeCode.Success, served.Code);
        Assert.Equal(3, _net.ConnectAttempts.Count);   // start, first poll, second poll: no time-driven attempts
    }

    [Fact]
    public async Task StartAsync_LearnedHeartbeatInStore_ResumedAndChangesSaved()
    {
        var store = Substitute.For<IHeartbeatStore>();
        store.LoadHeartbeatAsync("RTU-IP-1", Arg.Any<CancellationToken>())
            .Returns(new LearnedHeartbeat(25 * S, 30 * S, _time.GetUtcNow()));
        var channel = await StartAsync(store: store);

        Assert.Equal(25 * S, channel.Heartbeat.Interval);
        Assert.True(channel.Heartbeat.IsSettled);
        _net.NatIdleTimeout = 22 * S;   // the NAT got stricter since the last run
        Assert.True(await AdvanceUntil(() => channel.Count(ChannelEventKind.SilentDropConfirmed) == 1));

        await store.Received().SaveHeartbeatAsync("RTU-IP-1", Arg.Is<LearnedHeartbeat>(h => h.Interval == 20 * S && h.LastFailed == 25 * S), Arg.Any<CancellationToken>());
    }

    [Fact]
    public async Task Channel_NatInVirtualTimeIssue7Figures_SettlesInXMinusIncrementToX()
    {
        var minute = TimeSpan.FromMinutes(1);
        var options = Options();
        options.Heartbeat = new HeartbeatOptions { Default = 8 * minute, Min = 8 * minute, Max = 28 * minute, Increment = 5 * minute, SuccessesBeforeRaise = 1, ReprobeAfterSuccesses = null };
        _net.NatIdleTimeout = 22 * minute;
        var channel = await StartAsync(options);

        Assert.True(await VirtualClock.AdvanceUntilAsync(_time, 10 * S, () => _net.HeartbeatsAnswered >= 8, maxSteps: 20_000));

        // 8, 13, 18 ok; 23 dropped → 18, remembered 23: in [22 − 5, 22).
        Assert.Equal(18 * minute, channel.Heartbeat.Interval);
        Assert.Equal(23 * minute, channel.Heartbeat.LastFailed);
        Assert.Equal(1, channel.Count(ChannelEventKind.SilentDropConfirmed));
    }

    [Fact]
    public async Task PollAsync_DriverRejectsCommands_CallerGetsExceptionAndChannelKeepsServing()
    {
        var channel = await StartAsync();
        Assert.True(await VirtualClock.UntilAsync(() => channel.State == PersistentChannelState.Connected));
        _net.ThrowNext = new ArgumentException("Command 0 is not a Modbus command.");

        await Assert.ThrowsAsync<ArgumentException>(() => VirtualClock.RunAsync(channel.PollAsync(Poll, CancellationToken.None), _time, S));
        var next = await VirtualClock.RunAsync(channel.PollAsync(Poll, CancellationToken.None), _time, S);

        Assert.Equal(OutcomeCode.Success, next.Code);
    }

    [Fact]
    public void Constructor_BadReconnectStrategy_ArgumentExceptionWithPath()
    {
        var options = Options(new BackoffOptions { Strategy = BackoffStrategyKind.RedialCycle });

        var errors = options.Validate("Outstations[4]");

        Assert.Contains(errors, e => e.Path == "Outstations[4].Reconnect.Strategy");
        Assert.Throws<ArgumentException>(() => new PersistentChannel(options, _net.CreateLink, _net, HeartbeatRead, _time));
    }

    [Fact]
    public async Task StopAsync_ConnectedLink_ClosesItAndStartAsyncConnectsAgainCountingNoReconnect()
    {
        var channel = await StartAsync();
        Assert.True(await VirtualClock.UntilAsync(() => channel.State == PersistentChannelState.Connected));
        Assert.Equal(OutcomeCode.Success, (await VirtualClock.RunAsync(channel.PollAsync(Poll, CancellationToken.None), _time, S)).Code);

        await channel.StopAsync();

        // Closed when StopAsync returns (an active/active host releases the lease right after).
        Assert.Equal((PersistentChannelState.Stopped, 0, false), (channel.State, _net.OpenLinks, channel.IsRunning));
        Assert.Equal(1, channel.Count(ChannelEventKind.Stopped));

        await channel.StartAsync(CancellationToken.None);
        Assert.True(await VirtualClock.UntilAsync(() => channel.State == PersistentChannelState.Connected));
        Assert.Equal(OutcomeCode.Success, (await VirtualClock.RunAsync(channel.PollAsync(Poll, CancellationToken.None), _time, S)).Code);
        // A second period's first connect is a connect, not a reconnect; a drop inside the period is one.
        Assert.Equal((2, 1, 2L, 0L), (_net.LinksOpened, _net.OpenLinks, channel.Connects, channel.Reconnects));
        _net.Forced.Enqueue(OutcomeCode.ConnectionLost);
        Assert.Equal(OutcomeCode.Success, (await VirtualClock.RunAsync(channel.PollAsync(Poll, CancellationToken.None), _time, S)).Code);
        Assert.Equal((3L, 1L), (channel.Connects, channel.Reconnects));
    }

    [Fact]
    public async Task StopAsync_PollWaitingForAConnection_EndsCancelledAndStartTwiceIsRefused()
    {
        _net.RefuseConnects = true;
        var channel = await StartAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => channel.StartAsync(CancellationToken.None));
        var poll = channel.PollAsync(Poll, CancellationToken.None);
        _time.Advance(3 * S);
        Assert.False(poll.IsCompleted);

        await channel.StopAsync();

        var result = await poll.WaitAsync(TimeSpan.FromSeconds(10), TimeProvider.System);
        Assert.Equal(OutcomeCode.Cancelled, result.Code);
        Assert.Equal(PersistentChannelState.Stopped, channel.State);
        // Stopped, not disposed: a later start serves polls again.
        _net.RefuseConnects = false;
        await channel.StartAsync(CancellationToken.None);
        Assert.Equal(OutcomeCode.Success, (await VirtualClock.RunAsync(channel.PollAsync(Poll, CancellationToken.None), _time, S)).Code);
    }
}
