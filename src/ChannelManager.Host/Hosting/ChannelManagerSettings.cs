using ChannelManager.Core.Channels;
using ChannelManager.Core.Scheduling;
using ChannelManager.HardwareSim.Modems;
using Microsoft.Extensions.Logging;

namespace ChannelManager.Host.Hosting;

/// <summary>
/// The whole configuration file (design.md §6), bound from JSON + environment (CHANNELMANAGER_…) + command line.
/// Validated as one by <see cref="SettingsValidator"/>, which names every bad value by its JSON path. Unknown
/// top-level sections (Api, Serilog, …) are left alone for the parts that read them.
/// </summary>
internal sealed class ChannelManagerSettings
{
    /// <summary>The modem bank: serial <c>Port</c>, raw-TCP <c>Endpoint</c> (tcp://host:port) or simulated (sim://NAME).</summary>
    public IList<ModemOptions> Modems { get; init; } = [];

    public IList<OutstationSettings> Outstations { get; init; } = [];

    /// <summary>Always-connected IP outstations (issue 7, docs/ip-outstations.md §5): polled over a kept-open TCP link, no modem, no number.</summary>
    public IList<IpOutstationSettings> IpOutstations { get; init; } = [];

    public RepeatCallGuardOptions RepeatCallGuard { get; init; } = new();

    public SchedulerOptions Scheduler { get; init; } = new();

    public StorageSettings Storage { get; init; } = new();

    /// <summary>Pool-wide Channel Manager behaviour (queue time, health checks, quarantine, on-hook time).</summary>
    public ChannelManagerOptions ChannelManager { get; init; } = new();

    public LogSettings Log { get; init; } = new();

    /// <summary>Present = run an in-process simulated bank and exchange; modems with <c>Endpoint: "sim://NAME"</c> use it.</summary>
    public SimulationSettings? Simulation { get; set; }
}

/// <summary>The wire protocol spoken to an outstation once connected.</summary>
internal enum OutstationProtocol
{
    ModbusRtu,
}

/// <summary>The Modbus data table a read addresses (Modbus Application Protocol V1.1b3 §4.3).</summary>
internal enum ModbusTable
{
    /// <summary>Holding registers, function 03.</summary>
    Holding,

    /// <summary>Input registers, function 04.</summary>
    Input,

    /// <summary>Coils, function 01.</summary>
    Coils,

    /// <summary>Discrete inputs, function 02.</summary>
    Discrete,
}

/// <summary>One outstation (RTU) and how it is polled (issue 6 item 1, design.md §6).</summary>
internal sealed class OutstationSettings
{
    public string Name { get; set; } = string.Empty;

    /// <summary>Dial string; checked by <see cref="Core.Modems.DialString.Validate"/> so no AT command can ride along.</summary>
    public string Number { get; set; } = string.Empty;

    public OutstationProtocol Protocol { get; set; } = OutstationProtocol.ModbusRtu;

    /// <summary>Modbus unit (slave) address, 1–247 (Modbus over Serial Line V1.02 §2.2).</summary>
    public int UnitId { get; set; } = 1;

    public IList<ReadSettings> Reads { get; init; } = [];

    /// <summary>Regular poll interval.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Higher runs first when modems are short.</summary>
    public int Priority { get; set; }

    /// <summary>Optional daily window (local time) outside which no scheduled poll is dialled.</summary>
    public WindowSettings? Window { get; set; }

    public BackoffOptions Backoff { get; init; } = new();

    /// <summary>The modem pool to dial from; null = the default pool.</summary>
    public string? Pool { get; set; }

    /// <summary>Modbus response timeout per request.</summary>
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Re-sends of a request that got no answer (the modem link may drop a frame).</summary>
    public int TimeoutRetries { get; set; } = 2;
}

/// <summary>One read of a poll: <c>{ "Table": "Holding", "Start": 0, "Count": 10 }</c>.</summary>
internal sealed class ReadSettings
{
    public ModbusTable Table { get; set; } = ModbusTable.Holding;

    public int Start { get; set; }

    public int Count { get; set; } = 1;
}

/// <summary>A daily window [Start, End) in local time; Start after End crosses midnight.</summary>
internal sealed class WindowSettings
{
    public TimeOnly Start { get; set; }

    public TimeOnly End { get; set; }
}

