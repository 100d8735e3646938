using ChannelManager.Core;
using ChannelManager.Core.Scheduling;
using ChannelManager.IntegrationTests.Support;
using ChannelManager.Persistence.Sqlite;

namespace ChannelManager.IntegrationTests.Host;

/// <summary>
/// Issue 6 acceptance "crash test", with real processes: `channelmanager run` schedules polls through a simulated
/// modem in its own process (`channelmanager-sim modem --listen tcp://…`, so the exchange's call log outlives the
/// host) with its SQLite state on disk; it is SIGKILLed while a retry is being dialled and started again. The
/// simulator's call log and the state file then show: the pending retry resumed, no request was lost or repeated,
/// the ledger counted every dial (the interrupted one as failed), and no repeat-call rule was broken across the kill.
/// </summary>
public sealed class CrashRestartTests : IDisposable
{
    private const string HealthyNumber = "01632960101";
    private const string DeadNumber = "01632960102";

    /// <summary>The EU profile's minimum gap (15 attempts, 5 s; research/repeat-call-rules.md §3.3): short enough for real time.</summary>
    private static readonly TimeSpan Gap = CountryProfiles.EU.Gaps[0];

    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("cm-crash-");

    public void Dispose() => _dir.Delete(recursive: true);

    private string Db => Path.Combine(_dir.FullName, "state", "cm.db");

    [Fact]
    public async Task Run_KilledMidDialAndRestarted_ResumesRetriesWithoutLossDuplicatesOrRepeatCallViolations()
    {
        await using var site = await HealthyAndDeadSite.StartAsync(_dir.FullName, HealthyNumber, DeadNumber, """{ "Path": "state/cm.db" }""");
        var modem = site.Modem;
        var config = site.ConfigPath;

        // Life 1: Healthy is polled once; Dead fails (no answer) and its retry is SIGKILLed while the exchange rings it.
        DateTimeOffset killedAt;
        await using (var first = HostProcess.Start("run", "--config", config, "--urls", "http://127.0.0.1:0"))
        {
            await first.WaitForLineAsync("Retry of Dead after 1 failure(s)", TimeSpan.FromSeconds(60));
            await first.WaitForLineAsync("Dialling Dead", TimeSpan.FromSeconds(60));
            await HostProcess.WaitUntilRingingAsync(modem, DeadNumber);
            first.Kill();
            await first.WaitForExitAsync(TimeSpan.FromSeconds(10));
            killedAt = TimeProvider.System.GetUtcNow();
        }

        var beforeRestart = await HostProcess.CallsAsync(modem);
        Assert.Equal(2, beforeRestart.Count(c => c.Number == DeadNumber));
        Assert.Equal(1, beforeRestart.Count(c => c.Number == HealthyNumber));

        // Life 2: the interrupted dial is closed as failed, the retry resumes after the profile's gap, Healthy waits for its interval.
        await using (var second = HostProcess.Start("run", "--config", config, "--urls", "http://127.0.0.1:0"))
        {
            await second.WaitForLineAsync("1 interrupted dials counted as failed", TimeSpan.FromSeconds(60));
            await second.WaitForLineAsync("Dialling Dead", TimeSpan.FromSeconds(60));
            await second.WaitForLineAsync("Poll of Dead on M1: NoAnswer", TimeSpan.FromSeconds(60));
            await second.WaitForLineAsync("Dialling Dead", TimeSpan.FromSeconds(60));
            await second.WaitForLineAsync("Poll of Dead on M1: NoAnswer", TimeSpan.FromSeconds(60));
            await HostProcess.TerminateAsync(second);
            Assert.True(await second.WaitForExitAsync(TimeSpan.FromSeconds(60)) == 0, second.Output);
        }

        var calls = await HostProcess.CallsAsync(modem);
        var dead = calls.Where(c => c.Number == DeadNumber).OrderBy(c => c.At).ToList();
        Assert.Equal(4, dead.Count);
        Assert.True(dead[2].At > killedAt, "the third dial is from the restarted host");

        // No repeat-call violation in the exchange's own log: never two calls at once, at least the gap between
        // one on-hook and the next off-hook (across the kill too), and within the profile's attempt limit.
        Assert.All(calls, c => Assert.NotNull(c.EndedAt));
        Assert.True(dead.Count <= CountryProfiles.EU.MaxAttempts);
        for (var i = 1; i < dead.Count; i++)
        {
            var gap = dead[i].At - dead[i - 1].EndedAt!.Value; // asserted not null above
            Assert.True(gap >= Gap - TimeSpan.FromMilliseconds(50), $"dial {i + 1} came {gap} after the previous on-hook (profile gap {Gap})");
        }

        // Nothing lost or duplicated: Healthy was polled once in both lives (its interval is 10 min), every dial the
        // exchange saw is in the event log exactly once, and the interrupted one is there as the failed attempt.
        Assert.Single(calls, c => c.Number == HealthyNumber);
        await using var store = await SqliteStateStore.OpenAsync(new SqliteStateStoreOptions { Path = Db }, CancellationToken.None);
        var log = await store.ReadTransactionsAsync(100, null, CancellationToken.None);
        Assert.Equal([OutcomeCode.Success], log.Where(t => t.Outstation == "Healthy").Select(t => t.Code));
        Assert.Equal(
            [OutcomeCode.NoAnswer, OutcomeCode.DialTimeout, OutcomeCode.NoAnswer, OutcomeCode.NoAnswer],
            log.Where(t => t.Outstation == "Dead").OrderBy(t => t.StartedAt).Select(t => t.Code));

        // The ledger survived the kill and counted every dial that reached the line.
        var ledgers = await store.LoadLedgersAsync(CancellationToken.None);
        var deadLedger = Assert.Single(ledgers, l => l.Number == DeadNumber);
        Assert.Equal((4, (AttemptRecord?)null), (deadLedger.AttemptsInSequence, deadLedger.InProgress));
        var events = await store.ReadLedgerEventsAsync(100, DeadNumber, CancellationToken.None);
        Assert.Equal(dead.Count, events.Count(e => e.Kind == LedgerEventKind.AttemptStarted));
        Assert.Equal(LedgerState.Waiting, deadLedger.State);
    }
}
