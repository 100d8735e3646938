using System.Diagnostics.Metrics;
using System.Reflection;
using ChannelManager.Core.Channels;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Scheduling;
using ChannelManager.Host.Hosting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;

namespace ChannelManager.Host.Api;

/// <summary>
/// Wiring of the HTTP API, dashboard and metrics (issue 8 items 5–7, issue 10 §4). The API reads only the
/// Core singletons the host registers: <see cref="ModemChannelManager"/>, <see cref="PollScheduler"/>,
/// <see cref="RepeatCallBook"/>, <see cref="IStateStore"/> and <see cref="TimeProvider"/>.
/// </summary>
public static class ChannelManagerApi
{
    private static readonly string[] DashboardFiles = ["index.html", "dashboard.js", "dashboard.css"];

    /// <summary>
    /// Binds the <c>Api</c> section of <paramref name="configuration"/> (with <paramref name="urls"/>, e.g. <c>run --urls</c>,
    /// overriding <see cref="ApiOptions.Urls"/>) and does <see cref="AddChannelManagerApi(WebApplicationBuilder, ApiOptions)"/>.
    /// </summary>
    public static WebApplicationBuilder AddChannelManagerApi(this WebApplicationBuilder builder, IConfiguration configuration, string? urls = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddChannelManagerApi(ApiOptions.From(configuration, urls));
    }

