using ChannelManager.Core.Channels;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Scheduling;
using ChannelManager.Host.Hosting;
using ChannelManager.Tests.Channels;
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

    private TestHost NewHost(string id)
    {
        var ownership = new ActiveActiveOwnership(_plan, _leases, id, Timing, _time);
        var book = new RepeatCallBook(CountryProfiles.UK);
        var scheduler = new PollScheduler(
            _plan.ShardOf.Keys.Select(n => new OutstationSchedule(n, "0163296" + n["RTU-".Length..].PadLeft(4, '0'), Substitute.For<IProtocolDriver>(), [new ReadHoldingRegisters(0, 1)], TimeSpan.FromMinutes(15), BackoffPolicy.From(new BackoffOptions()))),
            Substitute.For<IPollExecutor>(),
            book,
            null,
            new SchedulerOptions(),
            _time,
            () => 0.5)
        { Ownership = ownership };
        var modems = _plan.ModemResources.Select(r => new FakeModem(OwnershipPlan.ModemOf(r))).ToDictionary(m => m.Name, StringComparer.Ordinal);
        var channels = new ModemChannelManager(modems.Values.Select(m => ((IModemDevice)m, ModemRole.Default)), new ChannelManagerOptions(), _time);
        var exit = new ServiceExitState();
        var lifetime = Substitute.For<IHostApplicationLifetime>();
        var service = new OwnershipService(ownership, scheduler, channels, exit, lifetime, _time, NullLogger<OwnershipService>.Instance);
        return new TestHost(id, ownership, service, exit, lifetime, _leases, modems);
    }

    private sealed class TestHost(string id, ActiveActiveOwnership ownership, OwnershipService service, ServiceExitState exit, IHostApplicationLifetime lifetime, MemoryLeases leases, IReadOnlyDictionary<string, FakeModem> modems)
    {
        public string Id => id;

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
