using System.Diagnostics;
using ChannelManager.Core;
using ChannelManager.Core.Channels;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Scheduling;
using ChannelManager.Host.Hosting;
using ChannelManager.Persistence.Postgres;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using NSubstitute;

namespace ChannelManager.IntegrationTests.Persistence;

/// <summary>
/// Active/active lease holders under contention on the real database (docs/scale-out.md §6): three hosts, each with
/// its own store (connection pool), ownership loop and running scheduler, on a 2 s lease — one joins, one more joins,
/// one stops cleanly (hand-over), one freezes (stops renewing without a word, as a host cut off from the database). A
/// sampler reads every host's view continuously: no shard and no modem is ever usable by two hosts, no outstation is
/// ever polled by two hosts at once, and at the end the last host owns everything.
/// </summary>
public sealed class ActiveActiveLeaseContentionTests : PostgresDatabaseTest
{
    private static readonly ActiveLeaseOptions Timing = SharedStorage.Timing(TimeSpan.FromSeconds(2));

    private readonly OwnershipPlan _plan = new(
        [.. Enumerable.Range(0, 30).Select(i => ($"RTU-{i}", (string?)null))],
        [("M1", [], true), ("M2", [], true), ("M3", [], true)],
        shards: 8);

    private readonly Lock _gate = new();
    private readonly List<(string Host, string Outstation, long Start, long End)> _polls = [];
    private readonly List<string> _overlaps = [];

    [Fact]
    public async Task Hosts_JoinHandOverAndFreeze_NoShardModemOrPollIsEverHeldByTwoHosts()
    {
        await using var a = await HostAsync("fe-a");
        await using var b = await HostAsync("fe-b");
        await using var c = await HostAsync("fe-c");
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(() => SampleAsync([a, b, c], sampling.Token));

        a.Start();
        await UntilAsync(() => a.Ownership.OwnedOutstations == 30, "fe-a owns everything alone");
        b.Start();
        await UntilAsync(() => a.Ownership.OwnedOutstations > 0 && b.Ownership.OwnedOutstations > 0 && a.Ownership.OwnedOutstations + b.Ownership.OwnedOutstations == 30, "fe-a and fe-b split");
        c.Start();
        await UntilAsync(() => new[] { a, b, c }.All(h => h.Ownership.OwnedModems == 1) && new[] { a, b, c }.Sum(h => h.Ownership.OwnedOutstations) == 30, "three-way split");
        var bPolled = Polled("fe-b");

        await b.StopCleanlyAsync(); // hands its share over as its polls end
        await UntilAsync(() => a.Ownership.OwnedOutstations + c.Ownership.OwnedOutstations == 30 && a.Ownership.OwnedModems + c.Ownership.OwnedModems == 3, "fe-b's share taken over");

        a.Freeze(); // no renewal, no release, no presence: its scheduler still runs and must stop polling on its own
        var frozen = Stopwatch.StartNew();
        await UntilAsync(() => c.Ownership.OwnedOutstations == 30 && c.Ownership.OwnedModems == 3, "fe-c owns everything");
        var takeover = frozen.Elapsed;
        await Task.Delay(TimeSpan.FromSeconds(2), TimeProvider.System); // keep sampling and polling a while
        await sampling.CancelAsync();
        await sampler;

        Assert.Empty(_overlaps);
        Assert.True(bPolled > 0 && Polled("fe-c") > 0, "every host polled");
        Assert.True(takeover <= Timing.LeaseTime + Timing.RenewInterval + (2 * Timing.RetryInterval) + TimeSpan.FromSeconds(1), $"fe-c took fe-a's share {takeover} after it froze");
        Assert.Equal(0, a.Ownership.OwnedOutstations);

        // No outstation polled by two hosts at once, on the polls' own clock.
        List<(string Host, string Outstation, long Start, long End)> polls;
        lock (_gate)
        {
            polls = [.. _polls];
        }

        foreach (var group in polls.GroupBy(p => p.Outstation))
        {
            var ordered = group.OrderBy(p => p.Start).ToList();
            for (var i = 1; i < ordered.Count; i++)
            {
                Assert.True(ordered[i].Start >= ordered[i - 1].End || ordered[i].Host == ordered[i - 1].Host, $"{group.Key} polled by {ordered[i - 1].Host} and {ordered[i].Host} at once");
            }
        }
    }

    private int Polled(string host)
    {
        lock (_gate)
        {
            return _polls.Count(p => p.Host == host);
        }
    }

    /// <summary>
    /// Reads host X, then Y, then X again: X usable at the first and third reading and Y at the second means both held the
    /// same resource at once (X cannot have lost and re-taken it while Y held it). Every resource, every pair, continuously.
    /// </summary>
    private async Task SampleAsync(ContendingHost[] hosts, CancellationToken cancellationToken)
    {
        string[] resources = [.. _plan.ShardOf.Values.Distinct(StringComparer.Ordinal), .. _plan.ModemResources];
        while (!cancellationToken.IsCancellationRequested)
        {
            foreach (var x in hosts)
            {
                foreach (var y in hosts.Where(h => h != x))
                {
                    foreach (var r in resources)
                    {
                        if (x.Ownership.IsUsable(r) && y.Ownership.IsUsable(r) && x.Ownership.IsUsable(r))
                        {
                            lock (_gate)
                            {
                                _overlaps.Add($"{r} usable by {x.Id} and {y.Id}");
                            }
                        }
                    }
                }
            }

            await Task.Yield();
        }
    }

