using System.Globalization;
using ChannelManager.Core.Channels.Persistent;
using ChannelManager.Core.Scheduling;

namespace ChannelManager.Host.Hosting;

/// <summary>The wire protocol on an IP outstation's TCP link (docs/ip-outstations.md §1).</summary>
internal enum IpOutstationProtocol
{
    /// <summary>Modbus Messaging on TCP/IP V1.0b: MBAP header, no CRC.</summary>
    ModbusTcp,

    /// <summary>Modbus RTU frames (with CRC) through a router's transparent TCP port to a serial outstation.</summary>
    ModbusRtu,
}

/// <summary>
/// One always-connected IP outstation (issue 7; docs/ip-outstations.md §5): the endpoint and protocol, what a poll
/// reads and how often, and the <see cref="PersistentChannel"/>'s heartbeat (seed 001) and reconnect (seed 002) settings.
/// </summary>
internal sealed class IpOutstationSettings
{
    public string Name { get; set; } = string.Empty;

    /// <summary><c>tcp://host:port</c> of the outstation (or of the router's port in front of it).</summary>
    public string Endpoint { get; set; } = string.Empty;

    public IpOutstationProtocol Protocol { get; set; } = IpOutstationProtocol.ModbusTcp;

    /// <summary>Modbus unit: the MBAP unit id (ModbusTcp) or the RTU slave address (ModbusRtu), 1–247.</summary>
    public int UnitId { get; set; } = 1;

    /// <summary>ModbusRtu only: the serial line rate behind the router, for the RTU frame timing.</summary>
    public int BaudRate { get; set; } = 9600;

    /// <summary>Modbus response timeout per request (cellular round trips of 1–2 s are normal).</summary>
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>Re-sends of a request that got no answer, before the poll's no-reply verdict.</summary>
    public int TimeoutRetries { get; set; } = 1;

    /// <summary>How long a TCP connect may take before it counts as a failed connect (a channel failure).</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    public IList<ReadSettings> Reads { get; init; } = [];

    /// <summary>A poll every this long (the first one at start); polls also reset the heartbeat's silence.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The heartbeat request: a cheap read (default one holding register from 0).</summary>
    public ReadSettings HeartbeatRead { get; set; } = new() { Table = ModbusTable.Holding, Start = 0, Count = 1 };

    /// <summary>Seed 001's HeartbeatDefault/Increment/Min/Max (+ our two knobs). A section without Default starts at Min.</summary>
    public HeartbeatOptions Heartbeat { get; set; } = new();

    /// <summary>
    /// Seed 002's reconnect strategy (None, Linear, ExponentialRandomized). A <c>Reconnect</c> section replaces the
    /// default as a whole (what it leaves out takes <see cref="BackoffOptions"/>' defaults: no AttemptsExceededDelay =
    /// INFINITE), so a Linear strategy never inherits the default's exponential figures.
    /// </summary>
    public BackoffOptions Reconnect { get; set; } = new PersistentChannelOptions().Reconnect;

    /// <summary>How long a poll waits for a connection (or the polls ahead of it) before its typed outcome.</summary>
    public TimeSpan MaxPollWait { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Times a read poll whose link dropped under it is run again on the new connection (0–5).</summary>
    public int PollRetriesAfterReconnect { get; set; } = 1;

    /// <summary>One line for <c>check-config</c>: where, how, how often, and the heartbeat and reconnect figures.</summary>
    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{Name}: {Endpoint} {Protocol} unit {UnitId}, poll every {PollInterval:c}, heartbeat {Heartbeat.Default:c} in [{Heartbeat.Min:c}, {Heartbeat.Max:c}] step {Heartbeat.Increment:c}, reconnect {Reconnect.Strategy}");

    /// <summary>The Core channel options these settings describe.</summary>
    public PersistentChannelOptions ToChannelOptions() => new()
    {
        Name = Name,
        Heartbeat = Heartbeat,
        Reconnect = Reconnect,
        MaxPollWait = MaxPollWait,
        PollRetriesAfterReconnect = PollRetriesAfterReconnect,
    };
}
