using System.Globalization;
using ChannelManager.Core.Channels;
using ChannelManager.Core.Modems;
using ChannelManager.Core.Scheduling;
using ChannelManager.HardwareSim.Outstations;
using Microsoft.Extensions.Options;

namespace ChannelManager.Host.Hosting;

/// <summary>
/// Every rule of the configuration in one place (design.md §5 <c>check-config</c>: "validates and prints every
/// error with its JSON path"). Reuses the rules of the parts it configures: <see cref="ModemOptions.Validate"/> via
/// <see cref="ModemBankFactory.Validate"/>, <see cref="DialString.Validate"/>, <see cref="BackoffOptions.Validate"/>,
/// <see cref="RepeatCallGuardOptions.Validate"/> and <see cref="SchedulerOptions.Validate"/>.
/// </summary>
internal static class SettingsValidator
{
    /// <summary>Scheme of a modem attached to the in-process simulated bank: <c>sim://NAME</c>.</summary>
    public const string SimulatedScheme = "sim://";

    private const int MaxRegisterCount = 125;   // Modbus V1.1b3 §6.3/6.4: 1–125 registers per read
    private const int MaxBitCount = 2000;       // Modbus V1.1b3 §6.1/6.2: 1–2000 coils/inputs per read

    public static bool IsSimulated(ModemOptions modem) =>
        modem?.Endpoint?.StartsWith(SimulatedScheme, StringComparison.OrdinalIgnoreCase) == true;

    public static string SimulatedName(ModemOptions modem) => modem.Endpoint![SimulatedScheme.Length..]; // IsSimulated checked by the caller

    public static IReadOnlyList<ConfigError> Validate(ChannelManagerSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var errors = new List<ConfigError>();
        ValidateModems(settings, errors);
        ValidateOutstations(settings, errors);
        IpOutstationValidation.Validate(settings, errors);
        errors.AddRange(settings.RepeatCallGuard?.Validate("RepeatCallGuard") ?? [new("RepeatCallGuard", "is required")]);
        errors.AddRange(settings.Scheduler?.Validate("Scheduler") ?? [new("Scheduler", "is required")]);
        ValidateStorage(settings.Storage, errors);
        ValidateLog(settings.Log, errors);
        ValidateSimulation(settings, errors);
        return errors;
    }

    private static void ValidateModems(ChannelManagerSettings settings, List<ConfigError> errors)
    {
        // A simulated modem has no tcp:// endpoint; check everything else about it as if it had one.
        var modems = settings.Modems?.Select(m => m is not null && IsSimulated(m) ? AsTcpForValidation(m) : m).ToList();
        errors.AddRange(ModemBankFactory.Validate(modems!, settings.ChannelManager)); // null list is reported by Validate itself
        if (settings.Modems is null)
        {
            return;
        }

        for (var i = 0; i < settings.Modems.Count; i++)
        {
            if (settings.Modems[i] is { } m && IsSimulated(m))
            {
                var name = SimulatedName(m);
                var at = $"Modems[{I(i)}].Endpoint";
                if (settings.Simulation is null)
                {
                    errors.Add(new(at, $"'{m.Endpoint}' needs a Simulation section (or use Port / tcp://host:port for a real modem)"));
                }
                else if (!settings.Simulation.Modems.Any(s => s?.Name == name))
                {
                    errors.Add(new(at, $"no simulated modem named '{name}' in Simulation.Modems"));
                }
                else if (settings.Modems.Take(i).Any(o => o is not null && IsSimulated(o) && SimulatedName(o) == name))
                {
                    errors.Add(new(at, $"simulated modem '{name}' is already used by another modem"));
                }
            }
        }
    }

    internal static ModemOptions AsTcpForValidation(ModemOptions m) => new()
    {
        Name = m.Name,
        Port = m.Port,
        Endpoint = "tcp://127.0.0.1:1",
        BaudRate = m.BaudRate,
        InitString = m.InitString,
        DialTimeout = m.DialTimeout,
        CommandTimeout = m.CommandTimeout,
        EscapeGuardTime = m.EscapeGuardTime,
        Pools = m.Pools,
        AnswerCalls = m.AnswerCalls,
        ReservedForDialIn = m.ReservedForDialIn,
    };

