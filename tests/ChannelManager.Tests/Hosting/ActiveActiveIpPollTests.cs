using ChannelManager.Core.Channels.Persistent;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Scheduling;
using ChannelManager.Host.Api;
using ChannelManager.Host.Hosting;
using ChannelManager.Tests.Channels.Persistent;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;

namespace ChannelManager.Tests.Hosting;

/// <summary>
/// POST /api/outstations/{name}/poll for an IP outstation in active/active (docs/scale-out.md §6.6): another host holds
/// its <c>ip:</c> lease → 409 <c>not-owner</c> naming that host, no connection opened, nothing written to the event log.
/// The host that holds it polls it on its channel; /api/cluster counts it in this host's share.
/// </summary>
public sealed class ActiveActiveIpPollTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan S = TimeSpan.FromSeconds(1);
    private static readonly IReadOnlyList<ProtocolCommand> HeartbeatRead = [new ReadHoldingRegisters(0, 1)];

    private readonly FakeTimeProvider _time = new(T0);
    private readonly IStateStore _store = Substitute.For<IStateStore>();
    private readonly OwnershipPlan _plan = new([], [], shards: 4, ["IP-A", "IP-B"]);

    [Fact]
    public async Task PollAsync_IpOutstationAPeerHolds_409NotOwnerNamingItAndNoConnection()
    {
        var net = new FakeIpNetwork(_time) { HeartbeatCommands = HeartbeatRead };
        await using var ipB = NewOutstation("IP-B", net);
        var ownership = new ActiveActiveOwnership(_plan, Substitute.For<ILeaseStore>(), "fe-a", SharedStorage.Timing(10 * S), _time);
        ownership.SeeHolders(new Dictionary<string, string> { ["ip:IP-A"] = "fe-a", ["ip:IP-B"] = "fe-b" });
        ownership.Took("ip:IP-A", 1, _time.GetTimestamp());
        var cluster = new ClusterView("fe-a", "Postgres", standby: null, ownership);

        var result = await PollAsync("IP-B", new IpOutstationSet([ipB]), cluster);

        var problem = Assert.IsType<ProblemHttpResult>(result);
        Assert.Equal(409, problem.StatusCode);
        Assert.EndsWith("not-owner", problem.ProblemDetails.Type, StringComparison.Ordinal);
        Assert.Equal(("fe-b", "fe-a"), ((string?)problem.ProblemDetails.Extensions["owner"], (string?)problem.ProblemDetails.Extensions["hostId"]));
        Assert.Empty(net.ConnectAttempts);
        Assert.Empty(_store.ReceivedCalls());
        // This host's share counts the IP outstation it holds (API, snapshot and the owned_outstations metric read it).
        Assert.Equal((1, 1), (cluster.Shares!.Outstations, cluster.Shares.IpOutstations));
        Assert.Equal(1, cluster.Owned.Outstations);
        Assert.Null(cluster.OwnerElsewhere("IP-A"));
    }

    [Fact]
    public async Task PollAsync_IpOutstationNobodyHoldsYet_409WithUnknownOwner()
    {
        var net = new FakeIpNetwork(_time) { HeartbeatCommands = HeartbeatRead };
        await using var ipB = NewOutstation("IP-B", net);
        var ownership = new ActiveActiveOwnership(_plan, Substitute.For<ILeaseStore>(), "fe-a", SharedStorage.Timing(10 * S), _time);
        // fe-a held it but is handing it over: it must not poll it any more either.
        ownership.Took("ip:IP-B", 1, _time.GetTimestamp());
        ownership.BeginRelease("ip:IP-B");

        var result = await PollAsync("IP-B", new IpOutstationSet([ipB]), new ClusterView("fe-a", "Postgres", standby: null, ownership));

        var problem = Assert.IsType<ProblemHttpResult>(result);
        Assert.Equal((409, "unknown"), (problem.StatusCode, (string?)problem.ProblemDetails.Extensions["owner"]));
        Assert.Empty(net.ConnectAttempts);
    }

    private async Task<Microsoft.AspNetCore.Http.IResult> PollAsync(string name, IpOutstationSet ip, ClusterView cluster)
    {
        var scheduler = new PollScheduler([], Substitute.For<IPollExecutor>(), new RepeatCallBook(CountryProfiles.UK), null, new SchedulerOptions(), _time, () => 0.5);
        var lifetime = Substitute.For<IHostApplicationLifetime>();
        // Bounded: a host that wrongly polls would wait for a connection on the fake clock, which does not move here.
        return await ApiEndpoints.PollAsync(name, null, scheduler, ip, _store, cluster, lifetime, NullLoggerFactory.Instance, CancellationToken.None)
            .WaitAsync(TimeSpan.FromSeconds(10), TimeProvider.System);
    }

    private IpOutstation NewOutstation(string name, FakeIpNetwork net)
    {
        var settings = new IpOutstationSettings
        {
            Name = name,
            Endpoint = "tcp://10.20.0.17:502",
            Reads = [new ReadSettings { Table = ModbusTable.Holding, Start = 0, Count = 2 }],
            PollInterval = 30 * S,
            MaxPollWait = 5 * S,
        };
        var channel = new PersistentChannel(settings.ToChannelOptions(), net.CreateLink, net, HeartbeatRead, _time, () => 0.5);
        return new IpOutstation(settings, settings.Endpoint, channel, [Composition.CreateCommand(settings.Reads[0])]);
    }
}
