using ChannelManager.Core.Channels;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Scheduling;
using ChannelManager.Host.Hosting;
using ChannelManager.Core;
using ChannelManager.Core.Channels.Persistent;
using ChannelManager.Tests.Channels;
using ChannelManager.Tests.Channels.Persistent;
using ChannelManager.Tests.Protocols;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;

namespace ChannelManager.Tests.Hosting;

/// <summary>
/// The active/active ownership loop on a fake clock and an in-memory lease table with the database's semantics
/// (docs/scale-out.md §6): after every step of every host, no outstation and no modem is usable by two hosts; a joining
/// host gets its share only after the holder let it go; a host that stops renewing (frozen, cut off) stops using its
/// share before a peer can take it, and the peer takes everything within LeaseTime + RetryInterval.
/// </summary>
public sealed class OwnershipServiceTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);
    private static readonly ActiveLeaseOptions Timing = SharedStorage.Timing(TimeSpan.FromSeconds(10));

    private readonly FakeTimeProvider _time = new(T0);
    private readonly MemoryLeases _leases;
    private readonly OwnershipPlan _plan = new(
        [.. Enumerable.Range(0, 50).Select(i => ($"RTU-{i}", (string?)null))],
        [("M1", [], true), ("M2", [], true), ("M3", [], true), ("M4", [], true)],
        shards: 16);

    public OwnershipServiceTests() => _leases = new MemoryLeases(_time);

    [Fact]
    public async Task StepAsync_PeerJoins_ItGetsItsShareOnlyAfterTheHolderLetGoAndNothingIsOwnedTwice()
    {
        var a = NewHost("fe-a");
        await a.StepAsync();
        Assert.Equal(50, a.Ownership.OwnedOutstations);
        Assert.Equal(4, a.Ownership.OwnedModems);

        var b = NewHost("fe-b");
        for (var round = 0; round < 6; round++)
        {
            await b.StepAsync();
            AssertNoneOwnedTwice(a, b);
            AssertLinkClosedBeforeHandOver(from: a, to: b);
            await a.StepAsync();
            AssertNoneOwnedTwice(a, b);
            AssertLinkClosedBeforeHandOver(from: a, to: b);
            _time.Advance(Timing.RetryInterval);
        }

        // fe-a closed the link of exactly the modems it handed over (once each), and kept the others' open.
        Assert.All(_plan.ModemResources, m => Assert.Equal(b.Ownership.IsUsable(m) ? 1 : 0, a.Modems[OwnershipPlan.ModemOf(m)].LinkReleases));

        // Disjoint and covering: every outstation and modem has exactly one owner, and both hosts have a share.
        Assert.All(_plan.ShardOf.Keys, o => Assert.True(a.Ownership.Owns(o) ^ b.Ownership.Owns(o), o));
        Assert.Equal(50, a.Ownership.OwnedOutstations + b.Ownership.OwnedOutstations);
        Assert.Equal((2, 2), (a.Ownership.OwnedModems, b.Ownership.OwnedModems));
        Assert.InRange(a.Ownership.OwnedShards, 6, 10);
        Assert.Equal(ExitCodes.Ok, a.Exit.ExitCode);
    }

    [Fact]
    public async Task StepAsync_HolderStopsRenewing_ItStopsUsingItsShareBeforeThePeerTakesItWithinLeasePlusRetry()
    {
        var a = NewHost("fe-a");
        var b = NewHost("fe-b");
        for (var round = 0; round < 4; round++)
        {
            await a.StepAsync();
            await b.StepAsync();
            _time.Advance(Timing.RetryInterval);
        }

        Assert.True(a.Ownership.OwnedOutstations > 0 && b.Ownership.OwnedOutstations > 0);

        // fe-a freezes (no more steps, no presence): its last renewal was at most RenewInterval + RetryInterval ago.
        var frozenAt = _time.GetUtcNow();
        TimeSpan? tookAll = null;
        while (_time.GetUtcNow() - frozenAt < TimeSpan.FromSeconds(30))
        {
            _time.Advance(TimeSpan.FromMilliseconds(250));
            await b.StepAsync();
            AssertNoneOwnedTwice(a, b);
            if (tookAll is null && b.Ownership.OwnedOutstations == 50 && b.Ownership.OwnedModems == 4)
                tookAll = _time.GetUtcNow() - frozenAt;
        }

        Assert.NotNull(tookAll);
        Assert.True(tookAll <= Timing.LeaseTime + Timing.RetryInterval, $"took {tookAll}");
        Assert.Equal(0, a.Ownership.OwnedOutstations); // its safe window closed long ago
    }

    [Fact]
    public async Task StepAsync_LeaseTakenByAnotherHost_FailStopsWithExitThree()
    {
        var a = NewHost("fe-a");
        await a.StepAsync();

        // fe-a was paused past its leases; fe-x took one meanwhile (as the database allows once it expired).
        _time.Advance(Timing.LeaseTime + TimeSpan.FromSeconds(1));
        Assert.NotNull(await _leases.TryAcquireLeaseAsync("modem:M1", "fe-x", Timing.LeaseTime, CancellationToken.None));
        await a.StepAsync(presence: false);

        Assert.Equal(ExitCodes.StoreError, a.Exit.ExitCode);
        Assert.Equal(0, a.Ownership.OwnedOutstations);
        a.Lifetime.Received().StopApplication();
    }

    private void AssertNoneOwnedTwice(params TestHost[] hosts)
    {
        foreach (var outstation in _plan.ShardOf.Keys)
        {
            Assert.True(hosts.Count(h => h.Ownership.Owns(outstation)) <= 1, $"{outstation} owned by two hosts at {_time.GetUtcNow():O}");
        }

        foreach (var modem in _plan.ModemResources)
        {
            Assert.True(hosts.Count(h => h.Ownership.IsUsable(modem)) <= 1, $"{modem} usable by two hosts at {_time.GetUtcNow():O}");
        }
    }

    /// <summary>A modem usable by the new owner was first closed by the old one (a one-client serial server would refuse it otherwise).</summary>
    private void AssertLinkClosedBeforeHandOver(TestHost from, TestHost to)
    {
        foreach (var modem in _plan.ModemResources.Where(to.Ownership.IsUsable))
        {
            Assert.True(from.Modems[OwnershipPlan.ModemOf(modem)].LinkReleases > 0, $"{modem} usable by {to.Id} while {from.Id} still has its link open");
        }
    }

    [Fact]
    public async Task StepAsync_IpOutstationHandedOver_LeaseReleasedOnlyAfterTheOldOwnersConnectionIsClosed()
    {
        string[] names = [.. Enumerable.Range(0, 4).Select(i => $"IP-{i}")];
        var plan = new OwnershipPlan([("RTU-9000", null)], [("M1", [], true)], shards: 4, names);
        // One outstation, one network: both hosts' channels to it connect through the same fake, which counts overlaps.
        var nets = names.ToDictionary(n => n, _ => new FakeIpNetwork(_time) { HeartbeatCommands = IpHeartbeat });
        var moving = names.Where(n => plan.Assign(["fe-a", "fe-b"])[plan.IpLeaseOf[n]] == "fe-b").ToList();
        Assert.NotEmpty(moving);
        var a = NewHost("fe-a", plan, nets);
        var b = NewHost("fe-b", plan, nets);
        try
        {
            await a.StartIpAsync();
            await b.StartIpAsync();
            await a.StepAsync();
            Assert.True(await VirtualClock.UntilAsync(() => names.All(n => nets[n].OpenLinks == 1), maxMilliseconds: 10_000));
            Assert.Equal(4, a.Ownership.OwnedIpOutstations);

            // fe-b joins while fe-a's connections are slow to close (the FIN not sent yet).
            foreach (var n in moving)
                nets[n].CloseGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            for (var round = 0; round < 5; round++)
            {
                await b.StepAsync();
                await a.StepAsync();
                await VirtualClock.UntilAsync(() => moving.All(n => a.Ip!.Find(n)!.Channel.State == PersistentChannelState.Stopped), maxMilliseconds: 50);
                foreach (var n in moving)
                {
                    // Handed over (no longer fe-a's to poll) but its connection still open: the lease stays fe-a's.
                    Assert.False(a.Ownership.OwnsIp(n) || b.Ownership.OwnsIp(n), n);
                    Assert.Equal(1, nets[n].OpenLinks);
                    Assert.Equal("fe-a", await HolderAsync(plan.IpLeaseOf[n]));
                }

                _time.Advance(Timing.RetryInterval);
            }

            // The connections close: fe-a releases at its next round, fe-b takes at its next and connects — never two at once.
            foreach (var n in moving)
                nets[n].CloseGate!.SetResult();
            Assert.True(await VirtualClock.UntilAsync(() => moving.All(n => !a.Ip!.Find(n)!.InUse), maxMilliseconds: 10_000));
            await a.StepAsync();
            await b.StepAsync();
            Assert.True(await VirtualClock.UntilAsync(() => moving.All(n => b.Ip!.Find(n)!.Channel.State == PersistentChannelState.Connected), maxMilliseconds: 10_000));

            Assert.All(names, n => Assert.True(a.Ownership.OwnsIp(n) ^ b.Ownership.OwnsIp(n), n));
            Assert.All(names, n => Assert.Equal((1, 0), (nets[n].OpenLinks, nets[n].OverlappingConnects)));
            Assert.Equal(names.Length, a.Ownership.OwnedIpOutstations + b.Ownership.OwnedIpOutstations);
            Assert.All(moving, n => Assert.True(b.Ownership.OwnsIp(n), n));
        }
        finally
        {
            // A close still held would hang the stop (and the test run) instead of failing it.
            foreach (var net in nets.Values)
                net.CloseGate?.TrySetResult();
            await a.StopIpAsync().WaitAsync(TimeSpan.FromSeconds(30), TimeProvider.System);
            await b.StopIpAsync().WaitAsync(TimeSpan.FromSeconds(30), TimeProvider.System);
        }
    }

    [Fact]
    public async Task StepAsync_HandOverGivenBackBeforeRelease_OldOwnerUsesItAgainAndReconnects()
    {
        string[] names = [.. Enumerable.Range(0, 4).Select(i => $"IP-{i}")];
        var plan = new OwnershipPlan([("RTU-9000", null)], [("M1", [], true)], shards: 4, names);
        var nets = names.ToDictionary(n => n, _ => new FakeIpNetwork(_time) { HeartbeatCommands = IpHeartbeat });
        var moving = names.Where(n => plan.Assign(["fe-a", "fe-b"])[plan.IpLeaseOf[n]] == "fe-b").ToList();
        var a = NewHost("fe-a", plan, nets);
        var b = NewHost("fe-b", plan, nets);
        try
        {
            await a.StartIpAsync();
            await a.StepAsync();
            Assert.True(await VirtualClock.UntilAsync(() => names.All(n => nets[n].OpenLinks == 1), maxMilliseconds: 10_000));
            foreach (var n in moving)
                nets[n].CloseGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

            // fe-b shows up once, so fe-a begins handing its share over (slowly: the connections are still closing) …
            await b.StepAsync();
            await a.StepAsync();
            Assert.All(moving, n => Assert.False(a.Ownership.OwnsIp(n), n));
            Assert.True(await VirtualClock.UntilAsync(() => moving.All(n => nets[n].ClosesWaiting == 1), maxMilliseconds: 10_000));

            // … and dies before taking anything: once its presence expires the split gives everything back to fe-a.
            var diedAt = _time.GetUtcNow();
            while (_time.GetUtcNow() - diedAt <= Timing.LeaseTime + Timing.RetryInterval)
            {
                _time.Advance(Timing.RetryInterval);
                await a.StepAsync();
            }

            foreach (var n in moving)
                nets[n].CloseGate!.SetResult();

            // fe-a never released those leases: it uses them again, and its channels connect again.
            Assert.All(names, n => Assert.True(a.Ownership.OwnsIp(n), n));
            Assert.True(await VirtualClock.UntilAsync(() => moving.All(n => nets[n].LinksOpened == 2) && names.All(n => a.Ip!.Find(n)!.Channel.State == PersistentChannelState.Connected), maxMilliseconds: 10_000),
                string.Join("; ", names.Select(n => $"{n} owns {a.Ownership.OwnsIp(n)} releasing {a.Ownership.IsReleasing(plan.IpLeaseOf[n])} holds {a.Ownership.Holds(plan.IpLeaseOf[n])} inUse {a.Ip!.Find(n)!.InUse} state {a.Ip!.Find(n)!.Channel.State} links {nets[n].LinksOpened} open {nets[n].OpenLinks} events {string.Join(",", a.Ip!.Find(n)!.Channel.Events.Select(e => e.Kind))}")));
            Assert.All(names, n => Assert.Equal((1, 0), (nets[n].OpenLinks, nets[n].OverlappingConnects)));
            Assert.Equal(names.Length, a.Ownership.OwnedIpOutstations);
            Assert.Equal(ExitCodes.Ok, a.Exit.ExitCode);
        }
        finally
        {
            foreach (var net in nets.Values)
                net.CloseGate?.TrySetResult();
            await a.StopIpAsync().WaitAsync(TimeSpan.FromSeconds(30), TimeProvider.System);
            await b.StopIpAsync().WaitAsync(TimeSpan.FromSeconds(30), TimeProvider.System);
        }
    }

    private static readonly IReadOnlyList<ProtocolCommand> IpHeartbeat = [new ReadHoldingRegisters(0, 1)];

    private async Task<string?> HolderAsync(string resource)
    {
        var snapshot = await _leases.ReadLeasesAsync(CancellationToken.None);
        return snapshot.Live.FirstOrDefault(l => l.Resource == resource)?.Holder;
    }

    private TestHost NewHost(string id, OwnershipPlan? plan = null, Dictionary<string, FakeIpNetwork>? ipNetworks = null)
    {
        var hostPlan = plan ?? _plan;
        var ownership = new ActiveActiveOwnership(hostPlan, _leases, id, Timing, _time);
        var book = new RepeatCallBook(CountryProfiles.UK);
        var scheduler = new PollScheduler(
            hostPlan.ShardOf.Keys.Select(n => new OutstationSchedule(n, "0163296" + n["RTU-".Length..].PadLeft(4, '0'), Substitute.For<IProtocolDriver>(), [new ReadHoldingRegisters(0, 1)], TimeSpan.FromMinutes(15), BackoffPolicy.From(new BackoffOptions()))),
            Substitute.For<IPollExecutor>(),
            book,
            null,
            new SchedulerOptions(),
            _time,
            () => 0.5)
        { Ownership = ownership };
        var modems = hostPlan.ModemResources.Select(r => new FakeModem(OwnershipPlan.ModemOf(r))).ToDictionary(m => m.Name, StringComparer.Ordinal);
        var channels = new ModemChannelManager(modems.Values.Select(m => ((IModemDevice)m, ModemRole.Default)), new ChannelManagerOptions(), _time);
        var exit = new ServiceExitState();
        var lifetime = Substitute.For<IHostApplicationLifetime>();
        IpOutstationSet? ip = null;
        IpOutstationService? ipService = null;
        if (ipNetworks is not null)
        {
            ip = new IpOutstationSet([.. ipNetworks.Select(kv => NewIpOutstation(kv.Key, kv.Value))]);
            var store = Substitute.For<IStateStore>();
            store.AppendTransactionAsync(Arg.Any<TransactionRecord>(), Arg.Any<CancellationToken>()).Returns(Task.CompletedTask);
            ipService = new IpOutstationService(ip, store, _time, lifetime, exit, NullLogger<IpOutstationService>.Instance, standby: null, ownership);
        }

        var service = new OwnershipService(ownership, scheduler, channels, exit, lifetime, _time, NullLogger<OwnershipService>.Instance, ip);
        return new TestHost(id, ownership, service, exit, lifetime, _leases, modems, ip, ipService);
    }

    private IpOutstation NewIpOutstation(string name, FakeIpNetwork net)
    {
        var s = TimeSpan.FromSeconds(1);
        var settings = new IpOutstationSettings
        {
            Name = name,
            Endpoint = "tcp://10.20.0.17:502",
            Reads = [new ReadSettings { Table = ModbusTable.Holding, Start = 0, Count = 2 }],
            PollInterval = 30 * s,
            Heartbeat = new HeartbeatOptions { Default = 600 * s, Min = 600 * s, Max = 1200 * s, Increment = 60 * s },
            Reconnect = new BackoffOptions { Strategy = BackoffStrategyKind.Linear, Delay = 2 * s, Attempts = 3, AttemptsExceededDelay = 10 * s },
        };
        var channel = new PersistentChannel(settings.ToChannelOptions(), net.CreateLink, net, IpHeartbeat, _time, () => 0.5);
        return new IpOutstation(settings, settings.Endpoint, channel, [Composition.CreateCommand(settings.Reads[0])]);
    }

    private sealed class TestHost(string id, ActiveActiveOwnership ownership, OwnershipService service, ServiceExitState exit, IHostApplicationLifetime lifetime, MemoryLeases leases, IReadOnlyDictionary<string, FakeModem> modems, IpOutstationSet? ip = null, IpOutstationService? ipService = null)
    {
        public string Id => id;

        /// <summary>This host's IP outstations (their channels), when the test has some.</summary>
        public IpOutstationSet? Ip { get; } = ip;

        public Task StartIpAsync() => ipService!.StartAsync(CancellationToken.None);

        public async Task StopIpAsync()
        {
            if (ipService is null)
                return;
            await ipService.StopAsync(CancellationToken.None);
            ipService.Dispose();
        }

        /// <summary>This host's devices for the shared modems (each host opens its own connection to every one).</summary>
        public IReadOnlyDictionary<string, FakeModem> Modems { get; } = modems;

        public ActiveActiveOwnership Ownership { get; } = ownership;

        public ServiceExitState Exit { get; } = exit;

        public IHostApplicationLifetime Lifetime { get; } = lifetime;

        /// <summary>One round as the running host does it: renew the presence lease (HostPresence), then the ownership step.</summary>
        public async Task StepAsync(bool presence = true)
        {
            if (presence)
                await leases.TryAcquireLeaseAsync(HostPresence.ResourceOf(id), id, Ownership.Timing.LeaseTime, CancellationToken.None);
            await service.StepAsync(draining: false, CancellationToken.None);
        }
    }

    /// <summary>The lease table's rules (PostgresStateStore.Leases): free, expired or own → granted; a change of hands bumps the epoch.</summary>
    private sealed class MemoryLeases(TimeProvider time) : ILeaseStore
    {
        private readonly Dictionary<string, LeaseRecord> _rows = new(StringComparer.Ordinal);

        public Task<LeaseGrant?> TryAcquireLeaseAsync(string resource, string holder, TimeSpan duration, CancellationToken cancellationToken)
        {
            var now = time.GetUtcNow();
            lock (_rows)
            {
                if (!_rows.TryGetValue(resource, out var row))
                {
                    _rows[resource] = new LeaseRecord(resource, holder, 1, now + duration);
                    return Task.FromResult<LeaseGrant?>(new LeaseGrant(resource, holder, 1, now + duration, null));
                }

                var renewal = row.Holder == holder;
                if (!renewal && row.ExpiresAt > now)
                    return Task.FromResult<LeaseGrant?>(null);
                var epoch = renewal ? row.Epoch : row.Epoch + 1;
                _rows[resource] = new LeaseRecord(resource, holder, epoch, now + duration);
                return Task.FromResult<LeaseGrant?>(new LeaseGrant(resource, holder, epoch, now + duration, renewal ? null : row.Holder));
            }
        }

        public Task<bool> ReleaseLeaseAsync(string resource, string holder, CancellationToken cancellationToken)
        {
            lock (_rows)
            {
                if (!_rows.TryGetValue(resource, out var row) || row.Holder != holder)
                    return Task.FromResult(false);
                _rows[resource] = row with { ExpiresAt = time.GetUtcNow() };
                return Task.FromResult(true);
            }
        }

        public Task<LeaseSnapshot> ReadLeasesAsync(CancellationToken cancellationToken)
        {
            lock (_rows)
            {
                return Task.FromResult(new LeaseSnapshot(time.GetUtcNow(), [.. _rows.Values]));
            }
        }
    }
}
