extern alias ChannelManagerHost;

using System.Text.Json.Nodes;
using ChannelManager.Host.Hosting;
using ChannelManager.IntegrationTests.Host;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using HostProgram = ChannelManagerHost::Program;

namespace ChannelManager.IntegrationTests.Api;

/// <summary>
/// The real service host (<c>channelmanager run</c>) under <c>WebApplicationFactory&lt;Program&gt;</c> (the host's
/// Program; hardware-sim has one too, hence the extern alias), on the TestServer (no port). WebApplicationFactory runs Program's entry point with its host settings as <c>--key=value</c>
/// arguments (DeferredHostBuilder) and cannot name a verb, so this factory adds the host setting
/// <see cref="ServiceHost.TestHostConfigKey"/>; Program then runs <see cref="ServiceHost.RunAsync"/> on that file, whose
/// WebApplication picks up UseTestServer when it is built. The file is the repository's config/appsettings.json (the
/// simulated bank) with the state and logs in a temporary directory, an API token, and polls an hour apart so that
/// only the first round and the tests' own requests dial.
/// </summary>
public sealed class ChannelManagerFactory : WebApplicationFactory<HostProgram>
{
    public const string Token = "waf-test-token-0123456789abcdef";

    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("cm-waf-");

    /// <param name="configure">Changes to the configuration before it is written (e.g. a shared PostgreSQL store).</param>
    public ChannelManagerFactory(Action<JsonObject>? configure = null)
    {
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(HostProcess.RepositoryRoot, "config", "appsettings.json")))!.AsObject();
        config["Storage"]!["Path"] = Path.Combine(_dir.FullName, "state.db");
        config["Log"]!["Directory"] = Path.Combine(_dir.FullName, "logs");
        config["Api"]!["Token"] = Token;
        foreach (var outstation in config["Outstations"]!.AsArray())
            outstation!["Interval"] = "01:00:00";
        configure?.Invoke(config);
        ConfigPath = Path.Combine(_dir.FullName, "appsettings.json");
        File.WriteAllText(ConfigPath, config.ToJsonString());
    }

    public string ConfigPath { get; }

    /// <summary>The repository's configuration, as the tests expect it: the modem names in file order.</summary>
    public IReadOnlyList<string> ModemNames => [.. JsonNode.Parse(File.ReadAllText(ConfigPath))!["Modems"]!.AsArray().Select(m => (string)m!["Name"]!)];

    protected override IHost CreateHost(IHostBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);

        // Host configuration becomes the entry point's arguments (`--ChannelManagerTestHost:Config=PATH`).
        builder.ConfigureHostConfiguration(c => c.AddInMemoryCollection([new(ServiceHost.TestHostConfigKey, ConfigPath)]));
        return base.CreateHost(builder);
    }

    public override async ValueTask DisposeAsync()
    {
        // Stops the host: the entry point's ServiceHost.RunAsync then stops the scheduler and closes the store.
        await base.DisposeAsync();
        GC.SuppressFinalize(this);
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                _dir.Delete(recursive: true);
                return;
            }
            catch (IOException) when (attempt < 20)
            {
                // The entry point closes the SQLite file just after the host has stopped.
                await Task.Delay(TimeSpan.FromMilliseconds(100), TimeProvider.System);
            }
        }
    }
}

/// <summary>One real service host for a test class: started, with the first round of polls written, before any test.</summary>
public sealed class ChannelManagerHostFixture : IAsyncLifetime
{
    public ChannelManagerFactory Factory { get; } = new();

    public HttpClient Client { get; private set; } = null!; // set by InitializeAsync before any test runs.

    public Core.Persistence.IStateStore Store => Factory.Services.GetRequiredService<Core.Persistence.IStateStore>();

    public async Task InitializeAsync()
    {
        // CreateClient builds and starts the host through Program's entry point (the DeferredHost waits for its start).
        Client = Factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        Client.Timeout = TimeSpan.FromSeconds(60);
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var outstations = Factory.Services.GetRequiredService<Core.Scheduling.PollScheduler>().Status.Select(s => s.Name).ToList();
        while (true)
        {
            var written = (await Store.ReadTransactionsAsync(1000, null, bound.Token)).Select(t => t.Outstation).Distinct().Count();
            if (written >= outstations.Count)
                return;
            await Task.Delay(TimeSpan.FromMilliseconds(100), TimeProvider.System, bound.Token);
        }
    }

    public async Task DisposeAsync()
    {
        Client?.Dispose();
        await Factory.DisposeAsync();
    }
}
