using ChannelManager.Core.Channels;
using ChannelManager.Core.Persistence;
using ChannelManager.Host.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Serilog;

namespace ChannelManager.Host.Hosting;

/// <summary>
/// <c>channelmanager run --config PATH [--urls URLS]</c>: the service (design.md §5) on a WebApplication-based Generic
/// Host, so the HTTP API can be mapped on the same host. Runs as a console app, a systemd service (Type=notify) or a
/// Windows service.
/// </summary>
internal static class ServiceHost
{
    /// <summary>Default HTTP binding: loopback only (issue 8 item 5); <c>--urls</c> or <c>Api:Urls</c> overrides it.</summary>
    public static string DefaultUrls => new ApiOptions().Urls;

    public static async Task<int> RunAsync(string configPath, string? urls, IReadOnlyList<string> overrides, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(error);
        var loaded = SettingsLoader.Load(configPath, overrides);
        var errors = loaded.AllErrors();
        if (errors.Count > 0)
        {
            await ConfigReport.WriteErrorsAsync(error, configPath, errors).ConfigureAwait(false);
            return ExitCodes.BadConfig;
        }

        IStateStore store;
        try
        {
            store = await Composition.OpenStoreAsync(loaded, CancellationToken.None).ConfigureAwait(false);
        }
        catch (StateStoreException ex)
        {
            await error.WriteLineAsync($"{ex.Fault}: {ex.Message}").ConfigureAwait(false);
            return ExitCodes.StoreError;
        }

        try
        {
            var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [.. overrides], ContentRootPath = loaded.BaseDirectory });

            // Exactly the sources of check-config (file, CHANNELMANAGER_ environment, --Key=value), so what was
            // validated is what runs; WebApplication's own appsettings.json lookup would read a different file.
            builder.Configuration.Sources.Clear();
            builder.Configuration.AddConfiguration(loaded.Configuration);
            builder.Services.AddSerilog((_, lc) => LoggingSetup.Configure(lc, loaded, consoleToStandardError: false));
            builder.Services.AddSystemd();
            builder.Services.AddWindowsService(o => o.ServiceName = "ChannelManager");
            builder.Services.AddChannelManager(loaded, store);
            builder.Services.AddSharedStorage(loaded, store);

            // After AddChannelManager: the API wraps the registered IStateStore so every transaction is metered,
            // and listens on Api:Urls (loopback by default) unless --urls overrides it.
            builder.AddChannelManagerApi(loaded.Configuration, urls);
            var app = builder.Build();
            app.MapChannelManagerApi();

            await using (app.ConfigureAwait(false))
            {
                var exit = app.Services.GetRequiredService<ServiceExitState>();
                var logger = app.Services.GetRequiredService<ILogger<ChannelManagerService>>();
                try
                {
                    await app.StartAsync().ConfigureAwait(false);
                }
                catch (OptionsValidationException ex)
                {
                    await ConfigReport.WriteErrorsAsync(error, configPath, [.. ex.Failures.Select(f => ConfigReport.Parse(f))]).ConfigureAwait(false);
                    return ExitCodes.BadConfig;
                }
                catch (OperationCanceledException)
                {
                    // SIGTERM/SIGINT arrived while the host was still starting (e.g. Kestrel binding) after the
                    // scheduler had begun: stop what did start, so calls hang up and outcomes are written before
                    // the store is closed below — the same graceful path as a stop after start.
                    await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
                    Log.Stopped(logger);
                    return exit.ExitCode;
                }

                Log.Started(logger, app.Services.GetRequiredService<ModemChannelManager>().Modems.Count, loaded.Settings.Outstations.Count, Composition.DescribeStore(loaded));
                // Returns once SIGTERM/SIGINT (or a failure) has stopped the host: hosted services are stopped by then.
                await app.WaitForShutdownAsync().ConfigureAwait(false);
                Log.Stopped(logger);
                return exit.ExitCode;
            }
        }
        finally
        {
            // After the host: the scheduler has written every outcome and the modems are on-hook.
            await store.DisposeAsync().ConfigureAwait(false);
            await Serilog.Log.CloseAndFlushAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The host setting through which a test's <c>WebApplicationFactory&lt;Program&gt;</c> names the configuration file
    /// to run (see Program.cs). The factory starts the entry point with nothing but <c>--key=value</c> host settings,
    /// always including the application name; only that shape with this key is taken as a test host.
    /// </summary>
    public const string TestHostConfigKey = "ChannelManagerTestHost:Config";

    private const string TestHostApplicationNameKey = "applicationName";

    public static bool TryGetTestHostConfigPath(IReadOnlyList<string> args, out string configPath)
    {
        ArgumentNullException.ThrowIfNull(args);
        configPath = string.Empty;
        var settings = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var arg in args)
        {
            // A verb, an option without a value or a short option: a person typed this, so it is the command line's.
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (!arg.StartsWith("--", StringComparison.Ordinal) || eq < 3)
                return false;
            settings[arg[2..eq]] = arg[(eq + 1)..];
        }

        if (!settings.ContainsKey(TestHostApplicationNameKey) || !settings.TryGetValue(TestHostConfigKey, out var path) || string.IsNullOrWhiteSpace(path))
            return false;
        configPath = path;
        return true;
    }
}
