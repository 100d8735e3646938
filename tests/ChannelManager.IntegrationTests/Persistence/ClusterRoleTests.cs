using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ChannelManager.IntegrationTests.Api;
using Microsoft.AspNetCore.Mvc.Testing;

namespace ChannelManager.IntegrationTests.Persistence;

/// <summary>
/// Issue 11 item 4 on the real PostgreSQL server: two real service hosts (Program → ServiceHost, as
/// <c>channelmanager run</c>, on the simulated bank) sharing one database show their roles and each other in
/// <c>/api/cluster</c>, the dashboard snapshot and <c>/metrics</c>; a clean stop of the active host hands the role over.
/// </summary>
public sealed class ClusterRoleTests : PostgresDatabaseTest
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task GetCluster_TwoHostsOnOneDatabase_FirstActiveSecondStandbyWithTheFirstAsHolder()
    {
        // Stopped by the test halfway; the finally stops it if the test fails first.
        ChannelManagerFactory? a = Host("fe-a");
        try
        {
            await RunAsync(a, () => a = null);
        }
        finally
        {
            if (a is not null)
                await a.DisposeAsync();
        }
    }

    private async Task RunAsync(ChannelManagerFactory a, Action stopped)
    {
        using var clientA = Client(a);
        var activeA = await UntilAsync(clientA, c => Role(c) == "Active");
        Assert.Equal("fe-a", activeA.GetProperty("hostId").GetString());
        Assert.Equal("Postgres", activeA.GetProperty("storage").GetString());
        Assert.Equal(1, activeA.GetProperty("leaseEpoch").GetInt64());
        Assert.DoesNotContain(new Npgsql.NpgsqlConnectionStringBuilder(Database).Database!, activeA.ToString(), StringComparison.Ordinal);

        await using var b = Host("fe-b");
        using var clientB = Client(b);
        var standbyB = await UntilAsync(clientB, c => Role(c) == "Standby" && Peer(c, "fe-a") is { } p && p.GetProperty("active").GetBoolean());
        Assert.Equal("fe-a", standbyB.GetProperty("activeHost").GetString());
        Assert.Equal(JsonValueKind.Null, standbyB.GetProperty("leaseEpoch").ValueKind);
        Assert.True(Peer(standbyB, "fe-a")!.Value.GetProperty("live").GetBoolean());

        // The active host sees the standby through its presence lease; the snapshot the dashboard streams says the same.
        var seenByA = await UntilAsync(clientA, c => Peer(c, "fe-b") is { } p && p.GetProperty("live").GetBoolean());
        Assert.Equal("Active", Role(seenByA));
        Assert.False(Peer(seenByA, "fe-b")!.Value.GetProperty("active").GetBoolean());
        using (var snapshot = await clientB.GetAsync("/api/snapshot"))
        {
            var cluster = (await JsonOfAsync(snapshot)).GetProperty("cluster");
            Assert.Equal(("Standby", "fe-a"), (Role(cluster), cluster.GetProperty("activeHost").GetString()));
        }

        Assert.Equal(("1", "1"), await MetricsAsync(clientA, "fe-a"));
        Assert.Equal(("0", "0"), await MetricsAsync(clientB, "fe-b"));
        Assert.Equal("0", Value(await clientA.GetStringAsync("/metrics"), "channelmanager_lease_takeovers_total", "fe-a"));

        // A clean stop releases both leases: fe-b becomes active at once and shows fe-a as down.
        clientA.Dispose();
        stopped();
        await a.DisposeAsync().AsTask().WaitAsync(Bound);
        var activeB = await UntilAsync(clientB, c => Role(c) == "Active" && Peer(c, "fe-a") is { } p && !p.GetProperty("live").GetBoolean());
        Assert.Equal(2, activeB.GetProperty("leaseEpoch").GetInt64());
        Assert.Equal("fe-b", activeB.GetProperty("activeHost").GetString());
        // The released lease is an expired one: fe-b names fe-a as the previous holder (and would adopt its open dials).
        Assert.Equal("fe-a", activeB.GetProperty("previousHolder").GetString());
        // The exporter serves a scrape cached for up to 300 ms (OpenTelemetry's Prometheus default), which may predate the
        // takeover the API already shows: read until a scrape is that new, then check it.
        var scrape = await ScrapeUntilAsync(clientB, "fe-b", ("1", "2"));
        Assert.Equal(("1", "2"), (Value(scrape, "channelmanager_host_active", "fe-b"), Value(scrape, "channelmanager_lease_epoch", "fe-b")));
        Assert.Equal("1", Value(scrape, "channelmanager_lease_takeovers_total", "fe-b"));
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
    });

    private static HttpClient Client(ChannelManagerFactory factory)
    {
        var client = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        client.Timeout = Bound;
        return client;
    }

    private static string? Role(JsonElement cluster) => cluster.GetProperty("role").GetString();

    private static JsonElement? Peer(JsonElement cluster, string hostId) =>
        cluster.GetProperty("peers").EnumerateArray().Where(p => p.GetProperty("hostId").GetString() == hostId).Select(p => (JsonElement?)p).FirstOrDefault();

    /// <summary>The host's <c>channelmanager_host_active</c> and <c>channelmanager_lease_epoch</c> values.</summary>
    private static async Task<(string Active, string Epoch)> MetricsAsync(HttpClient client, string hostId)
    {
        var text = await client.GetStringAsync("/metrics");
        return (Value(text, "channelmanager_host_active", hostId), Value(text, "channelmanager_lease_epoch", hostId));
    }

    /// <summary>Scrapes until the host's active/epoch values are <paramref name="expected"/> or the bound passes; returns the last scrape.</summary>
    private static async Task<string> ScrapeUntilAsync(HttpClient client, string hostId, (string Active, string Epoch) expected)
    {
        using var bound = new CancellationTokenSource(Bound);
        while (true)
        {
            var text = await client.GetStringAsync("/metrics", CancellationToken.None);
            if ((Value(text, "channelmanager_host_active", hostId), Value(text, "channelmanager_lease_epoch", hostId)) == expected || bound.IsCancellationRequested)
                return text;
            await Task.Delay(TimeSpan.FromMilliseconds(100), TimeProvider.System, CancellationToken.None);
        }
    }

    private static string Value(string metrics, string name, string hostId)
    {
        var match = Regex.Match(metrics, "(?m)^" + name + @"\{[^}]*host=""" + Regex.Escape(hostId) + @"""[^}]*\} (\S+)");
        Assert.True(match.Success, $"no {name} for {hostId} in:\n{metrics}");
        return match.Groups[1].Value;
    }

    private static async Task<JsonElement> UntilAsync(HttpClient client, Func<JsonElement, bool> condition)
    {
        using var bound = new CancellationTokenSource(Bound);
        while (true)
        {
            using var response = await client.GetAsync("/api/cluster", bound.Token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var cluster = await JsonOfAsync(response);
            if (condition(cluster))
                return cluster;
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), TimeProvider.System, bound.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail("condition not met within " + Bound + "; last /api/cluster: " + cluster);
            }
        }
    }

    private static async Task<JsonElement> JsonOfAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
}
