using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using ChannelManager.Host.Hosting;
using ChannelManager.IntegrationTests.Host;
using ChannelManager.IntegrationTests.Support;

namespace ChannelManager.IntegrationTests.Persistence;

/// <summary>
/// IP outstations in active/active (docs/scale-out.md §6.6), with real processes: two `channelmanager run` hosts in
/// <c>Storage.Mode = ActiveActive</c> on the test database, two Modbus outstation simulator processes listening on TCP,
/// one IP outstation each. Each host polls exactly the IP outstation whose <c>ip:</c> lease it holds (the shared event
/// log by host); an on-demand poll sent to the other host is refused 409 <c>not-owner</c>; no two hosts' polls of one
/// outstation ever overlap; after SIGKILL of one host the survivor takes its lease and polls both.
/// </summary>
public sealed class ActiveActiveIpTests : PostgresDatabaseTest, IDisposable
{
    private static readonly TimeSpan LeaseTime = TimeSpan.FromSeconds(3);
    private static readonly string[] Hosts = ["fe-a", "fe-b"];
    private static readonly string[] Names = ["IP-A", "IP-B"];

    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("cm-aa-ip-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public async Task Run_TwoActiveActiveHostsTwoIpOutstations_EachPolledByOneHostAndTheSurvivorPollsBothAfterAKill()
    {
        var plan = new OwnershipPlan([], [], 4, Names);
        var owners = plan.Assign(Hosts);
        Assert.NotEqual(owners[plan.IpLeaseOf["IP-A"]], owners[plan.IpLeaseOf["IP-B"]]); // one each
        var ownerOf = Names.ToDictionary(n => n, n => owners[plan.IpLeaseOf[n]]);

        // Every process is disposed (killed) by `await using`, whether the test passes or fails.
        await using var simA = ExternalProcess.StartSimulator("outstation", "--listen", "tcp://127.0.0.1:0", "--unit", "1", "--holding", "0=11,22");
        await using var simB = ExternalProcess.StartSimulator("outstation", "--listen", "tcp://127.0.0.1:0", "--unit", "1", "--holding", "0=33,44");
        var endpointA = await IpOutstationHostTests.ListeningEndpointAsync(simA);
        var endpointB = await IpOutstationHostTests.ListeningEndpointAsync(simB);
        await IpOutstationHostTests.WarmUpAsync(endpointA);
        await IpOutstationHostTests.WarmUpAsync(endpointB);
        var config = WriteConfig(endpointA.Port, endpointB.Port);

        var portA = Loopback.FreeTcpPort();
        var portB = Loopback.FreeTcpPort();
        await using var a = ActiveActiveHosts.StartHost(config, Database, "fe-a", portA);
        await using var b = ActiveActiveHosts.StartHost(config, Database, "fe-b", portB);
        await a.WaitForLineAsync("Host fe-a is ACTIVE/ACTIVE", TimeSpan.FromSeconds(60));
        await b.WaitForLineAsync("Host fe-b is ACTIVE/ACTIVE", TimeSpan.FromSeconds(60));

        // The split settles: each ip: lease held by the host the plan names.
        var expected = owners.Where(kv => kv.Key.StartsWith(OwnershipPlan.IpPrefix, StringComparison.Ordinal)).OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        await ActiveActiveHosts.UntilAsync(async () => (await LiveIpLeasesAsync()).OrderBy(kv => kv.Key, StringComparer.Ordinal).SequenceEqual(expected), "the split " + string.Join(", ", expected));
        var splitAt = await DatabaseNowAsync();

        // Both hosts poll their own (every second).
        foreach (var n in Names)
            await ActiveActiveHosts.UntilAsync(async () => (await PollsSinceAsync(splitAt)).Count(p => p.Outstation == n && p.Host == ownerOf[n] && p.Code == "Success") >= 3, $"{ownerOf[n]} polls {n}");

        // An on-demand poll sent to the host that does not own it: 409 naming the owner; it connects to nothing.
        var notMine = Names.Single(n => ownerOf[n] == "fe-b");
        using (var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{portA}"), Timeout = TimeSpan.FromSeconds(10) })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/outstations/{notMine}/poll");
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", ActiveActiveHosts.ApiToken);
            using var refused = await client.SendAsync(request);
            Assert.Equal(System.Net.HttpStatusCode.Conflict, refused.StatusCode);
            var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(("fe-b", "fe-a"), (problem.GetProperty("owner").GetString(), problem.GetProperty("hostId").GetString()));
        }

        // /api/cluster counts the IP outstation each host holds.
        Assert.Equal((1, 1), await SharesAsync(portA));
        Assert.Equal((1, 1), await SharesAsync(portB));

        // SIGKILL fe-a: its connection dies with it; fe-b takes its lease when it expires and polls both.
        var beforeKill = await PollsSinceAsync(splitAt);
        var killedAt = await DatabaseNowAsync();
        a.Kill();
        var sinceKill = Stopwatch.StartNew();
        await a.WaitForExitAsync(TimeSpan.FromSeconds(10));
        await ActiveActiveHosts.UntilAsync(async () => (await LiveIpLeasesAsync()).Count(kv => kv.Value == "fe-b") == Names.Length, "fe-b holds every ip: lease");
        var takeover = sinceKill.Elapsed;
        var lost = Names.Single(n => ownerOf[n] == "fe-a");
        await ActiveActiveHosts.UntilAsync(async () => (await PollsSinceAsync(killedAt)).Count(p => p.Outstation == lost && p.Host == "fe-b" && p.Code == "Success") >= 2, "fe-b polls " + lost + " after the kill");
        Assert.Equal((2, 2), await SharesAsync(portB));
        await HostProcess.TerminateAsync(b);
        Assert.True(await b.WaitForExitAsync(TimeSpan.FromSeconds(60)) == 0, b.Output);

        Assert.True(takeover <= LeaseTime + (LeaseTime / 5) + TimeSpan.FromSeconds(2), $"fe-b held every IP lease {takeover} after the kill (lease {LeaseTime})");

        // Between the split and the kill each IP outstation was polled by its owner only (the refused poll included).
        Assert.NotEmpty(beforeKill);
        Assert.All(beforeKill, p => Assert.Equal(ownerOf[p.Outstation], p.Host));

        // Over the whole run (fe-a took both first, then handed one to fe-b): one host at a time — no poll of an
        // outstation by one host overlaps a poll of it by the other.
        var all = await PollsSinceAsync(DateTimeOffset.MinValue);
        foreach (var n in Names)
        {
            var polls = all.Where(p => p.Outstation == n).OrderBy(p => p.StartedAt).ToList();
            for (var i = 1; i < polls.Count; i++)
            {
                if (polls[i].Host != polls[i - 1].Host)
                    Assert.True(polls[i].StartedAt >= polls[i - 1].EndedAt, $"{n}: {polls[i].Host}'s poll at {polls[i].StartedAt:O} overlaps {polls[i - 1].Host}'s ending {polls[i - 1].EndedAt:O}");
            }
        }

        // If fe-a took fe-b's outstation before fe-b was up, it handed it over with its link closed (logged as such).
        if (a.Output.Contains($"took {plan.IpLeaseOf[notMine]}", StringComparison.Ordinal))
            Assert.Contains($"IP outstation {notMine}: host fe-a handed it over and closed its connection", a.Output, StringComparison.Ordinal);
    }

