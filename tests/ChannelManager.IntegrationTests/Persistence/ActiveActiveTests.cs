using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using ChannelManager.Core.Scheduling;
using ChannelManager.Host.Hosting;
using ChannelManager.IntegrationTests.Host;
using ChannelManager.IntegrationTests.Support;

namespace ChannelManager.IntegrationTests.Persistence;

/// <summary>
/// Issue 11 item 2, active/active (docs/scale-out.md §6), with real processes: two `channelmanager run` hosts in
/// <c>Storage.Mode = ActiveActive</c> on the test database, ONE simulated modem process (its exchange's call log spans
/// both hosts; each TCP connection is a modem of its own, M1 and M2 point at it) and one Modbus outstation simulator.
/// Both hosts poll, their shares are disjoint and cover every outstation and modem; the host holding a ringing dead
/// number is SIGKILLed; the survivor must own everything within LeaseTime + retry, adopt the interrupted dial, resume
/// the retry — and across both hosts no number is dialled more often or sooner than the EU profile allows, and no
/// healthy outstation is polled twice within its interval.
/// </summary>
public sealed class ActiveActiveTests : PostgresDatabaseTest, IDisposable
{
    private static readonly TimeSpan LeaseTime = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan Gap = CountryProfiles.EU.Gaps[0];
    private const int Shards = 4;
    private static readonly string[] Hosts = ["fe-a", "fe-b"];

    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("cm-aa-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public async Task Run_TwoActiveActiveHostsOneKilledMidDial_SurvivorOwnsEverythingInTimeAndNoRuleIsBroken()
    {
        var (healthy, dead) = ChooseOutstations();
        var numbers = healthy.Concat(dead).Select((o, i) => (Name: o, Number: "016329602" + i.ToString("D2", CultureInfo.InvariantCulture))).ToDictionary(x => x.Name, x => x.Number);
        var owners = Plan(healthy, dead).Assign(Hosts);
        Assert.NotEqual(owners["modem:M1"], owners["modem:M2"]); // one modem each

        await using var outstation = ExternalProcess.StartSimulator("outstation", "--listen", "tcp://127.0.0.1:0", "--unit", "1", "--holding", "0=11,22");
        await outstation.WaitForLineAsync("READY", TimeSpan.FromSeconds(30));
        var scenario = Path.Combine(_dir.FullName, "bank.json");
        var lines = healthy.Select(h => $$"""{ "number": "{{numbers[h]}}", "behaviour": "Answer", "delay": "00:00:00.300", "callee": "tcp://127.0.0.1:{{HostProcess.ReadyPort(outstation)}}" }""")
            .Concat(dead.Select(d => $$"""{ "number": "{{numbers[d]}}", "behaviour": "NoAnswer", "after": "00:00:04" }"""));
        await File.WriteAllTextAsync(scenario, $$"""{ "modems": [ { "name": "SIM", "sRegisters": { "12": 10 } } ], "lines": [ {{string.Join(",", lines)}} ] }""");
        await using var modem = ExternalProcess.StartSimulator("modem", "--listen", "tcp://127.0.0.1:0", "--scenario", scenario);
        await modem.WaitForLineAsync("READY", TimeSpan.FromSeconds(30));
        var config = WriteConfig(HostProcess.ReadyPort(modem), healthy, dead, numbers);

        var portA = Loopback.FreeTcpPort();
        var portB = Loopback.FreeTcpPort();
        await using var a = ActiveActiveHosts.StartHost(config, Database, "fe-a", portA);
        await using var b = ActiveActiveHosts.StartHost(config, Database, "fe-b", portB);
        await a.WaitForLineAsync("Host fe-a is ACTIVE/ACTIVE", TimeSpan.FromSeconds(60));
        await b.WaitForLineAsync("Host fe-b is ACTIVE/ACTIVE", TimeSpan.FromSeconds(60));

        // The split settles: every lease held by the host the plan names (disjoint by the table's primary key, covering
        // because every resource is there).
        var expected = owners.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        await ActiveActiveHosts.UntilAsync(async () => (await ActiveActiveHosts.LiveLeasesAsync(Database)).OrderBy(kv => kv.Key, StringComparer.Ordinal).SequenceEqual(expected), "the split " + string.Join(", ", expected));
        var splitAt = TimeProvider.System.GetUtcNow();

        // The API shows the shares: outstations of both hosts add up to all of them, one modem each.
        var shareA = await SharesAsync(portA);
        var shareB = await SharesAsync(portB);
        Assert.Equal(healthy.Length + dead.Length, shareA.Outstations + shareB.Outstations);
        Assert.Equal((1, 1), (shareA.Modems, shareB.Modems));
        Assert.True(shareA.Outstations > 0 && shareB.Outstations > 0, $"{shareA} / {shareB}");

        // Both poll after the split: each host dials its own dead number again (retries every ~5 s).
        var deadA = dead.Single(d => owners[ShardOf(d)] == "fe-a");
        var deadB = dead.Single(d => owners[ShardOf(d)] == "fe-b");
        await ActiveActiveHosts.UntilAsync(async () => (await DialsSinceAsync(splitAt)).Any(t => t.Host == "fe-b" && t.Outstation == deadB), "fe-b polls " + deadB);
        await ActiveActiveHosts.UntilAsync(async () => (await DialsSinceAsync(splitAt)).Any(t => t.Host == "fe-a" && t.Outstation == deadA), "fe-a polls " + deadA);

        // An on-demand poll of fe-b's outstation sent to fe-a: 409 naming fe-b, and fe-a dials nothing for it.
        using (var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{portA}"), Timeout = TimeSpan.FromSeconds(10) })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/outstations/{deadB}/poll");
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", ActiveActiveHosts.ApiToken);
            using var refused = await client.SendAsync(request);
            Assert.Equal(System.Net.HttpStatusCode.Conflict, refused.StatusCode);
            var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(("fe-b", "fe-a"), (problem.GetProperty("owner").GetString(), problem.GetProperty("hostId").GetString()));
        }

        // Kill fe-a while its dead number rings.
        await ActiveActiveHosts.UntilAsync(async () => (await HostProcess.CallsAsync(modem)).Any(c => c.Number == numbers[deadA] && c.EndedAt is null), "ringing " + deadA);
        var beforeKill = await DialsSinceAsync(splitAt);
        var killedAt = TimeProvider.System.GetUtcNow();
        a.Kill();
        var sinceKill = Stopwatch.StartNew();
        await a.WaitForExitAsync(TimeSpan.FromSeconds(10));

        await ActiveActiveHosts.UntilAsync(async () => (await ActiveActiveHosts.LiveLeasesAsync(Database)).Count(kv => kv.Value == "fe-b") == owners.Count, "fe-b holds every lease");
        var takeover = sinceKill.Elapsed;
        await b.WaitForLineAsync("Host fe-b adopted dead host fe-a: 1 interrupted dials counted as failed", TimeSpan.FromSeconds(30));
        // Nothing lost: every outstation fe-a had is polled by fe-b (the adopted dead number retried, the healthy ones at their time).
        foreach (var o in owners.Where(kv => kv.Value == "fe-a" && kv.Key.StartsWith(OwnershipPlan.ShardPrefix, StringComparison.Ordinal)).SelectMany(kv => Plan(healthy, dead).ShardOf.Where(s => s.Value == kv.Key).Select(s => s.Key)))
        {
            await ActiveActiveHosts.UntilAsync(async () => (await DialsSinceAsync(killedAt)).Any(t => t.Host == "fe-b" && t.Outstation == o), "fe-b polls " + o + " after the kill");
        }

        var shareAfter = await SharesAsync(portB);
        Assert.Equal((healthy.Length + dead.Length, 2), (shareAfter.Outstations, shareAfter.Modems));
        await HostProcess.TerminateAsync(b);
        Assert.True(await b.WaitForExitAsync(TimeSpan.FromSeconds(60)) == 0, b.Output);

        // Within the configured time: lease + the retry interval (+ process scheduling slack).
        Assert.True(takeover <= LeaseTime + (LeaseTime / 5) + TimeSpan.FromSeconds(2), $"fe-b owned everything {takeover} after the kill (lease {LeaseTime})");

        // Disjoint shares in the shared log: between the split and the kill, each host dialled only its own outstations
        // (the refused on-demand poll included: fe-a never dialled deadB).
        Assert.All(beforeKill, t => Assert.Equal(owners[ShardOf(t.Outstation)], t.Host));

        // The exchange's own log across both hosts: every call ended; dead numbers keep the profile's gap and limit;
        // a healthy outstation is never polled twice within its interval (a hand-over runs nothing twice).
        var calls = await HostProcess.CallsAsync(modem);
        Assert.All(calls, c => Assert.NotNull(c.EndedAt));
        foreach (var d in dead)
        {
            var dials = calls.Where(c => c.Number == numbers[d]).OrderBy(c => c.At).ToList();
            Assert.InRange(dials.Count, 2, CountryProfiles.EU.MaxAttempts);
            for (var i = 1; i < dials.Count; i++)
            {
                var gap = dials[i].At - dials[i - 1].EndedAt!.Value; // asserted not null above
                Assert.True(gap >= Gap - TimeSpan.FromMilliseconds(50), $"{d}: dial {i + 1} came {gap} after the previous on-hook (profile gap {Gap})");
            }
        }

        var polls = await DialsSinceAsync(DateTimeOffset.MinValue);
        foreach (var h in healthy)
        {
            var dials = calls.Where(c => c.Number == numbers[h]).OrderBy(c => c.At).ToList();
            Assert.NotEmpty(dials);
            for (var i = 1; i < dials.Count; i++)
            {
                Assert.True(dials[i].At >= dials[i - 1].EndedAt, $"{h} dialled twice at once: {dials[i - 1].At:O}, {dials[i].At:O}");
            }

            // The schedule's own clock (a poll's start, which includes any wait for a free modem), across both hosts.
            var starts = polls.Where(p => p.Outstation == h).Select(p => p.At).Order().ToList();
            Assert.Equal(dials.Count, starts.Count);
            for (var i = 1; i < starts.Count; i++)
            {
                Assert.True(starts[i] - starts[i - 1] >= Interval - TimeSpan.FromSeconds(1), $"{h} polled twice within its interval: {starts[i - 1]:O}, {starts[i]:O}");
            }
        }
    }

