using ChannelManager.Core.Channels;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Scheduling;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChannelManager.Host.Hosting;

/// <summary>The service's DI graph (issue 8 item 1). Everything is a singleton: one bank, one ledger, one scheduler.</summary>
internal static class ServiceRegistration
{
    /// <summary>
    /// Registers: <see cref="ChannelManagerSettings"/> (IOptions, validated on start by
    /// <see cref="ChannelManagerSettingsValidator"/>, and as itself), <see cref="SettingsLoadResult"/>,
    /// <see cref="TimeProvider"/> (System), <see cref="IStateStore"/> (the opened store; the caller closes it after
    /// the host), <see cref="RepeatCallBook"/>, <see cref="SimulatedBank"/> (only with a Simulation section),
    /// <see cref="ModemChannelManager"/>, <see cref="PollTransaction"/> (also as <see cref="IPollExecutor"/>),
    /// <see cref="PollScheduler"/>, <see cref="ServiceExitState"/> and the hosted <see cref="ChannelManagerService"/>;
    /// for IP outstations the store as <see cref="IHeartbeatStore"/>, <see cref="IpOutstationSet"/> and the hosted
    /// <see cref="IpOutstationService"/>.
    /// </summary>
    public static IServiceCollection AddChannelManager(this IServiceCollection services, SettingsLoadResult loaded, IStateStore store)
    {
        ArgumentNullException.ThrowIfNull(loaded);
        ArgumentNullException.ThrowIfNull(store);
        services.AddSingleton(loaded);
        services.AddSingleton<IValidateOptions<ChannelManagerSettings>>(new ChannelManagerSettingsValidator(loaded.ReadErrors));
        services.AddOptions<ChannelManagerSettings>().Bind(loaded.Readable)
            .PostConfigure(s => SettingsLoader.BindIpOutstationSections(loaded.Readable, s, [])) // as SettingsLoader.Bind did; its errors are in ReadErrors
            .ValidateOnStart();
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<ChannelManagerSettings>>().Value);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(store);
        // The opened store itself, not the container's (the API decorates that one to meter transactions): a shared store's
        // ISharedLedgerStore must reach the book, or two hosts would each guard a number on their own copy (issue 11).
        services.AddSingleton(sp => new RepeatCallBook(sp.GetRequiredService<ChannelManagerSettings>().RepeatCallGuard.ResolveProfile(), store));
        if (loaded.Settings.Simulation is not null)
        {
            services.AddSingleton(sp => SimulatedBank.Start(sp.GetRequiredService<ChannelManagerSettings>().Simulation!, sp.GetRequiredService<TimeProvider>())); // registered only when present
        }

        services.AddSingleton(sp => Composition.CreateChannels(
            sp.GetRequiredService<ChannelManagerSettings>(),
            sp.GetService<SimulatedBank>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILoggerFactory>()));
        services.AddSingleton(sp => new PollTransaction(sp.GetRequiredService<ModemChannelManager>(), sp.GetRequiredService<RepeatCallBook>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<IPollExecutor>(sp => sp.GetRequiredService<PollTransaction>());
        services.AddSingleton(sp =>
        {
            var settings = sp.GetRequiredService<ChannelManagerSettings>();
            var time = sp.GetRequiredService<TimeProvider>();
            return new PollScheduler(
                Composition.CreateSchedules(settings, time, sp.GetRequiredService<ILoggerFactory>()),
                sp.GetRequiredService<IPollExecutor>(),
                sp.GetRequiredService<RepeatCallBook>(),
                sp.GetRequiredService<IStateStore>(),
                settings.Scheduler,
                time,
                Random.Shared.NextDouble,
                sp.GetRequiredService<ILogger<PollScheduler>>())
            {
                // Issue 6: as many polls at once as each pool has usable modems (Scheduler.MaxConcurrency, if set, caps it).
                Capacity = new ChannelManagerCapacity(sp.GetRequiredService<ModemChannelManager>()),
            };
        });
        services.AddSingleton<ServiceExitState>();
        services.AddHostedService<ChannelManagerService>();

        // Issue 7: the always-connected IP outstations; their learned heartbeats live in the same state file.
        if (store is IHeartbeatStore heartbeats)
        {
            services.AddSingleton(heartbeats);
        }

        services.AddSingleton(sp => new IpOutstationSet([.. sp.GetRequiredService<ChannelManagerSettings>().IpOutstations.Select(o => Composition.CreateIpOutstation(
            o, sp.GetRequiredService<TimeProvider>(), sp.GetService<IHeartbeatStore>(), sp.GetRequiredService<ILoggerFactory>()))]));
        services.AddHostedService<IpOutstationService>();

        // In-flight calls get their hang-up (HangUpTimeout) plus a margin for the Modbus exchange to end.
        services.Configure<HostOptions>(o => o.ShutdownTimeout = loaded.Settings.ChannelManager.HangUpTimeout + TimeSpan.FromSeconds(15));
        return services;
    }
}
