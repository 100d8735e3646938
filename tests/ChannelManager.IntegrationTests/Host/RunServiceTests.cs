using ChannelManager.Core;
using ChannelManager.Persistence.Sqlite;

namespace ChannelManager.IntegrationTests.Host;

/// <summary>
/// Issue 8 acceptance "the service starts from config/appsettings.json": `channelmanager run` on the repository's
/// own file (the simulated bank), state and logs redirected by command-line overrides, stopped by SIGTERM.
/// </summary>
public sealed class RunServiceTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("cm-run-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public async Task Run_RepositoryConfig_PollsAndStopsGracefullyOnSigterm()
    {
        var db = Path.Combine(_dir.FullName, "state.db");
        var logs = Path.Combine(_dir.FullName, "logs");
        await using var host = HostProcess.Start(
            "run", "--config", Path.Combine(HostProcess.RepositoryRoot, "config", "appsettings.json"), "--urls", "http://127.0.0.1:0",
            $"--Storage:Path={db}", $"--Log:Directory={logs}");

        await host.WaitForLineAsync("Poll of RTU-01 on", TimeSpan.FromSeconds(60));
        await host.WaitForLineAsync("Poll of RTU-02 on", TimeSpan.FromSeconds(60));
        await HostProcess.TerminateAsync(host);
        var code = await host.WaitForExitAsync(TimeSpan.FromSeconds(60));

        Assert.True(code == 0, host.Output);
        Assert.Contains("ChannelManager stopped", host.Output, StringComparison.Ordinal);
        await using var store = await SqliteStateStore.OpenAsync(new SqliteStateStoreOptions { Path = db }, CancellationToken.None);
        var log = await store.ReadTransactionsAsync(100, null, CancellationToken.None);
        Assert.Contains(log, t => t is { Outstation: "RTU-01", Code: OutcomeCode.Success });
        Assert.Contains(log, t => t is { Outstation: "RTU-02", Code: OutcomeCode.Success });
        Assert.All(await store.LoadLedgersAsync(CancellationToken.None), l => Assert.Null(l.InProgress));
        var file = Assert.Single(Directory.GetFiles(logs));
        Assert.Contains("\"OutcomeCode\":\"Success\"", await File.ReadAllTextAsync(file), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_BrokenConfig_ExitsTwoBeforeStarting()
    {
        var path = Path.Combine(_dir.FullName, "broken.json");
        await File.WriteAllTextAsync(path, """{ "Modems": [ { "Name": "M1", "Port": "COM1" } ], "Outstations": [ { "Name": "A", "Number": "0123;ATH" } ] }""");

        var (code, output) = await HostProcess.RunAsync(TimeSpan.FromSeconds(60), "run", "--config", path);

        Assert.Equal(2, code);
        Assert.Contains("Outstations[0].Number", output, StringComparison.Ordinal);
        Assert.Contains("Outstations[0].Reads", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_SigtermMidDial_HangsUpAndClosesTheDialInTheLedger()
    {
        var config = Path.Combine(_dir.FullName, "silent.json");
        await File.WriteAllTextAsync(config, """
            {
              "Modems": [ { "Name": "M1", "Endpoint": "sim://S1", "CommandTimeout": "00:00:01", "DialTimeout": "00:01:00", "EscapeGuardTime": "00:00:00.300" } ],
              "Outstations": [ { "Name": "Mute", "Number": "01632960009", "Reads": [ { "Table": "Holding", "Count": 1 } ] } ],
              "ChannelManager": { "HangUpTimeout": "00:00:05" },
              "Storage": { "Path": "silent.db" },
              "Log": { "File": false },
              "Simulation": { "Modems": [ { "Name": "S1" } ], "Lines": [ { "Number": "01632960009", "Behaviour": "Silent" } ] }
            }
            """);
        await using var host = HostProcess.Start("run", "--config", config, "--urls", "http://127.0.0.1:0");

        await host.WaitForLineAsync("Dialling Mute", TimeSpan.FromSeconds(60));
        var stopping = TimeProvider.System.GetTimestamp();
        await HostProcess.TerminateAsync(host);
        var code = await host.WaitForExitAsync(TimeSpan.FromSeconds(60));

        // The dial would ring for a minute: the host stopped well before, so it cut the call rather than waiting.
        Assert.True(code == 0, host.Output);
        Assert.True(TimeProvider.System.GetElapsedTime(stopping) < TimeSpan.FromSeconds(30), host.Output);
        await using var store = await SqliteStateStore.OpenAsync(new SqliteStateStoreOptions { Path = Path.Combine(_dir.FullName, "silent.db") }, CancellationToken.None);
        var ledger = Assert.Single(await store.LoadLedgersAsync(CancellationToken.None));
        Assert.Null(ledger.InProgress);
        Assert.Equal(OutcomeCode.Cancelled, ledger.LastOutcome);

        // ATD had gone out, so the aborted dial may have reached the line: it counts as a failed attempt and the gap runs.
        Assert.Equal(1, ledger.AttemptsInSequence);
        var last = ledger.Recent[^1];
        Assert.True(last.Counted);
        Assert.NotNull(ledger.NextAllowedAt);
    }
}