    /// <summary>
    /// Listens on <see cref="ApiOptions.Urls"/> and registers the API's services. Invalid options (e.g. a non-loopback
    /// URL without AllowRemote and a token) fail the host's start with an <see cref="OptionsValidationException"/>
    /// listing every error by path, before anything is bound.
    /// </summary>
    public static WebApplicationBuilder AddChannelManagerApi(this WebApplicationBuilder builder, ApiOptions options)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);
        builder.WebHost.UseUrls([.. options.UrlList]);
        builder.Services.AddChannelManagerApi(options);
        return builder;
    }

    /// <summary>
    /// Registers authentication (bearer token), OpenAPI, problem details, JSON settings, the request size limit and
    /// OpenTelemetry metrics with the Prometheus exporter, and validates <paramref name="options"/> on start
    /// (<see cref="ApiOptionsValidator"/>). Call it after registering <see cref="IStateStore"/>: the registration is
    /// wrapped in a <see cref="MeteredStateStore"/> so every transaction is counted — build the
    /// <see cref="RepeatCallBook"/> and <see cref="PollScheduler"/> from the container's <see cref="IStateStore"/>.
    /// </summary>
    public static IServiceCollection AddChannelManagerApi(this IServiceCollection services, ApiOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        services.AddSingleton(options);
        services.AddSingleton<IValidateOptions<ApiOptions>, ApiOptionsValidator>();
        services.AddOptions<ApiOptions>().Configure(o => options.CopyTo(o)).ValidateOnStart();
        services.TryAddSingleton(sp => new ChannelManagerMetrics(sp.GetService<IMeterFactory>()));
        // The run host registers its IP outstations first (ServiceRegistration); a host without them lists none.
        services.TryAddSingleton(IpOutstationSet.Empty);
        // The run host registers its role (AddSharedStorage); any other host is a single one.
        services.TryAddSingleton(ClusterView.SingleHost);
        DecorateStateStore(services);

        services.Configure<KestrelServerOptions>(k =>
        {
            k.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
            k.AddServerHeader = false;
        });
        services.ConfigureHttpJsonOptions(j => ApiJson.Configure(j.SerializerOptions));
        services.AddProblemDetails(p => p.CustomizeProblemDetails = ApiProblems.Customize);
        services.AddAuthentication(BearerTokenHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, BearerTokenHandler>(BearerTokenHandler.SchemeName, null);
        services.AddAuthorizationBuilder()
            .AddPolicy(BearerTokenHandler.OperatorPolicy, p => p.AddAuthenticationSchemes(BearerTokenHandler.SchemeName).RequireAuthenticatedUser());
        services.AddOpenApi(OpenApiSecurity.Configure);
        services.AddOpenTelemetry().WithMetrics(m => m
            .AddMeter(ChannelManagerMetrics.MeterName)
            .AddPrometheusExporter());
        return services;
    }

    /// <summary>Maps the endpoints, the dashboard at <c>/</c>, the event stream, <c>/metrics</c> and <c>/openapi/v1.json</c>.</summary>
    public static WebApplication MapChannelManagerApi(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var options = app.Services.GetRequiredService<ApiOptions>();
        app.Services.GetRequiredService<ChannelManagerMetrics>().Observe(
            app.Services.GetRequiredService<ModemChannelManager>(),
            app.Services.GetRequiredService<PollScheduler>(),
            app.Services.GetRequiredService<TimeProvider>());
        app.Services.GetRequiredService<ChannelManagerMetrics>().ObserveIpOutstations(app.Services.GetRequiredService<IpOutstationSet>());
        app.Services.GetRequiredService<ChannelManagerMetrics>().ObserveCluster(app.Services.GetRequiredService<ClusterView>());

        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.Use((context, next) =>
        {
            // DNS rebinding: a loopback-only API must not answer a page that reached it under a foreign name.
            if (!options.AllowRemote && !ApiOptions.IsLoopbackHost(context.Request.Host.Host))
                return ApiProblems.HostNotAllowed(context.Request.Host.Host).ExecuteAsync(context);
            JsonBody.LimitServer(context, options.MaxRequestBodyBytes);
            var headers = context.Response.Headers;
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            headers["Referrer-Policy"] = "no-referrer";
            headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'";
            return next(context);
        });
        app.UseAuthentication();
        app.UseAuthorization();

        var api = app.MapGroup("/api").WithTags("ChannelManager");
        api.MapGet("/modems", ApiEndpoints.Modems).WithName("GetModems").WithSummary("The modem bank: state, fault, error counts, current call");
        api.MapGet("/outstations", ApiEndpoints.Outstations).WithName("GetOutstations").WithSummary("Every outstation: last success/failure, next attempt, number state");
        api.MapGet("/ip-outstations", ApiEndpoints.IpOutstations).WithName("GetIpOutstations").WithSummary("Always-connected IP outstations: link state, learned heartbeat, reconnects, last poll");
        api.MapGet("/queue", ApiEndpoints.Queue).WithName("GetQueue").WithSummary("Running, requested and due polls");
        api.MapGet("/events", ApiEndpoints.EventsAsync).WithName("GetEvents").WithSummary("The transaction log, newest first (max 1..1000, default 50; optional outstation)")
            .Produces<List<EventDto>>().ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound);
        api.MapGet("/ledger", ApiEndpoints.LedgerAsync).WithName("GetLedger").WithSummary("The repeat-call ledger of every number and its recent events");
        api.MapGet("/alarms", ApiEndpoints.Alarms).WithName("GetAlarms").WithSummary("Operator alarms, newest first");
        api.MapGet("/cluster", ApiEndpoints.ClusterAsync).WithName("GetCluster").WithSummary("This host's role (Single, Active, Standby), its lease, and the peers in the shared lease table");
        api.MapGet("/snapshot", ApiEndpoints.SnapshotAsync).WithName("GetSnapshot").WithSummary("Everything the dashboard shows, in one document");
        api.MapGet("/stream", ApiEndpoints.Stream).WithName("GetStream").WithSummary("Server-sent events: 'snapshot' on every change");

        var operations = api.MapGroup(string.Empty).RequireAuthorization(BearerTokenHandler.OperatorPolicy)
            .ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status403Forbidden);
        operations.MapPost("/outstations/{name}/poll", ApiEndpoints.PollAsync).WithName("PollOutstation")
            .WithSummary("Poll now (dial-up: still subject to the repeat-call guard; IP: one poll on the open link); waits for the outcome unless wait=false; 409 on a standby host")
            .Produces<Hosting.PollReport>().Produces(StatusCodes.Status202Accepted).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        operations.MapPost("/ledger/{number}/reset", ApiEndpoints.ResetLedgerAsync).WithName("ResetLedger")
            .WithSummary("Operator reset of a number's repeat-call ledger (audited)")
            .Accepts<LedgerResetRequest>("application/json").Produces<LedgerDto>()
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status413PayloadTooLarge);
        operations.MapPost("/modems/{name}/out-of-service", ApiEndpoints.SetOutOfServiceAsync).WithName("SetModemOutOfService")
            .WithSummary("Take a modem out of service or return it (an in-call modem finishes its call)")
            .Accepts<OutOfServiceRequest>("application/json").Produces<ModemDto>()
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status413PayloadTooLarge);

        app.MapOpenApi();
        app.MapPrometheusScrapingEndpoint("/metrics");
        MapDashboard(app);
        return app;
    }

    /// <summary>
    /// The dashboard's three files are embedded resources served from a fixed list (issue 10 §4: no file path from
    /// user input reaches the file system).
    /// </summary>
    private static void MapDashboard(WebApplication app)
    {
        var assembly = typeof(ChannelManagerApi).Assembly;
        foreach (var file in DashboardFiles)
        {
            var route = file == "index.html" ? "/" : "/" + file;
            var contentType = Path.GetExtension(file) switch
            {
                ".html" => "text/html; charset=utf-8",
                ".js" => "text/javascript; charset=utf-8",
                _ => "text/css; charset=utf-8",
            };
            var content = ReadResource(assembly, file);
            app.MapGet(route, (HttpContext context) =>
            {
                context.Response.Headers.CacheControl = "no-cache";
                return Results.Bytes(content, contentType);
            }).ExcludeFromDescription();
        }
    }

    private static byte[] ReadResource(Assembly assembly, string file)
    {
        using var stream = assembly.GetManifestResourceStream("Dashboard/" + file)
            ?? throw new InvalidOperationException($"The dashboard file {file} is not embedded in {assembly.GetName().Name}.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>Wraps the registered <see cref="IStateStore"/> so its transactions are counted; the original registration's lifetime is kept.</summary>
    private static void DecorateStateStore(IServiceCollection services)
    {
        var original = services.LastOrDefault(d => d.ServiceType == typeof(IStateStore) && !d.IsKeyedService);
        if (original is null)
            return;
        if (original.ImplementationInstance is MeteredStateStore)
            return;
        services.Remove(original);
        services.Add(ServiceDescriptor.Describe(typeof(IStateStore), sp =>
        {
            // An instance the host registered is the host's to dispose; one the container built is the container's.
            var owned = original.ImplementationInstance is null;
            var inner = original.ImplementationInstance as IStateStore
                ?? original.ImplementationFactory?.Invoke(sp) as IStateStore
                ?? (IStateStore)ActivatorUtilities.CreateInstance(sp, original.ImplementationType!); // a non-keyed descriptor has an instance, a factory or a type.
            return inner is MeteredStateStore ? inner : new MeteredStateStore(inner, sp.GetRequiredService<ChannelManagerMetrics>(), owned);
        }, original.Lifetime));
    }
}
