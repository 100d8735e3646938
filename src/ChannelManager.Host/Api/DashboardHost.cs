using ChannelManager.Core.Channels;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Scheduling;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ChannelManager.Host.Api;

/// <summary>The live objects a stand-alone dashboard host reads (the same singletons the <c>run</c> host registers).</summary>
/// <param name="Metrics">The metrics the <paramref name="Store"/> already feeds (a <see cref="MeteredStateStore"/> built on it); null creates one, which then counts nothing but the gauges.</param>
public sealed record DashboardServices(
    ModemChannelManager Channels,
    PollScheduler Scheduler,
    RepeatCallBook Book,
    IStateStore Store,
    TimeProvider Time,
    ChannelManagerMetrics? Metrics = null);

/// <summary>
/// The API and dashboard on their own Kestrel server, for a process that is not itself a web host
/// (<c>demo --dashboard</c>, tests). Stop it with <see cref="DisposeAsync"/>.
/// </summary>
public sealed class DashboardHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private DashboardHost(WebApplication app, IReadOnlyList<Uri> addresses)
    {
        _app = app;
        Addresses = addresses;
    }

    /// <summary>The addresses actually bound (port 0 in <see cref="ApiOptions.Urls"/> becomes the port the system chose).</summary>
    public IReadOnlyList<Uri> Addresses { get; }

    /// <summary>The first bound address, e.g. <c>http://127.0.0.1:5080/</c>.</summary>
    public Uri BaseAddress => Addresses[0];

    /// <summary>Validates <paramref name="options"/> (throws on error), starts the server and returns once it listens.</summary>
    public static async Task<DashboardHost> StartAsync(DashboardServices services, ApiOptions options, CancellationToken cancellationToken, Action<ILoggingBuilder>? logging = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate(ApiOptions.SectionName).ToList();
        if (errors.Count > 0)
            throw new ArgumentException("Invalid API configuration: " + string.Join("; ", errors), nameof(options));
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        logging?.Invoke(builder.Logging);
        builder.Services.AddSingleton(services.Channels);
        builder.Services.AddSingleton(services.Scheduler);
        builder.Services.AddSingleton(services.Book);
        builder.Services.AddSingleton(services.Store);
        builder.Services.AddSingleton(services.Time);
        if (services.Metrics is { } metrics)
            builder.Services.AddSingleton(metrics);
        builder.AddChannelManagerApi(options);
        var app = builder.Build();
        app.MapChannelManagerApi();
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses
            .Select(a => new Uri(a.EndsWith('/') ? a : a + "/")).ToList() ?? [];
        if (addresses.Count == 0)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw new InvalidOperationException("The dashboard host started but reports no listening address.");
        }

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(ApiEndpoints.LoggerCategory);
        foreach (var a in addresses)
        {
            ApiLog.Listening(logger, a.ToString());
        }

        return new DashboardHost(app, addresses);
    }

    public async ValueTask DisposeAsync()
    {
        using (var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            await _app.StopAsync(stop.Token).ConfigureAwait(false);
        }

        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