/// <summary>The SQLite state file (ledger, pending retries, event log). A relative path is relative to the config file.</summary>
internal sealed class StorageSettings
{
    public string Path { get; set; } = "state/channelmanager.db";

    public TimeSpan BusyTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Sqlite (one host, the file at <see cref="Path"/>) or Postgres (a database redundant hosts share, issue 11).</summary>
    public StorageProvider Provider { get; set; } = StorageProvider.Sqlite;

    /// <summary>Postgres: an Npgsql connection string. Keep the password out of the file: <c>CHANNELMANAGER_Storage__ConnectionString</c>.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Postgres: this host's name in the shared tables, unique per host (default: the machine name).</summary>
    public string? HostId { get; set; }

    /// <summary>
    /// Postgres: the active host's lease (docs/scale-out.md). A standby takes over at most LeaseTime + LeaseTime/5
    /// (≤ 2 s) after the active host's last renewal: 12 s with the default.
    /// </summary>
    public TimeSpan LeaseTime { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Postgres: <see cref="StorageMode.HotStandby"/> (one active host polls, the others wait) or
    /// <see cref="StorageMode.ActiveActive"/> (the live hosts split the outstations and the TCP-attached modems by leases,
    /// docs/scale-out.md §6).
    /// </summary>
    public StorageMode Mode { get; set; } = StorageMode.HotStandby;

    /// <summary>ActiveActive: lease shards per modem pool; each outstation belongs to one (a hash of its name).</summary>
    public int Shards { get; set; } = 64;
}

/// <summary>How hosts on a shared store share the work (docs/scale-out.md).</summary>
internal enum StorageMode
{
    HotStandby,
    ActiveActive,
}

/// <summary>Where the state lives (docs/scale-out.md).</summary>
internal enum StorageProvider
{
    Sqlite,
    Postgres,
}

/// <summary>Serilog sinks of the host: console plus a daily rolling file in <see cref="Directory"/> (relative = to the config file).</summary>
internal sealed class LogSettings
{
    public string Directory { get; set; } = "logs";

    public LogLevel Level { get; set; } = LogLevel.Information;

    /// <summary>Daily files kept.</summary>
    public int RetainedFiles { get; set; } = 14;

    /// <summary>False = console only (e.g. under systemd, where journald keeps the console).</summary>
    public bool File { get; set; } = true;
}

/// <summary>The in-process simulated bank (hardware-sim): modems and the lines of the simulated exchange.</summary>
internal sealed class SimulationSettings
{
    public IList<SimulatedModemSettings> Modems { get; init; } = [];

    public IList<SimulatedLineSettings> Lines { get; init; } = [];
}

/// <summary>One simulated modem, used by a modem whose Endpoint is <c>sim://Name</c>.</summary>
internal sealed class SimulatedModemSettings
{
    public string Name { get; set; } = string.Empty;

    public ModemFault Fault { get; set; } = ModemFault.None;

    /// <summary>S-register overrides; S12 defaults to 10 (0.2 s escape guard) so hang-ups are quick.</summary>
    public IDictionary<int, int> SRegisters { get; init; } = new Dictionary<int, int>();
}

/// <summary>What a line of the simulated exchange does when dialled.</summary>
internal enum SimulatedLineBehaviour
{
    /// <summary>Answers after <see cref="SimulatedLineSettings.After"/> with a Modbus RTU outstation.</summary>
    Answer,
    Busy,
    NoAnswer,
    NoCarrier,
    Silent,
}

/// <summary>One number of the simulated exchange.</summary>
internal sealed class SimulatedLineSettings
{
    public string Number { get; set; } = string.Empty;

    public SimulatedLineBehaviour Behaviour { get; set; } = SimulatedLineBehaviour.Answer;

    /// <summary>Delay before the answer or the failure result.</summary>
    public TimeSpan After { get; set; } = TimeSpan.FromMilliseconds(300);

    /// <summary>Answer: the Modbus unit that answers.</summary>
    public int UnitId { get; set; } = 1;

    /// <summary>Answer: holding and input registers from address 0.</summary>
    public IList<int> Registers { get; init; } = [];

    /// <summary>Answer: an outstation fault in the simulator's syntax (noreply, badcrc, partial, wrongunit, exception:N, slow:MS).</summary>
    public string? Fault { get; set; }
}
