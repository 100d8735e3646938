using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using ChannelManager.Core.Scheduling;
using ChannelManager.Host.Hosting;
using ChannelManager.IntegrationTests.Api;
using ChannelManager.IntegrationTests.Support;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace ChannelManager.IntegrationTests.Persistence;

/// <summary>
/// docs/scale-out.md §3.3 on the real PostgreSQL server: two real service hosts share one database; the standby answers
/// every on-demand poll (dial-up or IP) with a 409 problem naming its role and the active host, and dials nothing,
/// while the active host polls.
/// </summary>
public sealed class StandbyPollTests : PostgresDatabaseTest
{
    private const string IpName = "RTU-IP-SB";
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private readonly string _ipEndpoint = $"tcp://127.0.0.1:{Loopback.FreeTcpPort()}";

    [Fact]
    public async Task PostPoll_OnStandbyHost_Returns409NamingStandbyAndActiveHostAndDialsNothing()
    {
        await using var a = Host("fe-a");
        using var clientA = Client(a);
        await UntilRoleAsync(clientA, "Active");
        await using var b = Host("fe-b");
        using var clientB = Client(b);
        await UntilRoleAsync(clientB, "Standby", activeHost: "fe-a");
        var dialUp = b.Services.GetRequiredService<PollScheduler>().Status[0].Name;

        foreach (var name in new[] { dialUp, IpName })
        {
            using var response = await clientB.SendAsync(Post($"/api/outstations/{name}/poll"));

            Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
            var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal("urn:channelmanager:problem:standby", problem.GetProperty("type").GetString());
            Assert.Equal(("standby", "fe-b", "fe-a"), (problem.GetProperty("role").GetString(), problem.GetProperty("hostId").GetString(), problem.GetProperty("activeHost").GetString()));
            Assert.Contains(name, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        // Nothing was dialled or queued on the standby, and its IP channel never connected or polled.
        using (var modems = await clientB.GetAsync("/api/modems"))
            Assert.Equal(0, JsonDocument.Parse(await modems.Content.ReadAsStringAsync()).RootElement.EnumerateArray().Sum(m => m.GetProperty("calls").GetInt64()));
        Assert.DoesNotContain(b.Services.GetRequiredService<PollScheduler>().Status, s => s.Running || s.QueuedOnDemand > 0);
        var ip = Assert.Single(b.Services.GetRequiredService<IpOutstationSet>().Snapshot());
        Assert.Equal((0L, 0L), (ip.Polls, ip.Connects));

        // The active host takes the same request: its IP poll runs (nothing listens there, so a channel failure).
        using var onActive = await clientA.SendAsync(Post($"/api/outstations/{IpName}/poll"));
        Assert.Equal(HttpStatusCode.OK, onActive.StatusCode);
        var report = JsonDocument.Parse(await onActive.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(("TransportFailure", _ipEndpoint), (report.GetProperty("outcome").GetString(), report.GetProperty("number").GetString()));
    }

    private ChannelManagerFactory Host(string hostId) => new(config =>
    {
        config["Storage"] = new JsonObject
        {
            ["Provider"] = "Postgres",
            ["ConnectionString"] = Database,
            ["HostId"] = hostId,
            ["LeaseTime"] = "00:00:03",
        };
        config["IpOutstations"] = IpOnDemandPollTests.IpOutstationsJson(IpName, _ipEndpoint, maxPollWait: "00:00:01");
    });

    private static HttpClient Client(ChannelManagerFactory factory)
    {
        var client = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        client.Timeout = Bound;
        return client;
    }

    private static HttpRequestMessage Post(string path)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ChannelManagerFactory.Token);
        return request;
    }

    private static async Task UntilRoleAsync(HttpClient client, string role, string? activeHost = null)
    {
        var start = TimeProvider.System.GetTimestamp();
        while (true)
        {
            var cluster = JsonDocument.Parse(await client.GetStringAsync("/api/cluster")).RootElement;
            if (cluster.GetProperty("role").GetString() == role && (activeHost is null || cluster.GetProperty("activeHost").GetString() == activeHost))
                return;
            Assert.True(TimeProvider.System.GetElapsedTime(start) < Bound, $"not {role} within {Bound}; last /api/cluster: {cluster}");
            await Task.Delay(TimeSpan.FromMilliseconds(200), TimeProvider.System);
        }
    }
}