    private static async Task UntilAsync(Func<bool> condition, string what)
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!condition())
        {
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50), TimeProvider.System, bound.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail("not within 60 s: " + what);
            }
        }
    }

    private async Task<ContendingHost> HostAsync(string id)
    {
        var store = await PostgresTestServer.OpenStoreAsync(Database, id);
        var ownership = new ActiveActiveOwnership(_plan, store, id, Timing, TimeProvider.System);
        var book = new RepeatCallBook(CountryProfiles.EU, store);
        var executor = Substitute.For<IPollExecutor>();
        executor.RunAsync(Arg.Any<PollRequest>(), Arg.Any<CancellationToken>()).Returns(call => PollAsync(id, call.Arg<PollRequest>(), call.Arg<CancellationToken>()));
        var scheduler = new PollScheduler(
            _plan.ShardOf.Keys.Select(n => new OutstationSchedule(n, "01632970" + n["RTU-".Length..].PadLeft(3, '0'), Substitute.For<IProtocolDriver>(), [new ReadHoldingRegisters(0, 1)], TimeSpan.FromSeconds(1), BackoffPolicy.From(new BackoffOptions()))),
            executor,
            book,
            store,
            new SchedulerOptions { MaxConcurrency = 8 },
            TimeProvider.System,
            () => 0.5)
        { Ownership = ownership };
        var channels = new ModemChannelManager([], new ChannelManagerOptions(), TimeProvider.System);
        var service = new OwnershipService(ownership, scheduler, channels, new ServiceExitState(), Substitute.For<IHostApplicationLifetime>(), TimeProvider.System, NullLogger<OwnershipService>.Instance);
        return new ContendingHost(id, store, ownership, service, scheduler);
    }

    /// <summary>A "dial" of 200 ms, recorded with its host on one monotonic clock.</summary>
    private async Task<PollOutcome> PollAsync(string host, PollRequest request, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        var started = TimeProvider.System.GetUtcNow();
        await Task.Delay(TimeSpan.FromMilliseconds(200), TimeProvider.System, cancellationToken);
        lock (_gate)
        {
            _polls.Add((host, request.Outstation, start, Stopwatch.GetTimestamp()));
        }

        var ended = TimeProvider.System.GetUtcNow();
        return new PollOutcome(request.Outstation, request.Number, OutcomeCode.Success, "M1", [new ModemAttempt("M1", OutcomeCode.Success, "CONNECT", ended)], "ok", null, started, ended, null);
    }

    /// <summary>One host: its presence lease and ownership rounds (as HostPresence and OwnershipService run them) and its scheduler.</summary>
    private sealed class ContendingHost(string id, PostgresStateStore store, ActiveActiveOwnership ownership, OwnershipService service, PollScheduler scheduler) : IAsyncDisposable
    {
        private readonly CancellationTokenSource _rounds = new();
        private readonly CancellationTokenSource _polling = new();
        private Task _loop = Task.CompletedTask;
        private Task _scheduler = Task.CompletedTask;

        public string Id { get; } = id;

        public ActiveActiveOwnership Ownership { get; } = ownership;

        public void Start()
        {
            _scheduler = scheduler.RunAsync(_polling.Token);
            _loop = RoundsAsync(_rounds.Token);
        }

        /// <summary>Stops renewing anything, silently (a host cut off from the database); its scheduler keeps running.</summary>
        public void Freeze() => _rounds.Cancel();

        /// <summary>A clean stop: no new polls, hand everything over as polls end, give the presence up.</summary>
        public async Task StopCleanlyAsync()
        {
            await _rounds.CancelAsync();
            await _loop;
            while (Ownership.HeldResources.Count > 0)
            {
                await service.StepAsync(draining: true, CancellationToken.None);
                await Task.Delay(TimeSpan.FromMilliseconds(100), TimeProvider.System);
            }

            await store.ReleaseLeaseAsync(HostPresence.ResourceOf(Id), Id, CancellationToken.None);
            await _polling.CancelAsync();
            await _scheduler;
        }

        public async ValueTask DisposeAsync()
        {
            await _rounds.CancelAsync();
            await _polling.CancelAsync();
            try
            {
                await _loop;
                await _scheduler;
            }
            finally
            {
                _rounds.Dispose();
                _polling.Dispose();
                await store.DisposeAsync();
            }
        }

        private async Task RoundsAsync(CancellationToken cancellationToken)
        {
            try
            {
                while (true)
                {
                    await store.TryAcquireLeaseAsync(HostPresence.ResourceOf(Id), Id, Ownership.Timing.LeaseTime, cancellationToken);
                    Assert.True(await service.StepAsync(draining: false, cancellationToken), Id + " fail-stopped");
                    await Task.Delay(Ownership.Timing.RetryInterval, TimeProvider.System, cancellationToken);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }
        }
    }
}
