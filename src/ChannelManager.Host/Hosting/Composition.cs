using ChannelManager.Core.Channels;
using ChannelManager.Core.Channels.Persistent;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Scheduling;
using ChannelManager.Persistence.Postgres;
using ChannelManager.Persistence.Sqlite;
using ChannelManager.Transport.Tcp;
using Microsoft.Extensions.Logging;

namespace ChannelManager.Host.Hosting;

/// <summary>
/// Turns validated settings into the running parts (design.md §2): the modem bank, the outstation schedules with
/// their Modbus drivers, the state store. Shared by <c>run</c> (through DI) and the one-shot verbs.
/// </summary>
internal static class Composition
{
    public static ModemChannelManager CreateChannels(ChannelManagerSettings settings, SimulatedBank? simulated, TimeProvider time, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return ModemBankFactory.Create([.. settings.Modems], settings.ChannelManager, time, loggerFactory, simulated);
    }

    public static SimulatedBank? StartSimulation(ChannelManagerSettings settings, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return settings.Simulation is { } sim ? SimulatedBank.Start(sim, time) : null;
    }

    public static IReadOnlyList<OutstationSchedule> CreateSchedules(ChannelManagerSettings settings, TimeProvider time, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return [.. settings.Outstations.Select(o => new OutstationSchedule(o.Name, o.Number, CreateDriver(o, time, loggerFactory), CreateCommands(o), o.Interval, BackoffPolicy.From(o.Backoff))
        {
            Priority = o.Priority,
            Pool = o.Pool,
            Window = o.Window is { } w ? new DailyWindow(w.Start, w.End) : null,
        })];
    }

    public static PollRequest CreateRequest(OutstationSettings outstation, TimeProvider time, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(outstation);
        return new PollRequest(outstation.Name, outstation.Number, CreateDriver(outstation, time, loggerFactory), CreateCommands(outstation), outstation.Pool);
    }

    public static IProtocolDriver CreateDriver(OutstationSettings outstation, TimeProvider time, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(outstation);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        var options = new ModbusRtuOptions
        {
            UnitId = (byte)outstation.UnitId,
            ResponseTimeout = outstation.ResponseTimeout,
            TimeoutRetries = outstation.TimeoutRetries,
        };
        return new ModbusRtuMaster(options, time, loggerFactory.CreateLogger<ModbusRtuMaster>());
    }

    public static IReadOnlyList<ProtocolCommand> CreateCommands(OutstationSettings outstation)
    {
        ArgumentNullException.ThrowIfNull(outstation);
        return [.. outstation.Reads.Select(CreateCommand)];
    }

    public static ProtocolCommand CreateCommand(ReadSettings read)
    {
        ArgumentNullException.ThrowIfNull(read);
        return read.Table switch
        {
            ModbusTable.Input => new ReadInputRegisters((ushort)read.Start, (ushort)read.Count),
            ModbusTable.Coils => new ReadCoils((ushort)read.Start, (ushort)read.Count),
            ModbusTable.Discrete => new ReadDiscreteInputs((ushort)read.Start, (ushort)read.Count),
            _ => new ReadHoldingRegisters((ushort)read.Start, (ushort)read.Count),
        };
    }

    /// <summary>
    /// One always-connected IP outstation (docs/ip-outstations.md §5): a <see cref="PersistentChannel"/> over a new
    /// <see cref="TcpChannelTransport"/> per connect, speaking Modbus TCP or Modbus RTU over TCP, with its learned
    /// heartbeat kept in <paramref name="heartbeats"/> (the SQLite state file; null = re-learn after each restart).
    /// </summary>
    public static IpOutstation CreateIpOutstation(IpOutstationSettings outstation, TimeProvider time, IHeartbeatStore? heartbeats, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(outstation);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        IProtocolDriver driver = outstation.Protocol switch
        {
            IpOutstationProtocol.ModbusRtu => new ModbusRtuMaster(
                new ModbusRtuOptions { UnitId = (byte)outstation.UnitId, BaudRate = outstation.BaudRate, ResponseTimeout = outstation.ResponseTimeout, TimeoutRetries = outstation.TimeoutRetries },
                time, loggerFactory.CreateLogger<ModbusRtuMaster>()),
            _ => new ModbusTcpMaster(
                new ModbusTcpOptions { UnitId = (byte)outstation.UnitId, ResponseTimeout = outstation.ResponseTimeout, TimeoutRetries = outstation.TimeoutRetries },
                time, loggerFactory.CreateLogger<ModbusTcpMaster>()),
        };
        var endpoint = TcpTransportOptions.Parse(outstation.Endpoint);
        endpoint.ConnectTimeout = outstation.ConnectTimeout;
        var channel = new PersistentChannel(
            outstation.ToChannelOptions(),
            () => new TcpChannelTransport(new TcpTransportOptions { Host = endpoint.Host, Port = endpoint.Port, ConnectTimeout = endpoint.ConnectTimeout }, time),
            driver,
            [CreateCommand(outstation.HeartbeatRead)],
            time,
            store: heartbeats,
            logger: loggerFactory.CreateLogger<PersistentChannel>());
        return new IpOutstation(outstation, endpoint.Endpoint, channel, [.. outstation.Reads.Select(CreateCommand)]);
    }

    /// <summary>Opens the state file (relative paths against the config file's directory), or the shared PostgreSQL database (issue 11).</summary>
    public static async Task<IStateStore> OpenStoreAsync(SettingsLoadResult loaded, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(loaded);
        var storage = loaded.Settings.Storage;
        if (storage.Provider == StorageProvider.Postgres)
        {
            return await PostgresStateStore.OpenAsync(new PostgresStateStoreOptions
            {
                ConnectionString = storage.ConnectionString ?? string.Empty,
                HostId = string.IsNullOrWhiteSpace(storage.HostId) ? Environment.MachineName : storage.HostId,
            }, cancellationToken).ConfigureAwait(false);
        }

        return await SqliteStateStore.OpenAsync(new SqliteStateStoreOptions { Path = loaded.ResolvePath(storage.Path), BusyTimeout = storage.BusyTimeout }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Where the state lives, for messages and logs: the file, or <c>postgres://host:port/database</c> (never the password).</summary>
    public static string DescribeStore(SettingsLoadResult loaded)
    {
        ArgumentNullException.ThrowIfNull(loaded);
        var storage = loaded.Settings.Storage;
        if (storage.Provider != StorageProvider.Postgres)
            return loaded.ResolvePath(storage.Path);
        var b = new Npgsql.NpgsqlConnectionStringBuilder(storage.ConnectionString);
        return $"postgres://{b.Host}:{b.Port}/{b.Database ?? b.Username}";
    }
}
