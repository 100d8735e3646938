using ChannelManager.Core.Channels;
using ChannelManager.Core.Modems;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Scheduling;
using ChannelManager.Host.Hosting;
using ChannelManager.Persistence.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace ChannelManager.Tests.Hosting;

/// <summary>The service's DI graph (what `run` and the HTTP API resolve) and its ValidateOnStart wiring.</summary>
public sealed class ServiceRegistrationTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("cm-di-");

    public void Dispose() => _dir.Delete(recursive: true);

    private SettingsLoadResult Load(string json)
    {
        var path = Path.Combine(_dir.FullName, "appsettings.json");
        File.WriteAllText(path, json);
        return SettingsLoader.Load(path, includeEnvironment: false);
    }

    private static string Simulated(string number) => $$"""
        {
          "Modems": [ { "Name": "M1", "Endpoint": "sim://S1", "EscapeGuardTime": "00:00:00.300" } ],
          "Outstations": [ { "Name": "RTU", "Number": "{{number}}", "Reads": [ { "Table": "Holding", "Count": 2 } ] } ],
          "Storage": { "Path": "state.db" },
          "Log": { "File": false },
          "Simulation": { "Modems": [ { "Name": "S1" } ], "Lines": [ { "Number": "01632960001" } ] }
        }
        """;

    [Fact]
    public async Task AddChannelManager_SimulatedConfig_ResolvesOneOfEachSingleton()
    {
        var loaded = Load(Simulated("01632960001"));
        await using var store = await SqliteStateStore.OpenAsync(new SqliteStateStoreOptions { Path = loaded.ResolvePath("state.db") }, CancellationToken.None);
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Services.AddChannelManager(loaded, store);
        using var host = builder.Build();

        var services = host.Services;
        Assert.Same(store, services.GetRequiredService<IStateStore>());
        Assert.Same(TimeProvider.System, services.GetRequiredService<TimeProvider>());
        Assert.Equal("UK", services.GetRequiredService<RepeatCallBook>().Profile.Name);
        Assert.Equal(["M1"], services.GetRequiredService<ModemChannelManager>().Modems.Select(m => m.Name));
        Assert.Same(services.GetRequiredService<PollTransaction>(), services.GetRequiredService<IPollExecutor>());
        Assert.Equal(["RTU"], services.GetRequiredService<PollScheduler>().Status.Select(s => s.Name));
        Assert.Same(services.GetRequiredService<PollScheduler>(), services.GetRequiredService<PollScheduler>());
        Assert.NotNull(services.GetRequiredService<SimulatedBank>());
        Assert.Single(services.GetServices<IHostedService>(), s => s is ChannelManagerService);
    }

    [Fact]
    public async Task StartAsync_InvalidSettings_ValidateOnStartFailsWithEveryPath()
    {
        var loaded = Load(Simulated("0123;ATH").Replace("\"Count\": 2", "\"Count\": \"two\"", StringComparison.Ordinal));
        await using var store = await SqliteStateStore.OpenAsync(new SqliteStateStoreOptions { Path = loaded.ResolvePath("state.db") }, CancellationToken.None);
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Services.AddChannelManager(loaded, store);
        using var host = builder.Build();

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal(["Outstations[0].Reads[0].Count", "Outstations[0].Number"], ex.Failures.Select(f => ConfigReport.Parse(f).Path));
    }

    [Fact]
    public async Task AddChannelManager_LoaderFixUp_IsTheOptionsValueWithoutASecondBinding()
    {
        // A fix-up only the loader makes (as BindIpOutstationSections does): the configuration says otherwise, so an
        // options pipeline that bound the configuration again would lose it.
        var loaded = Load(Simulated("01632960001"));
        loaded.Settings.Scheduler.MaxConcurrency = 3;
        await using var store = await SqliteStateStore.OpenAsync(new SqliteStateStoreOptions { Path = loaded.ResolvePath("state.db") }, CancellationToken.None);
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Services.AddChannelManager(loaded, store);
        using var host = builder.Build();

        var options = host.Services.GetRequiredService<IOptions<ChannelManagerSettings>>().Value;

        Assert.Same(loaded.Settings, options);
        Assert.Equal(3, options.Scheduler.MaxConcurrency);
        Assert.Same(loaded.Settings, host.Services.GetRequiredService<ChannelManagerSettings>());
    }

    [Fact]
    public async Task StartAsync_LoaderResultInvalid_ValidateOnStartChecksTheLoadersSettings()
    {
        // Valid as configured, made invalid after loading: ValidateOnStart must judge what runs, the loader's result.
        var loaded = Load(Simulated("01632960001"));
        loaded.Settings.Outstations[0].Number = "0123;ATH";
        await using var store = await SqliteStateStore.OpenAsync(new SqliteStateStoreOptions { Path = loaded.ResolvePath("state.db") }, CancellationToken.None);
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Services.AddChannelManager(loaded, store);
        using var host = builder.Build();

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal([$"Outstations[0].Number: {DialString.Validate("0123;ATH")}"], ex.Failures);
    }
}