    /// <summary>
    /// One healthy outstation in every shard (so the plan has all <see cref="Shards"/> shards, two per host) and one dead
    /// outstation in a shard of each host.
    /// </summary>
    private static (string[] Healthy, string[] Dead) ChooseOutstations()
    {
        var shardOwners = Rendezvous.Assign(Enumerable.Range(0, Shards).Select(i => $"{OwnershipPlan.ShardPrefix}default/{i}"), Hosts);
        string[] healthy = [.. Enumerable.Range(0, Shards).Select(s => Enumerable.Range(0, 1000).Select(i => $"H{i}").First(n => Rendezvous.ShardOf(n, Shards) == s))];
        string[] dead = [.. Hosts.Select(h => Enumerable.Range(0, 1000).Select(i => $"D{i}").First(n => shardOwners[ShardOf(n)] == h))];
        return (healthy, dead);
    }

    private static OwnershipPlan Plan(IEnumerable<string> healthy, IEnumerable<string> dead) =>
        new([.. healthy.Concat(dead).Select(n => (n, (string?)null))], [("M1", [], true), ("M2", [], true)], Shards);

    private static string ShardOf(string outstation) => $"{OwnershipPlan.ShardPrefix}default/{Rendezvous.ShardOf(outstation, Shards)}";

    private string WriteConfig(int modemPort, string[] healthy, string[] dead, Dictionary<string, string> numbers)
    {
        var modem = "\"Endpoint\": \"tcp://127.0.0.1:" + modemPort + "\", \"CommandTimeout\": \"00:00:01\", \"DialTimeout\": \"00:00:10\", \"EscapeGuardTime\": \"00:00:00.300\"";
        var outstations = healthy.Select(h => $$"""{ "Name": "{{h}}", "Number": "{{numbers[h]}}", "Priority": 1, "Reads": [ { "Table": "Holding", "Count": 2 } ], "Interval": "00:00:20" }""")
            .Concat(dead.Select(d => $$"""{ "Name": "{{d}}", "Number": "{{numbers[d]}}", "Reads": [ { "Table": "Holding", "Count": 2 } ], "Interval": "00:10:00", "Backoff": { "Strategy": "Exponential", "Initial": "00:00:01", "Max": "00:00:01", "MaxAttempts": 10 } }"""));
        var path = Path.Combine(_dir.FullName, "host.json");
        File.WriteAllText(path, $$"""
            {
              "Modems": [ { "Name": "M1", {{modem}} }, { "Name": "M2", {{modem}} } ],
              "Outstations": [ {{string.Join(",\n", outstations)}} ],
              "RepeatCallGuard": { "Profile": "EU" },
              "ChannelManager": { "MinOnHookTime": "00:00:01", "HangUpTimeout": "00:00:05", "HealthCheckInterval": "01:00:00" },
              "Scheduler": { "MaxQueueTime": "00:05:00" },
              "Storage": { "Provider": "Postgres", "Mode": "ActiveActive", "Shards": {{Shards}}, "LeaseTime": "00:00:03" },
              "Log": { "Directory": "logs", "Level": "Information" }
            }
            """);
        return path;
    }


    /// <summary>Dials (not guard refusals) in the shared transaction log that started after <paramref name="since"/>.</summary>
    private async Task<List<(string Host, string Outstation, DateTimeOffset At)>> DialsSinceAsync(DateTimeOffset since)
    {
        var rows = new List<(string, string, DateTimeOffset)>();
        await using var connection = new Npgsql.NpgsqlConnection(Database);
        await connection.OpenAsync();
        await using var cmd = new Npgsql.NpgsqlCommand("SELECT host, outstation, started_at FROM transaction_log WHERE started_at > @since AND modem IS NOT NULL ORDER BY id;", connection);
        cmd.Parameters.AddWithValue("since", since);
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetString(0), reader.GetString(1), new DateTimeOffset(reader.GetDateTime(2), TimeSpan.Zero)));
        }

        return rows;
    }

    /// <summary>This host's share from /api/cluster: (outstations, modems).</summary>
    private static async Task<(int Outstations, int Modems)> SharesAsync(int port)
    {
        var shares = (await ActiveActiveHosts.ClusterAsync(port)).GetProperty("shares");
        return (shares.GetProperty("outstations").GetInt32(), shares.GetProperty("modems").GetInt32());
    }
}
