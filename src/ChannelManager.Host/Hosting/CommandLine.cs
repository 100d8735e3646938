using System.CommandLine;
using System.Globalization;
using ChannelManager.Core;
using ChannelManager.Core.Modems;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Scheduling;
using ChannelManager.Host.Api;
using ChannelManager.Host.Demo;
using Microsoft.Extensions.Logging;
using Serilog.Extensions.Logging;
using Spectre.Console;

namespace ChannelManager.Host.Hosting;

/// <summary>The `channelmanager` verbs, exactly as design.md §5; exit codes in <see cref="ExitCodes"/>.</summary>
internal static class CommandLine
{
    private static readonly string[] ModemsHeader = ["MODEM", "LINK", "AT", "TIME", "ATI"];
    private static readonly string[] LedgerHeader = ["NUMBER", "OUTSTATION", "STATE", "ATTEMPTS", "LAST OUTCOME", "LAST ON-HOOK", "NEXT ALLOWED", "LOCK"];

    public static async Task<int> RunAsync(string[] args)
    {
        var hours = new Option<double>("--hours")
        {
            Description = "Simulated hours to run (the idle gaps between calls are skipped; calls run in real time).",
            DefaultValueFactory = _ => 3,
        };
        hours.Validators.Add(r =>
        {
            if (r.GetValue(hours) is not (> 0 and <= 24))
                r.AddError("--hours must be more than 0 and at most 24.");
        });
        var dashboard = new Option<bool>("--dashboard") { Description = "Also serve the HTTP API and live dashboard (default http://127.0.0.1:5080, see --dashboard-urls) and keep serving it after the summary until Ctrl+C." };
        var dashboardUrls = new Option<string>("--dashboard-urls") { Description = "Where --dashboard listens (loopback only).", DefaultValueFactory = _ => new ApiOptions().Urls };
        var demo = new Command("demo", "Run the real scheduler and Channel Manager over the embedded simulated modem bank and scripted outstations for a few simulated hours; needs no hardware and no config.")
        {
            hours,
            dashboard,
            dashboardUrls,
        };
        demo.SetAction(async (parseResult, ct) =>
        {
            var console = AnsiConsole.Console;
            var live = !Console.IsOutputRedirected && console.Profile.Capabilities.Interactive;
            if (!live)
            {
                // A log file or CI: plain rows, not wrapped at the default 80 columns.
                console.Profile.Width = 160;
            }

            var report = await DemoRunner.RunAsync(console, TimeProvider.System, new DemoOptions
            {
                Duration = TimeSpan.FromHours(parseResult.GetValue(hours)),
                Live = live,
                DashboardUrls = parseResult.GetValue(dashboard) ? parseResult.GetValue(dashboardUrls) : null,
                HoldDashboard = parseResult.GetValue(dashboard),
            }, ct).ConfigureAwait(false);
            return report.Completed && report.RepeatCallViolations.Count == 0 && report.ExchangeViolations.Count == 0 ? 0 : 1;
        });

        var run = new Command("run", "Run the service (Generic Host; console, systemd Type=notify or Windows service): schedules polls, health-checks modems. "
            + "Extra --Section:Key=value arguments override the file. Exit: 0 stopped cleanly, 2 bad config, 3 state store error, 4 run-time failure.")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        var runConfig = ConfigOption();
        var urls = new Option<string>("--urls") { Description = $"HTTP API binding(s), e.g. http://127.0.0.1:5080 (default {ServiceHost.DefaultUrls})." };
        run.Options.Add(runConfig);
        run.Options.Add(urls);
        run.SetAction((parse, _) => ServiceHost.RunAsync(parse.GetRequiredValue(runConfig), parse.GetValue(urls), [.. parse.UnmatchedTokens], Console.Error));

        var check = new Command("check-config", "Validate the configuration and print every error with its JSON path. Exit: 0 valid, 2 errors.");
        var checkConfig = ConfigOption();
        check.Options.Add(checkConfig);
        check.SetAction((parse, _) => CheckConfigAsync(parse.GetRequiredValue(checkConfig), Console.Out, Console.Error));

        var poll = new Command("poll", "Poll one outstation now (dial-up: one transaction through the repeat-call guard, never redials; IP: connect, one poll, close). Exit: 0 Success, 1 any other outcome, 2 bad config or usage, 3 state store error.");
        var pollConfig = ConfigOption();
        var outstation = new Option<string>("--outstation") { Description = "The outstation's Name in the configuration.", Required = true };
        var json = new Option<bool>("--json") { Description = "Print {outstation, outcome, category, modem, modemsTried[], reply, values[], startedAt, endedAt}." };
        poll.Options.Add(pollConfig);
        poll.Options.Add(outstation);
        poll.Options.Add(json);
        poll.SetAction((parse, ct) => PollAsync(parse.GetRequiredValue(pollConfig), parse.GetRequiredValue(outstation), parse.GetValue(json), Console.Out, Console.Error, ct));

        var modems = new Command("modems", "Probe each configured modem (AT, ATI) and print its health. Exit: 0 all answered, 1 a modem failed, 2 bad config.");
        var modemsConfig = ConfigOption();
        modems.Options.Add(modemsConfig);
        modems.SetAction((parse, ct) => ModemsAsync(parse.GetRequiredValue(modemsConfig), Console.Out, Console.Error, ct));

        var ledger = new Command("ledger", "Show the repeat-call ledger; --reset NUMBER --operator NAME clears a number's lock (logged with the operator's name). Exit: 0 ok, 2 bad config or usage, 3 state store error.");
        var ledgerConfig = ConfigOption();
        var reset = new Option<string>("--reset") { Description = "The number whose ledger is reset (as in the configuration)." };
        var operatorName = new Option<string>("--operator") { Description = "Who resets the ledger (required with --reset; kept in the audit log)." };
        var reason = new Option<string>("--reason") { Description = "Why (kept in the audit log).", DefaultValueFactory = _ => "operator reset from the command line" };
        ledger.Options.Add(ledgerConfig);
        ledger.Options.Add(reset);
        ledger.Options.Add(operatorName);
        ledger.Options.Add(reason);
        ledger.SetAction((parse, ct) => LedgerAsync(parse.GetRequiredValue(ledgerConfig), parse.GetValue(reset), parse.GetValue(operatorName), parse.GetValue(reason) ?? string.Empty, Console.Out, Console.Error, ct));

        var root = new RootCommand("ChannelManager: telemetry channel manager for SCADA front-end servers (modem pools, Modbus RTU, repeat-call rules). " + ExitCodes.HelpText)
        {
            demo,
            run,
            check,
            poll,
            modems,
            ledger,
        };

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0 && !args.Any(a => a is "-h" or "--help" or "-?"))
        {
            foreach (var e in parsed.Errors)
            {
                await Console.Error.WriteLineAsync(e.Message).ConfigureAwait(false);
            }

            await Console.Error.WriteLineAsync("Try 'channelmanager --help'.").ConfigureAwait(false);
            return ExitCodes.BadConfig;
        }

