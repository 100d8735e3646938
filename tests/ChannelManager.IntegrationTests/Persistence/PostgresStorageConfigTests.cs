using ChannelManager.Core.Persistence;
using ChannelManager.Core.Scheduling;
using ChannelManager.Host.Hosting;
using ChannelManager.Persistence.Postgres;
using Microsoft.Extensions.DependencyInjection;

namespace ChannelManager.IntegrationTests.Persistence;

/// <summary>Issue 11 item 1: <c>Storage: { Provider: "Postgres", ConnectionString: … }</c> selects the shared store.</summary>
public sealed class PostgresStorageConfigTests : PostgresDatabaseTest, IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("cm-pgconfig-");

    public void Dispose() => _dir.Delete(recursive: true);

    private SettingsLoadResult Load(string storage)
    {
        var path = Path.Combine(_dir.FullName, "appsettings.json");
        File.WriteAllText(path, $$"""
            {
              "Modems": [ { "Name": "M1", "Endpoint": "sim://S1", "EscapeGuardTime": "00:00:00.300" } ],
              "Outstations": [ { "Name": "RTU", "Number": "01632960001", "Reads": [ { "Table": "Holding", "Count": 2 } ] } ],
              "Storage": {{storage}},
              "Log": { "File": false },
              "Simulation": { "Modems": [ { "Name": "S1" } ], "Lines": [ { "Number": "01632960001" } ] }
            }
            """);
        return SettingsLoader.Load(path, includeEnvironment: false);
    }

    [Fact]
    public void Load_PostgresWithoutConnectionString_ErrorNamesItAndNotThePath()
    {
        var errors = Load("""{ "Provider": "Postgres", "Path": "" }""").AllErrors();

        var error = Assert.Single(errors);
        Assert.Equal("Storage.ConnectionString", error.Path);
    }

    [Fact]
    public void Load_PostgresWithBrokenConnectionString_ErrorWithoutEchoingIt()
    {
        var errors = Load("""{ "Provider": "Postgres", "ConnectionString": "Host=db1;Pasword=hunter2-secret", "HostId": " " }""").AllErrors();

        Assert.Equal(["Storage.ConnectionString", "Storage.HostId"], errors.Select(e => e.Path));
        Assert.DoesNotContain(errors, e => e.ToString().Contains("hunter2-secret", StringComparison.Ordinal));
    }

    [Fact]
    public void Load_UnknownProvider_ErrorNamesTheChoices()
    {
        var errors = Load("""{ "Provider": "Oracle", "Path": "state.db" }""").AllErrors();

        Assert.Equal("Storage.Provider", Assert.Single(errors).Path);
    }

    [Fact]
    public void Load_ActiveActiveOnSqlite_ErrorNamesStorageMode()
    {
        var errors = Load("""{ "Provider": "Sqlite", "Path": "state.db", "Mode": "ActiveActive" }""").AllErrors();

        var error = Assert.Single(errors);
        Assert.Equal("Storage.Mode", error.Path);
        Assert.Contains("Postgres", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_UnknownModeAndNoShards_ErrorsNameTheirPaths()
    {
        var errors = Load("""{ "Provider": "Postgres", "ConnectionString": "Host=db1;Database=cm", "Mode": "Both", "Shards": 0 }""").AllErrors();

        Assert.Equal(["Storage.Mode", "Storage.Shards"], errors.Select(e => e.Path).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task CheckConfig_ActiveActive_PrintsTheModeAndDefaultsToHotStandby()
    {
        var path = Path.Combine(_dir.FullName, "appsettings.json");
        _ = Load("""{ "Provider": "Postgres", "ConnectionString": "Host=db1;Database=cm", "Mode": "ActiveActive" }""");
        using var output = new StringWriter();
        Assert.Equal(ExitCodes.Ok, await CommandLine.CheckConfigAsync(path, output, TextWriter.Null));
        Assert.Contains("mode ActiveActive", output.ToString(), StringComparison.Ordinal);

        Assert.Equal(StorageMode.HotStandby, Load("""{ "Provider": "Postgres", "ConnectionString": "Host=db1;Database=cm" }""").Settings.Storage.Mode);
    }

    [Fact]
    public async Task OpenStoreAsync_PostgresProvider_SharedStoreReachesTheRepeatCallBook()
    {
        var connection = Database.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);
        var loaded = Load($$"""{ "Provider": "Postgres", "ConnectionString": "{{connection}}", "HostId": "front-end-1" }""");
        Assert.Empty(loaded.AllErrors());

        await using var store = await Composition.OpenStoreAsync(loaded, CancellationToken.None);
        using var metrics = new ChannelManager.Host.Api.ChannelManagerMetrics();
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Services.AddChannelManager(loaded, store);
        // What the API does (ChannelManagerApi): it replaces the container's IStateStore with a decorator.
        builder.Services.AddSingleton<IStateStore>(new ChannelManager.Host.Api.MeteredStateStore(store, metrics));
        using var host = builder.Build();
        var book = host.Services.GetRequiredService<RepeatCallBook>();

        Assert.IsType<PostgresStateStore>(store);
        Assert.True(book.IsShared);
        Assert.True((await book.TryBeginAttemptAsync("01632960001", DateTimeOffset.UnixEpoch, "M1", CancellationToken.None)).Allowed);
        Assert.Equal("front-end-1", await PostgresTestServer.ScalarAsync(Database, "SELECT in_progress_host FROM ledger WHERE number = '01632960001';"));
        Assert.StartsWith("postgres://127.0.0.1:", Composition.DescribeStore(loaded), StringComparison.Ordinal);
    }
}