    private static void ValidateOutstations(ChannelManagerSettings settings, List<ConfigError> errors)
    {
        if (settings.Outstations is not { Count: > 0 } outstations)
        {
            // An installation of IP outstations only has nothing to dial (issue 7); one of the two lists is needed.
            if (settings.IpOutstations is not { Count: > 0 })
            {
                errors.Add(new("Outstations", "at least one outstation (Outstations or IpOutstations) is required"));
            }

            return;
        }

        var pools = (settings.Modems ?? []).Where(m => m is { ReservedForDialIn: false }).SelectMany(m => m.Pools ?? []).ToHashSet(StringComparer.Ordinal);
        var firstIndexOf = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < outstations.Count; i++)
        {
            var at = $"Outstations[{I(i)}]";
            string P(string member) => $"{at}.{member}";
            if (outstations[i] is not { } o)
            {
                errors.Add(new(at, "must not be null"));
                continue;
            }

            if (string.IsNullOrWhiteSpace(o.Name))
            {
                errors.Add(new(P("Name"), "must not be empty"));
            }
            else if (!firstIndexOf.TryAdd(o.Name, i))
            {
                errors.Add(new(P("Name"), $"'{o.Name}' is already used by Outstations[{I(firstIndexOf[o.Name])}]; names must be unique"));
            }

            if (DialString.Validate(o.Number) is { } numberProblem)
            {
                errors.Add(new(P("Number"), numberProblem));
            }

            if (!Enum.IsDefined(o.Protocol))
            {
                errors.Add(new(P("Protocol"), $"unknown protocol '{o.Protocol}' (ModbusRtu)"));
            }

            if (o.UnitId is < 1 or > 247)
            {
                errors.Add(new(P("UnitId"), $"{I(o.UnitId)} must be between 1 and 247 (Modbus serial line §2.2)"));
            }

            ValidateReads(o.Reads, P("Reads"), errors);
            if (o.Interval < TimeSpan.FromSeconds(1) || o.Interval > TimeSpan.FromDays(7))
            {
                errors.Add(new(P("Interval"), $"{o.Interval} must be between 00:00:01 and 7.00:00:00"));
            }

            if (o.Window is { } w && w.Start == w.End)
            {
                errors.Add(new(P("Window"), "Start and End are equal: leave the window out to poll all day"));
            }

            if (o.Backoff is null)
            {
                errors.Add(new(P("Backoff"), "must be an object"));
            }
            else
            {
                errors.AddRange(o.Backoff.Validate(P("Backoff")));
            }

            if (o.Pool is not null && !pools.Contains(o.Pool))
            {
                errors.Add(new(P("Pool"), $"no dial-out modem serves pool '{o.Pool}'"));
            }

            if (o.ResponseTimeout < TimeSpan.FromMilliseconds(50) || o.ResponseTimeout > TimeSpan.FromMinutes(1))
            {
                errors.Add(new(P("ResponseTimeout"), $"{o.ResponseTimeout} must be between 00:00:00.050 and 00:01:00"));
            }

            if (o.TimeoutRetries is < 0 or > 10)
            {
                errors.Add(new(P("TimeoutRetries"), $"{I(o.TimeoutRetries)} must be between 0 and 10"));
            }
        }
    }

    internal static void ValidateReads(IList<ReadSettings>? reads, string at, List<ConfigError> errors)
    {
        if (reads is not { Count: > 0 })
        {
            errors.Add(new(at, "at least one read is required"));
            return;
        }

        for (var r = 0; r < reads.Count; r++)
        {
            ValidateRead(reads[r], $"{at}[{I(r)}]", errors);
        }
    }

    /// <summary>One read: a known table, 1–125 registers or 1–2000 bits, inside the 16-bit address space.</summary>
    internal static void ValidateRead(ReadSettings? read, string path, List<ConfigError> errors)
    {
        if (read is null)
        {
            errors.Add(new(path, "must not be null"));
            return;
        }

        if (!Enum.IsDefined(read.Table))
        {
            errors.Add(new($"{path}.Table", $"unknown table '{read.Table}'"));
        }

        var max = read.Table is ModbusTable.Coils or ModbusTable.Discrete ? MaxBitCount : MaxRegisterCount;
        if (read.Count < 1 || read.Count > max)
        {
            errors.Add(new($"{path}.Count", $"{I(read.Count)} must be between 1 and {I(max)} for {read.Table}"));
        }

        if (read.Start is < 0 or > 65535)
        {
            errors.Add(new($"{path}.Start", $"{I(read.Start)} must be between 0 and 65535"));
        }
        else if (read.Count >= 1 && read.Start + read.Count > 65536)
        {
            errors.Add(new($"{path}.Count", $"Start {I(read.Start)} + Count {I(read.Count)} runs past address 65535"));
        }
    }

    private static void ValidateStorage(StorageSettings? storage, List<ConfigError> errors)
    {
        if (storage is null)
        {
            errors.Add(new("Storage", "is required"));
            return;
        }

        if (storage.Provider == StorageProvider.Postgres)
        {
            ValidateSharedStorage(storage, errors);
            return;
        }

        if (storage.Mode != StorageMode.HotStandby)
        {
            // Active/active hosts share the queue and the leases through one database (docs/scale-out.md §6).
            errors.Add(new("Storage.Mode", $"{storage.Mode} needs Storage.Provider Postgres (hosts split the work through the shared database); SQLite serves one host"));
        }

        if (string.IsNullOrWhiteSpace(storage.Path))
        {
            errors.Add(new("Storage.Path", "must name the SQLite state file (e.g. state/channelmanager.db)"));
        }
        else if (storage.Path.IndexOfAny(Path.GetInvalidPathChars()) >= 0)
        {
            errors.Add(new("Storage.Path", $"'{storage.Path}' is not a valid path"));
        }

        if (storage.BusyTimeout < TimeSpan.FromMilliseconds(10) || storage.BusyTimeout > TimeSpan.FromMinutes(1))
        {
            errors.Add(new("Storage.BusyTimeout", $"{storage.BusyTimeout} must be between 00:00:00.010 and 00:01:00"));
        }
    }

    /// <summary>Storage.Provider = Postgres (issue 11): a parseable connection string; the message never echoes it (it may hold a password).</summary>
    private static void ValidateSharedStorage(StorageSettings storage, List<ConfigError> errors)
    {
        if (string.IsNullOrWhiteSpace(storage.ConnectionString))
        {
            errors.Add(new("Storage.ConnectionString", "is required when Storage.Provider is Postgres (e.g. Host=db1;Database=channelmanager;Username=cm)"));
        }
        else
        {
            try
            {
                _ = new Npgsql.NpgsqlConnectionStringBuilder(storage.ConnectionString);
            }
            catch (ArgumentException ex)
            {
                errors.Add(new("Storage.ConnectionString", $"is not a valid PostgreSQL connection string: {ex.Message}"));
            }
        }

        if (storage.HostId is not null && string.IsNullOrWhiteSpace(storage.HostId))
        {
            errors.Add(new("Storage.HostId", "must not be blank (leave it out to use the machine name)"));
        }

        if (storage.LeaseTime < TimeSpan.FromSeconds(1) || storage.LeaseTime > TimeSpan.FromMinutes(1))
        {
            errors.Add(new("Storage.LeaseTime", $"{storage.LeaseTime} must be between 00:00:01 and 00:01:00"));
        }

        if (!Enum.IsDefined(storage.Mode))
        {
            errors.Add(new("Storage.Mode", $"'{storage.Mode}' must be HotStandby or ActiveActive"));
        }

        if (storage.Shards is < 1 or > 4096)
        {
            errors.Add(new("Storage.Shards", $"{storage.Shards} must be between 1 and 4096 (lease shards of outstations per modem pool)"));
        }
    }

    private static void ValidateLog(LogSettings? log, List<ConfigError> errors)
    {
        if (log is null)
        {
            return;
        }

        if (log.File && string.IsNullOrWhiteSpace(log.Directory))
        {
            errors.Add(new("Log.Directory", "must not be empty when Log.File is true"));
        }

        if (log.RetainedFiles is < 1 or > 1000)
        {
            errors.Add(new("Log.RetainedFiles", $"{I(log.RetainedFiles)} must be between 1 and 1000"));
        }

        if (!Enum.IsDefined(log.Level))
        {
            errors.Add(new("Log.Level", $"unknown level '{log.Level}'"));
        }
    }

    private static void ValidateSimulation(ChannelManagerSettings settings, List<ConfigError> errors)
    {
        if (settings.Simulation is not { } sim)
        {
            return;
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < sim.Modems.Count; i++)
        {
            var at = $"Simulation.Modems[{I(i)}]";
            if (sim.Modems[i] is not { } m)
            {
                errors.Add(new(at, "must not be null"));
                continue;
            }

            if (string.IsNullOrWhiteSpace(m.Name))
            {
                errors.Add(new($"{at}.Name", "must not be empty"));
            }
            else if (!names.Add(m.Name))
            {
                errors.Add(new($"{at}.Name", $"'{m.Name}' is used twice"));
            }

            if (!Enum.IsDefined(m.Fault))
            {
                errors.Add(new($"{at}.Fault", $"unknown fault '{m.Fault}'"));
            }
        }

        var numbers = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < sim.Lines.Count; i++)
        {
            var at = $"Simulation.Lines[{I(i)}]";
            if (sim.Lines[i] is not { } line)
            {
                errors.Add(new(at, "must not be null"));
                continue;
            }

            var digits = new string([.. (line.Number ?? string.Empty).Where(char.IsAsciiDigit)]);
            if (digits.Length == 0)
            {
                errors.Add(new($"{at}.Number", "needs at least one digit"));
            }
            else if (!numbers.Add(digits))
            {
                errors.Add(new($"{at}.Number", $"'{line.Number}' is used twice"));
            }

            if (line.After < TimeSpan.Zero || line.After > TimeSpan.FromMinutes(5))
            {
                errors.Add(new($"{at}.After", $"{line.After} must be between 00:00:00 and 00:05:00"));
            }

            if (line.UnitId is < 1 or > 247)
            {
                errors.Add(new($"{at}.UnitId", $"{I(line.UnitId)} must be between 1 and 247"));
            }

            for (var r = 0; r < line.Registers.Count; r++)
            {
                if (line.Registers[r] is < 0 or > 65535)
                {
                    errors.Add(new($"{at}.Registers[{I(r)}]", $"{I(line.Registers[r])} must be between 0 and 65535"));
                }
            }

            if (line.Fault is { } fault && OutstationFault.Parse(fault) is null)
            {
                errors.Add(new($"{at}.Fault", $"'{fault}' is not noreply, badcrc, partial, wrongunit, exception:N or slow:MS"));
            }
        }
    }

    private static string I(int value) => value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// <c>IValidateOptions</c> for <c>.ValidateOnStart()</c> of <c>run</c>: the values that could not be read plus every
/// rule of <see cref="SettingsValidator"/>, each as "JSON.path: message".
/// </summary>
internal sealed class ChannelManagerSettingsValidator(IReadOnlyList<ConfigError> readErrors) : IValidateOptions<ChannelManagerSettings>
{
    public ValidateOptionsResult Validate(string? name, ChannelManagerSettings options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = readErrors.Concat(SettingsValidator.Validate(options)).ToList();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors.Select(e => e.ToString()));
    }
}