        // `run` leaves SIGTERM/SIGINT to the Generic Host (graceful shutdown, systemd); the other verbs use the
        // parser's Ctrl+C cancellation.
        var configuration = parsed.CommandResult.Command == run ? new InvocationConfiguration { ProcessTerminationTimeout = null } : null;
        return await parsed.InvokeAsync(configuration).ConfigureAwait(false);
    }

    private static Option<string> ConfigOption() => new("--config") { Description = "The JSON configuration file (see config/appsettings.example.json).", Required = true };

    internal static async Task<int> CheckConfigAsync(string configPath, TextWriter output, TextWriter error)
    {
        var loaded = SettingsLoader.Load(configPath);
        var errors = loaded.AllErrors();
        if (errors.Count > 0)
        {
            await ConfigReport.WriteErrorsAsync(error, configPath, errors).ConfigureAwait(false);
            return ExitCodes.BadConfig;
        }

        var s = loaded.Settings;
        await output.WriteLineAsync($"{configPath}: OK ({s.Modems.Count} modems, {s.Outstations.Count} outstations, {s.IpOutstations.Count} IP outstations, profile {s.RepeatCallGuard.Profile}, state {Composition.DescribeStore(loaded)}{(s.Storage.Provider == StorageProvider.Postgres ? $", mode {s.Storage.Mode}" : string.Empty)})").ConfigureAwait(false);
        foreach (var ip in s.IpOutstations)
        {
            await output.WriteLineAsync($"  IP outstation {ip.Describe()}").ConfigureAwait(false);
        }

        return ExitCodes.Ok;
    }

    internal static async Task<int> PollAsync(string configPath, string name, bool json, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        await using var session = await OneShot.OpenAsync(configPath, error, openStore: true, cancellationToken).ConfigureAwait(false);
        if (session.ExitCode is { } failed)
        {
            return failed;
        }

        var settings = session.Loaded.Settings;
        var outstation = settings.Outstations.FirstOrDefault(o => o.Name == name) ?? settings.Outstations.FirstOrDefault(o => string.Equals(o.Name, name, StringComparison.OrdinalIgnoreCase));
        if (outstation is null)
        {
            var ip = settings.IpOutstations.FirstOrDefault(o => o.Name == name) ?? settings.IpOutstations.FirstOrDefault(o => string.Equals(o.Name, name, StringComparison.OrdinalIgnoreCase));
            if (ip is not null)
            {
                return await PollIpAsync(session, ip, json, output, error, cancellationToken).ConfigureAwait(false);
            }

            await error.WriteLineAsync($"--outstation: no outstation named '{name}' (have {string.Join(", ", settings.Outstations.Select(o => o.Name).Concat(settings.IpOutstations.Select(o => o.Name)))})").ConfigureAwait(false);
            return ExitCodes.BadConfig;
        }

        try
        {
            var channels = session.Channels();
            var book = new RepeatCallBook(settings.RepeatCallGuard.ResolveProfile(), session.Store);
            await book.LoadAsync(session.Time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
            var outcome = await new PollTransaction(channels, book, session.Time)
                .RunAsync(Composition.CreateRequest(outstation, session.Time, session.LoggerFactory), cancellationToken).ConfigureAwait(false);
            await session.Store!.AppendTransactionAsync(
                new TransactionRecord(outcome.StartedAt, outcome.EndedAt, outcome.Outstation, outcome.Number, outcome.Code, outcome.Modem, [.. outcome.ModemsTried.Select(m => m.ModemName)], outcome.Reply),
                cancellationToken).ConfigureAwait(false); // opened: openStore is true
            Log.PollDone(session.Logger, outcome.Outstation, outcome.Modem, outcome.Code, outcome.Category);
            var report = PollReport.From(outcome);
            if (json)
            {
                await output.WriteLineAsync(report.ToJson()).ConfigureAwait(false);
            }
            else
            {
                await output.WriteLineAsync($"{report.Outstation}: {report.Outcome} ({report.Category}, counted against {outcome.CountedAgainst})").ConfigureAwait(false);
                await output.WriteLineAsync($"  modem {report.Modem ?? "-"}; tried {string.Join(", ", outcome.ModemsTried.Select(m => $"{m.ModemName}={m.Code}"))}").ConfigureAwait(false);
                await output.WriteLineAsync($"  reply {report.Reply}").ConfigureAwait(false);
                await output.WriteLineAsync($"  values [{string.Join(", ", report.Values)}]").ConfigureAwait(false);
                await output.WriteLineAsync($"  {report.StartedAt:O} .. {report.EndedAt:O}").ConfigureAwait(false);
                if (outcome.NextAllowedAt is { } next)
                {
                    await output.WriteLineAsync($"  next call allowed at {next:O}").ConfigureAwait(false);
                }
            }

            return outcome.IsSuccess ? ExitCodes.Ok : ExitCodes.Failed;
        }
        catch (StateStoreException ex)
        {
            await error.WriteLineAsync($"{ex.Fault}: {ex.Message}").ConfigureAwait(false);
            return ExitCodes.StoreError;
        }
    }

    /// <summary>
    /// An IP outstation (docs/ip-outstations.md §8): connect, one poll with its configured reads (bounded by its
    /// MaxPollWait), close. Recorded in the event log as the <c>run</c> host records its polls. The learned heartbeat is
    /// neither read nor written: one poll teaches nothing about the link's idle timeout.
    /// </summary>
    private static async Task<int> PollIpAsync(OneShot session, IpOutstationSettings settings, bool json, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        try
        {
            await using var ip = Composition.CreateIpOutstation(settings, session.Time, heartbeats: null, session.LoggerFactory);
            await ip.Channel.StartAsync(cancellationToken).ConfigureAwait(false);
            var done = await ip.PollAndRecordAsync(session.Store!, session.Logger, cancellationToken).ConfigureAwait(false); // opened: openStore is true
            var report = PollReport.From(done.Result, done.Record);
            if (json)
            {
                await output.WriteLineAsync(report.ToJson()).ConfigureAwait(false);
            }
            else
            {
                await output.WriteLineAsync($"{report.Outstation}: {report.Outcome} ({report.Category}, counted against {report.CountedAgainst})").ConfigureAwait(false);
                await output.WriteLineAsync($"  endpoint {report.Number} ({settings.Protocol}, unit {settings.UnitId})").ConfigureAwait(false);
                await output.WriteLineAsync($"  reply {report.Reply}").ConfigureAwait(false);
                await output.WriteLineAsync($"  values [{string.Join(", ", report.Values)}]").ConfigureAwait(false);
                await output.WriteLineAsync($"  {report.StartedAt:O} .. {report.EndedAt:O}").ConfigureAwait(false);
            }

            return done.Result.IsSuccess ? ExitCodes.Ok : ExitCodes.Failed;
        }
        catch (StateStoreException ex)
        {
            await error.WriteLineAsync($"{ex.Fault}: {ex.Message}").ConfigureAwait(false);
            return ExitCodes.StoreError;
        }
    }

    internal static async Task<int> ModemsAsync(string configPath, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        await using var session = await OneShot.OpenAsync(configPath, error, openStore: false, cancellationToken).ConfigureAwait(false);
        if (session.ExitCode is { } failed)
        {
            return failed;
        }

        var rows = new List<string[]> { ModemsHeader };
        var allOk = true;
        foreach (var m in session.Loaded.Settings.Modems)
        {
            var transport = SettingsValidator.IsSimulated(m)
                ? session.Simulated!.HostEnds[SettingsValidator.SimulatedName(m)] // validated: sim:// needs the Simulation section
                : ModemBankFactory.CreateTransport(m, session.Time);
            await using var modem = new AtModem(transport, ownsTransport: true, m.ToAtModemOptions(), session.Time, session.LoggerFactory.CreateLogger<AtModem>());
            var at = await modem.CheckAsync(cancellationToken).ConfigureAwait(false);
            var ati = at.IsSuccess ? await modem.IdentifyAsync(cancellationToken).ConfigureAwait(false) : null;
            Log.Probed(session.Logger, m.Name, at.Code);
            allOk &= at.IsSuccess;
            var identity = ati is { IsSuccess: true } ? string.Join(" | ", ati.RawReply.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => l is not ("OK" or "ATI"))) : ati?.Code.ToString() ?? "-";
            rows.Add([m.Name, m.Port ?? m.Endpoint ?? "-", at.IsSuccess ? "OK" : $"{at.Code}: {at.RawReply.ReplaceLineEndings(" ").Trim()}", $"{at.Elapsed.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture)} ms", identity]);
        }

        await WriteTableAsync(output, rows).ConfigureAwait(false);
        return allOk ? ExitCodes.Ok : ExitCodes.Failed;
    }

    internal static async Task<int> LedgerAsync(string configPath, string? reset, string? operatorName, string reason, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        if (reset is not null && string.IsNullOrWhiteSpace(operatorName))
        {
            await error.WriteLineAsync("--reset needs --operator NAME: every reset is logged with the operator's name (research/repeat-call-rules.md §3.4).").ConfigureAwait(false);
            return ExitCodes.BadConfig;
        }

        if (reset is null && operatorName is not null)
        {
            await error.WriteLineAsync("--operator is only used with --reset NUMBER.").ConfigureAwait(false);
            return ExitCodes.BadConfig;
        }

        await using var session = await OneShot.OpenAsync(configPath, error, openStore: true, cancellationToken, simulate: false).ConfigureAwait(false);
        if (session.ExitCode is { } failed)
        {
            return failed;
        }

        var settings = session.Loaded.Settings;
        var store = session.Store!; // openStore: true
        try
        {
            if (reset is not null)
            {
                if (DialString.Validate(reset) is { } problem)
                {
                    await error.WriteLineAsync($"--reset: {problem}").ConfigureAwait(false);
                    return ExitCodes.BadConfig;
                }

                var book = new RepeatCallBook(settings.RepeatCallGuard.ResolveProfile(), store);
                await book.LoadAsync(session.Time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
                var update = await book.OperatorResetAsync(reset, operatorName!, reason, session.Time.GetUtcNow(), cancellationToken).ConfigureAwait(false); // checked above
                Log.LedgerReset(session.Logger, reset, operatorName!, reason);
                await output.WriteLineAsync($"{reset}: reset by {operatorName}; state {update.Ledger.State}").ConfigureAwait(false);
            }

            var ledgers = await store.LoadLedgersAsync(cancellationToken).ConfigureAwait(false);
            var byNumber = ledgers.ToDictionary(l => l.Number, StringComparer.Ordinal);
            var numbers = settings.Outstations.Select(o => o.Number).Concat(ledgers.Select(l => l.Number)).Distinct(StringComparer.Ordinal);
            var now = session.Time.GetUtcNow();
            var rows = new List<string[]> { LedgerHeader };
            foreach (var number in numbers)
            {
                var l = byNumber.GetValueOrDefault(number) ?? new NumberLedger(number);
                var names = string.Join(",", settings.Outstations.Where(o => o.Number == number).Select(o => o.Name));
                rows.Add([
                    number,
                    names.Length == 0 ? "-" : names,
                    l.StateAt(now).ToString(),
                    l.AttemptsInSequence.ToString(CultureInfo.InvariantCulture),
                    l.LastOutcome?.ToString() ?? "-",
                    l.LastOnHook?.ToString("O", CultureInfo.InvariantCulture) ?? "-",
                    l.NextAllowedAt?.ToString("O", CultureInfo.InvariantCulture) ?? "-",
                    l.LockReason ?? "-",
                ]);
            }

            await WriteTableAsync(output, rows).ConfigureAwait(false);
            return ExitCodes.Ok;
        }
        catch (StateStoreException ex)
        {
            await error.WriteLineAsync($"{ex.Fault}: {ex.Message}").ConfigureAwait(false);
            return ExitCodes.StoreError;
        }
    }

    private static async Task WriteTableAsync(TextWriter output, List<string[]> rows)
    {
        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        foreach (var row in rows)
        {
            await output.WriteLineAsync(string.Join("  ", row.Select((cell, c) => c == row.Length - 1 ? cell : cell.PadRight(widths[c]))).TrimEnd()).ConfigureAwait(false);
        }
    }

    /// <summary>What a one-shot verb needs: validated settings, logging to stderr + file, optionally the store and the bank.</summary>
    private sealed class OneShot : IAsyncDisposable
    {
        private readonly List<IAsyncDisposable> _owned = [];
        private Core.Channels.ModemChannelManager? _channels;

        private OneShot(SettingsLoadResult loaded)
        {
            Loaded = loaded;
        }

        public SettingsLoadResult Loaded { get; }

        public int? ExitCode { get; private set; }

        public TimeProvider Time { get; } = TimeProvider.System;

        public ILoggerFactory LoggerFactory { get; private set; } = Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance;

        public Microsoft.Extensions.Logging.ILogger Logger { get; private set; } = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

        public IStateStore? Store { get; private set; }

        public SimulatedBank? Simulated { get; private set; }

        public static async Task<OneShot> OpenAsync(string configPath, TextWriter error, bool openStore, CancellationToken cancellationToken, bool simulate = true)
        {
            var loaded = SettingsLoader.Load(configPath);
            var session = new OneShot(loaded);
            var errors = loaded.AllErrors();
            if (errors.Count > 0)
            {
                await ConfigReport.WriteErrorsAsync(error, configPath, errors).ConfigureAwait(false);
                session.ExitCode = ExitCodes.BadConfig;
                return session;
            }

            // stdout belongs to the verb's output (poll --json); the console log shows warnings and worse on stderr.
            var serilog = LoggingSetup.Configure(new Serilog.LoggerConfiguration(), loaded, consoleToStandardError: true, consoleLevel: LogLevel.Warning).CreateLogger();
            var factory = new SerilogLoggerFactory(serilog, dispose: true);
            session.LoggerFactory = factory;
            session.Logger = factory.CreateLogger("ChannelManager.Host.Cli");
            if (openStore)
            {
                try
                {
                    session.Store = await Composition.OpenStoreAsync(loaded, cancellationToken).ConfigureAwait(false);
                    session._owned.Add(session.Store);
                }
                catch (StateStoreException ex)
                {
                    await error.WriteLineAsync($"{ex.Fault}: {ex.Message}").ConfigureAwait(false);
                    session.ExitCode = ExitCodes.StoreError;
                }
            }

            if (simulate && session.ExitCode is null && Composition.StartSimulation(loaded.Settings, session.Time) is { } sim)
            {
                session.Simulated = sim;
            }

            return session;
        }

        public Core.Channels.ModemChannelManager Channels() =>
            _channels ??= Composition.CreateChannels(Loaded.Settings, Simulated, Time, LoggerFactory);

        public async ValueTask DisposeAsync()
        {
            // Modems first (hang up, close ports), then the simulator behind them, then the store and the log.
            if (_channels is not null)
            {
                await _channels.DisposeAsync().ConfigureAwait(false);
            }

            if (Simulated is not null)
            {
                await Simulated.DisposeAsync().ConfigureAwait(false);
            }

            foreach (var d in _owned)
            {
                await d.DisposeAsync().ConfigureAwait(false);
            }

            (LoggerFactory as IDisposable)?.Dispose();
        }
    }
}
