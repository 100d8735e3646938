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
}
