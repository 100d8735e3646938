using System.Collections.Concurrent;
using ChannelManager.Core;
using ChannelManager.Core.Channels.Persistent;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Scheduling;
using ChannelManager.Host.Hosting;
using ChannelManager.Tests.Channels.Persistent;
using ChannelManager.Tests.Protocols;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;

namespace ChannelManager.Tests.Hosting;

/// <summary>
/// The run host's IP poll loop (issue 7) in virtual time: the PersistentChannel over <see cref="FakeIpNetwork"/>, the
/// event log a substitute <see cref="IStateStore"/>. Polls run at start and every PollInterval on the TimeProvider, each
/// one a TransactionRecord with design.md §3 attribution; a failing store stops the host.
/// </summary>
public sealed class IpOutstationServiceTests : IAsyncDisposable
{
    private static readonly TimeSpan S = TimeSpan.FromSeconds(1);
    private static readonly IReadOnlyList<ProtocolCommand> HeartbeatRead = [new ReadHoldingRegisters(0, 1)];

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 23, 8, 0, 0, TimeSpan.Zero));
    private readonly FakeIpNetwork _net;
    private readonly ConcurrentQueue<TransactionRecord> _log = new();
    private readonly IStateStore _store = Substitute.For<IStateStore>();
    private readonly IHostApplicationLifetime _lifetime = Substitute.For<IHostApplicationLifetime>();
    private readonly ServiceExitState _exit = new();
    private IpOutstationService? _service;

    public IpOutstationServiceTests()
    {
        _net = new FakeIpNetwork(_time) { HeartbeatCommands = HeartbeatRead };
        _store.AppendTransactionAsync(Arg.Do<TransactionRecord>(_log.Enqueue), Arg.Any<CancellationToken>()).Returns(Task.CompletedTask);
    }

    public async ValueTask DisposeAsync()
    {
        if (_service is not null)
        {
            await _service.StopAsync(CancellationToken.None);
            _service.Dispose();
        }
    }

    private async Task<IpOutstation> StartAsync(TimeSpan pollInterval, TimeSpan? maxPollWait = null, ActiveActiveOwnership? ownership = null)
    {
        var settings = new IpOutstationSettings
        {
            Name = "RTU-IP-1",
            Endpoint = "tcp://10.20.0.17:502",
            Reads = [new ReadSettings { Table = ModbusTable.Holding, Start = 0, Count = 10 }],
            PollInterval = pollInterval,
            // Heartbeats far apart: these tests are about the polls.
            Heartbeat = new HeartbeatOptions { Default = 600 * S, Min = 600 * S, Max = 1200 * S, Increment = 60 * S },
            Reconnect = new BackoffOptions { Strategy = BackoffStrategyKind.Linear, Delay = 2 * S, Attempts = 3, AttemptsExceededDelay = 10 * S },
            MaxPollWait = maxPollWait ?? 60 * S,
        };
        var channel = new PersistentChannel(settings.ToChannelOptions(), _net.CreateLink, _net, HeartbeatRead, _time, () => 0.5);
        var outstation = new IpOutstation(settings, settings.Endpoint, channel, [Composition.CreateCommand(settings.Reads[0])]);
        _service = new IpOutstationService(new IpOutstationSet([outstation]), _store, _time, _lifetime, _exit, NullLogger<IpOutstationService>.Instance, standby: null, ownership);
        await _service.StartAsync(CancellationToken.None);
        return outstation;
    }

    [Fact]
    public async Task ExecuteAsync_ConnectedOutstation_PollsAtStartThenEveryPollIntervalIntoTheEventLog()
    {
        var start = _time.GetUtcNow();
        var outstation = await StartAsync(30 * S);
        // The first poll needs no time to pass: it runs as soon as the service has connected.
        Assert.True(await VirtualClock.UntilAsync(() => _log.Count == 1, maxMilliseconds: 10_000));

        Assert.True(await VirtualClock.AdvanceUntilAsync(_time, S, () => _log.Count >= 4));

        var polls = _log.ToList();
        Assert.Equal([0d, 30, 60, 90], polls.Take(4).Select(p => Math.Round((p.StartedAt - start).TotalSeconds)));
        Assert.All(polls, p => Assert.Equal(("RTU-IP-1", "tcp://10.20.0.17:502", OutcomeCode.Success, (string?)null), (p.Outstation, p.Number, p.Code, p.Modem)));
        Assert.All(polls, p => Assert.Empty(p.ModemsTried));
        Assert.True(await VirtualClock.UntilAsync(() => outstation.Snapshot().NextPollAt == start + 120 * S), $"next poll {outstation.Snapshot().NextPollAt}");
        var snapshot = outstation.Snapshot();
        Assert.Equal((true, 4L, 0L, 0L), (snapshot.Connected, snapshot.Polls, snapshot.FailedPolls, snapshot.Reconnects));
        Assert.Equal(600 * S, snapshot.HeartbeatInterval);
    }

    [Fact]
    public async Task ExecuteAsync_ConnectionRefusedBeyondMaxPollWait_TransportFailureCountedAgainstTheChannel()
    {
        _net.RefuseConnects = true;
        var outstation = await StartAsync(30 * S, maxPollWait: 5 * S);

        Assert.True(await VirtualClock.AdvanceUntilAsync(_time, S, () => !_log.IsEmpty));

        var failed = Assert.Single(_log);
        Assert.Equal((OutcomeCode.TransportFailure, FaultAttribution.Modem), (failed.Code, failed.CountedAgainst));
        Assert.Contains("no connection within", failed.RawReply, StringComparison.Ordinal);
        Assert.Equal((1L, 1L, (OutcomeCode?)OutcomeCode.TransportFailure), (outstation.Snapshot().Polls, outstation.Snapshot().FailedPolls, outstation.Snapshot().LastOutcome));

        // The link comes back: the next poll succeeds on the first connect, which is not a reconnect.
        _net.RefuseConnects = false;
        Assert.True(await VirtualClock.AdvanceUntilAsync(_time, S, () => _log.Any(t => t.Code == OutcomeCode.Success)));
        Assert.Equal(0, outstation.Snapshot().Reconnects);
    }

    [Fact]
    public async Task ExecuteAsync_LinkResetUnderAPoll_ReRunAfterReconnectAndRecordedAsOneSuccess()
    {
        var outstation = await StartAsync(30 * S);
        Assert.True(await VirtualClock.UntilAsync(() => _log.Count == 1, maxMilliseconds: 10_000), Describe(outstation));
        _net.Forced.Enqueue(OutcomeCode.ConnectionLost);

        Assert.True(await VirtualClock.AdvanceUntilAsync(_time, S, () => _log.Count == 2));

        var second = _log.ToList()[1];
        Assert.Equal(OutcomeCode.Success, second.Code);
        Assert.True(second.RawReply.Contains("run 2 times", StringComparison.Ordinal), Describe(outstation));
        Assert.Equal((1L, 1L), (outstation.Snapshot().Reconnects, outstation.Snapshot().PollsRerunAfterReconnect));
    }

    private string Describe(IpOutstation outstation) =>
        string.Join("\n", _net.Exchanges.Select(e => $"{e.At:HH:mm:ss} link {e.Link} heartbeat {e.Heartbeat} {e.Code}"))
        + "\n" + string.Join("\n", outstation.Channel.Events.Select(e => $"{e.At:HH:mm:ss} {e.Kind} {e.Detail}"))
        + "\n" + string.Join("\n", _log.Select(t => $"{t.StartedAt:HH:mm:ss} {t.Code} '{t.RawReply}'"));

    [Fact]
    public async Task ExecuteAsync_StoreFails_StopsTheHostWithTheStoreExitCode()
    {
        _store.AppendTransactionAsync(Arg.Any<TransactionRecord>(), Arg.Any<CancellationToken>())
            .Returns(Task.FromException(new StateStoreException(StateStoreFault.Unavailable, "state.db", "disk full")));
        await StartAsync(30 * S);

        Assert.True(await VirtualClock.AdvanceUntilAsync(_time, S, () => _exit.ExitCode == ExitCodes.StoreError));

        Assert.True(await VirtualClock.UntilAsync(() => _lifetime.ReceivedCalls().Any(c => c.GetMethodInfo().Name == nameof(IHostApplicationLifetime.StopApplication))));
    }

    [Fact]
    public async Task ExecuteAsync_ActiveActive_ConnectsOnlyOnTakeClosesOnHandOverAndStartsAgainOnRetake()
    {
        const string Lease = "ip:RTU-IP-1";
        var plan = new OwnershipPlan([], [], shards: 4, ["RTU-IP-1"]);
        var ownership = new ActiveActiveOwnership(plan, Substitute.For<ILeaseStore>(), "fe-a", SharedStorage.Timing(10 * S), _time);
        var outstation = await StartAsync(30 * S, ownership: ownership);

        // Not this host's (yet): no connection, no poll, however long it waits.
        Assert.False(await VirtualClock.AdvanceUntilAsync(_time, S, () => !_net.ConnectAttempts.IsEmpty || !_log.IsEmpty, maxSteps: 90));
        Assert.False(outstation.InUse);

        // Taken: connects and polls at once, then on its grid.
        ownership.Took(Lease, 1, _time.GetTimestamp());
        Assert.True(await VirtualClock.UntilAsync(() => _log.Count == 1 && outstation.Channel.State == PersistentChannelState.Connected, maxMilliseconds: 10_000), Describe(outstation));
        Assert.True(outstation.InUse);
        // Renewed as the ownership loop does (else the safe window closes and the outstation is no longer usable).
        Assert.True(await VirtualClock.AdvanceUntilAsync(_time, S, () => ownership.Renewed(Lease, 1, _time.GetTimestamp()) && _log.Count == 2));

        // Hand-over begins: the channel stops and its link is closed, and only then is it no longer in use.
        ownership.BeginRelease(Lease);
        Assert.True(await VirtualClock.UntilAsync(() => !outstation.InUse, maxMilliseconds: 10_000), Describe(outstation));
        Assert.Equal((0, PersistentChannelState.Stopped), (_net.OpenLinks, outstation.Channel.State));
        var attempts = _net.ConnectAttempts.Count;
        Assert.False(await VirtualClock.AdvanceUntilAsync(_time, S, () => _log.Count > 2 || _net.ConnectAttempts.Count > attempts, maxSteps: 120));
        ownership.Released(Lease);

        // Taken back: a fresh connect (not a reconnect) and the polls go on; the counters span both periods.
        ownership.Took(Lease, 3, _time.GetTimestamp());
        Assert.True(await VirtualClock.UntilAsync(() => _log.Count == 3, maxMilliseconds: 10_000), Describe(outstation));
        Assert.True(outstation.InUse);
        var snapshot = outstation.Snapshot();
        Assert.Equal((true, 3L, 2L, 0L), (snapshot.Connected, snapshot.Polls, snapshot.Connects, snapshot.Reconnects));
        Assert.Equal(2, _net.LinksOpened);
        Assert.Equal(0, _net.OverlappingConnects);
    }
}