    private string WriteConfig(int portA, int portB)
    {
        string Ip(string name, int port) => $$"""
            { "Name": "{{name}}", "Endpoint": "tcp://127.0.0.1:{{port}}", "Protocol": "ModbusRtu", "UnitId": 1, "BaudRate": 19200,
              "ResponseTimeout": "00:00:01", "TimeoutRetries": 0, "ConnectTimeout": "00:00:02",
              "Reads": [ { "Table": "Holding", "Start": 0, "Count": 2 } ],
              "PollInterval": "00:00:01",
              "Heartbeat": { "Min": "00:00:01", "Max": "00:00:06", "Increment": "00:00:01", "SuccessesBeforeRaise": 1 },
              "Reconnect": { "Strategy": "Linear", "Delay": "00:00:00.200", "Attempts": 3, "AttemptsExceededDelay": "00:00:01" },
              "MaxPollWait": "00:00:05" }
            """;
        var path = Path.Combine(_dir.FullName, "host.json");
        // A dial-up bank must exist (Modems is required) but has nothing to dial: the outstations are on IP.
        File.WriteAllText(path, $$"""
            {
              "Modems": [ { "Name": "M1", "Endpoint": "sim://S1", "EscapeGuardTime": "00:00:00.300" } ],
              "Outstations": [],
              "IpOutstations": [ {{Ip("IP-A", portA)}}, {{Ip("IP-B", portB)}} ],
              "Storage": { "Provider": "Postgres", "Mode": "ActiveActive", "Shards": 4, "LeaseTime": "00:00:03" },
              "Simulation": { "Modems": [ { "Name": "S1" } ], "Lines": [] },
              "Log": { "Directory": "logs", "Level": "Information" }
            }
            """);
        return path;
    }

    private async Task<DateTimeOffset> DatabaseNowAsync() =>
        new((DateTime)(await PostgresTestServer.ScalarAsync(Database, "SELECT clock_timestamp() AT TIME ZONE 'UTC';"))!, TimeSpan.Zero);

    /// <summary>IP polls (no modem) in the shared event log that started after <paramref name="since"/>.</summary>
    private async Task<List<(string Host, string Outstation, string Code, DateTimeOffset StartedAt, DateTimeOffset EndedAt)>> PollsSinceAsync(DateTimeOffset since)
    {
        var rows = new List<(string, string, string, DateTimeOffset, DateTimeOffset)>();
        await using var connection = new Npgsql.NpgsqlConnection(Database);
        await connection.OpenAsync();
        await using var cmd = new Npgsql.NpgsqlCommand("SELECT host, outstation, code, started_at, ended_at FROM transaction_log WHERE started_at > @since AND modem IS NULL ORDER BY id;", connection);
        cmd.Parameters.AddWithValue("since", since);
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2), new DateTimeOffset(reader.GetDateTime(3), TimeSpan.Zero), new DateTimeOffset(reader.GetDateTime(4), TimeSpan.Zero)));
        }

        return rows;
    }

    /// <summary>IP outstation leases live now, by holder.</summary>
    private async Task<Dictionary<string, string>> LiveIpLeasesAsync() =>
        (await ActiveActiveHosts.LiveLeasesAsync(Database)).Where(kv => kv.Key.StartsWith("ip:", StringComparison.Ordinal)).ToDictionary(StringComparer.Ordinal);

    /// <summary>This host's share from /api/cluster: (outstations, of which IP outstations).</summary>
    private static async Task<(int Outstations, int IpOutstations)> SharesAsync(int port)
    {
        var shares = (await ActiveActiveHosts.ClusterAsync(port)).GetProperty("shares");
        return (shares.GetProperty("outstations").GetInt32(), shares.GetProperty("ipOutstations").GetInt32());
    }
}
