using System.Diagnostics;
using ChannelManager.Core;
using ChannelManager.Core.Scheduling;
using ChannelManager.IntegrationTests.Host;
using ChannelManager.IntegrationTests.Support;

namespace ChannelManager.IntegrationTests.Persistence;

/// <summary>
/// Issue 11 acceptance with real processes: two `channelmanager run` hosts on the test PostgreSQL database and ONE
/// simulated modem in its own process (so the exchange's call log spans both hosts). The active host is SIGKILLed while
/// a retry is ringing; the standby must take over within the configured lease time, close the interrupted dial as
/// failed, resume the retry — and the exchange's log must show no number dialled more often or sooner than the profile
/// allows across both hosts, and the healthy outstation polled once (not run twice).
/// </summary>
public sealed class TwoHostTakeoverTests : PostgresDatabaseTest, IDisposable
{
    private const string HealthyNumber = "01632960101";
    private const string DeadNumber = "01632960102";
    private static readonly TimeSpan LeaseTime = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Gap = CountryProfiles.EU.Gaps[0];

    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("cm-pair-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public async Task Run_ActiveHostKilledMidDial_StandbyTakesOverWithinTheLeaseAndNoRuleIsBroken()
    {
        await using var site = await HealthyAndDeadSite.StartAsync(_dir.FullName, HealthyNumber, DeadNumber, """{ "Provider": "Postgres", "LeaseTime": "00:00:03" }""");
        var modem = site.Modem;
        var config = site.ConfigPath;

        await using var a = StartHost(config, "fe-a");
        await a.WaitForLineAsync("Host fe-a is ACTIVE", TimeSpan.FromSeconds(60));
        await using var b = StartHost(config, "fe-b");
        await b.WaitForLineAsync("Host fe-b is STANDBY", TimeSpan.FromSeconds(60));

        await a.WaitForLineAsync("Retry of Dead after 1 failure(s)", TimeSpan.FromSeconds(60));
        await a.WaitForLineAsync("Dialling Dead", TimeSpan.FromSeconds(60));
        await HostProcess.WaitUntilRingingAsync(modem, DeadNumber);
        Assert.DoesNotContain("is ACTIVE", b.Output, StringComparison.Ordinal);
        a.Kill();
        var sinceKill = Stopwatch.StartNew();
        await a.WaitForExitAsync(TimeSpan.FromSeconds(10));

        await b.WaitForLineAsync("Host fe-b is ACTIVE (lease epoch 2, previous holder fe-a)", TimeSpan.FromSeconds(30));
        var takeover = sinceKill.Elapsed;
        await b.WaitForLineAsync("1 interrupted dials counted as failed", TimeSpan.FromSeconds(30));
        await b.WaitForLineAsync("Dialling Dead", TimeSpan.FromSeconds(60));
        await b.WaitForLineAsync("Poll of Dead on M1: NoAnswer", TimeSpan.FromSeconds(60));
        await HostProcess.TerminateAsync(b);
        Assert.True(await b.WaitForExitAsync(TimeSpan.FromSeconds(60)) == 0, b.Output);

        // Within the configured time: lease + the standby's retry interval (+ process scheduling slack).
        var worst = LeaseTime + (LeaseTime / 5);
        Assert.True(takeover <= worst + TimeSpan.FromSeconds(2), $"standby took over {takeover} after the kill (lease {LeaseTime})");

        // The exchange's own log, across both hosts: never two calls at once, the profile's gap between one on-hook and
        // the next off-hook, within the attempt limit; the healthy outstation polled once (its interval is 10 min).
        var calls = await HostProcess.CallsAsync(modem);
        var dead = calls.Where(c => c.Number == DeadNumber).OrderBy(c => c.At).ToList();
        Assert.All(calls, c => Assert.NotNull(c.EndedAt));
        Assert.Equal(3, dead.Count);
        Assert.True(dead.Count <= CountryProfiles.EU.MaxAttempts);
        for (var i = 1; i < dead.Count; i++)
        {
            var gap = dead[i].At - dead[i - 1].EndedAt!.Value; // asserted not null above
            Assert.True(gap >= Gap - TimeSpan.FromMilliseconds(50), $"dial {i + 1} came {gap} after the previous on-hook (profile gap {Gap})");
        }

        Assert.Single(calls, c => c.Number == HealthyNumber);

        // The shared database: every dial recorded once, by the host that made (or adopted) it.
        await using var store = await PostgresTestServer.OpenStoreAsync(Database, "checker");
        var log = await store.ReadTransactionsAsync(100, null, CancellationToken.None);
        Assert.Equal([OutcomeCode.Success], log.Where(t => t.Outstation == "Healthy").Select(t => t.Code));
        Assert.Equal([OutcomeCode.NoAnswer, OutcomeCode.DialTimeout, OutcomeCode.NoAnswer], log.Where(t => t.Outstation == "Dead").OrderBy(t => t.StartedAt).Select(t => t.Code));
        Assert.Equal(["fe-a", "fe-a", "fe-b", "fe-b"], await HostsAsync());
        var ledger = Assert.Single(await store.LoadLedgersAsync(CancellationToken.None), l => l.Number == DeadNumber);
        Assert.Equal((3, (AttemptRecord?)null), (ledger.AttemptsInSequence, ledger.InProgress));
    }

    /// <summary>The host column of the transaction log, oldest first (Healthy and Dead by fe-a, the adopted dial and the retry by fe-b).</summary>
    private async Task<IReadOnlyList<string>> HostsAsync()
    {
        var hosts = new List<string>();
        await using var connection = new Npgsql.NpgsqlConnection(Database);
        await connection.OpenAsync();
        await using var cmd = new Npgsql.NpgsqlCommand("SELECT host FROM transaction_log ORDER BY id;", connection);
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            hosts.Add(reader.GetString(0));
        }

        return hosts;
    }

    private ExternalProcess StartHost(string config, string hostId) =>
        HostProcess.Start("run", "--config", config, "--urls", "http://127.0.0.1:0", $"--Storage:HostId={hostId}", $"--Storage:ConnectionString={Database}", $"--Log:Directory=logs-{hostId}");
}
