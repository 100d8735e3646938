using System.Globalization;
using Microsoft.Extensions.Logging;
using Serilog;
using Serilog.Events;
using Serilog.Formatting.Json;

namespace ChannelManager.Host.Hosting;

/// <summary>
/// Serilog as the host's only sink (style.md "Logging"): the console and a daily rolling file. The Core's
/// [LoggerMessage] properties ({ModemName}, {Outstation}, {OutcomeCode}, …) stay structured in the file.
/// </summary>
internal static class LoggingSetup
{
    private const string ConsoleTemplate = "[{Timestamp:HH:mm:ss} {Level:u3}] {Message:lj}{NewLine}{Exception}";

    /// <param name="consoleToStandardError">One-shot verbs keep stdout for their own output (poll --json).</param>
    /// <param name="consoleLevel">The console's floor; the file always gets <see cref="LogSettings.Level"/>.</param>
    public static LoggerConfiguration Configure(LoggerConfiguration configuration, SettingsLoadResult loaded, bool consoleToStandardError, LogLevel? consoleLevel = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(loaded);
        var log = loaded.Settings.Log;
        var level = ToSerilog(log.Level);
        configuration
            .MinimumLevel.Is(level)
            .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
            .MinimumLevel.Override("Microsoft.Hosting.Lifetime", LogEventLevel.Information)
            .Enrich.FromLogContext()
            .WriteTo.Console(
                outputTemplate: ConsoleTemplate,
                formatProvider: CultureInfo.InvariantCulture,
                restrictedToMinimumLevel: consoleLevel is { } c ? ToSerilog(c) : level,
                standardErrorFromLevel: consoleToStandardError ? LogEventLevel.Verbose : null);
        if (log.File)
        {
            // One JSON object per line: every [LoggerMessage] property stays a field (ModemName, Outstation, OutcomeCode).
            configuration.WriteTo.File(
                new JsonFormatter(renderMessage: true, formatProvider: CultureInfo.InvariantCulture),
                Path.Combine(loaded.ResolvePath(log.Directory), "channelmanager-.log"),
                rollingInterval: RollingInterval.Day,
                retainedFileCountLimit: log.RetainedFiles,
                shared: true);
        }

        return configuration;
    }

    public static LogEventLevel ToSerilog(LogLevel level) => level switch
    {
        LogLevel.Trace => LogEventLevel.Verbose,
        LogLevel.Debug => LogEventLevel.Debug,
        LogLevel.Information => LogEventLevel.Information,
        LogLevel.Warning => LogEventLevel.Warning,
        LogLevel.Error => LogEventLevel.Error,
        _ => LogEventLevel.Fatal,
    };
}
