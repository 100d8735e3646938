using ChannelManager.Core.Scheduling;
using ChannelManager.Host.Hosting;
using ChannelManager.Persistence.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace ChannelManager.Tests.Hosting;

/// <summary>The <c>IpOutstations</c> section (issue 7, docs/ip-outstations.md §5): binding, and every error by JSON path.</summary>
public sealed class IpOutstationSettingsTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("cm-ipsettings-");

    public void Dispose() => _dir.Delete(recursive: true);

    private SettingsLoadResult Load(string ipOutstations, string outstations = """[ { "Name": "RTU-17", "Number": "01632960123", "Reads": [ { "Table": "Holding", "Count": 2 } ] } ]""")
    {
        var path = Path.Combine(_dir.FullName, "appsettings.json");
        File.WriteAllText(path, $$"""
            {
              "Modems": [ { "Name": "M1", "Port": "/dev/ttyS0" } ],
              "Outstations": {{outstations}},
              "IpOutstations": {{ipOutstations}},
              "Storage": { "Path": "state.db" },
              "Log": { "File": false }
            }
            """);
        return SettingsLoader.Load(path, includeEnvironment: false);
    }

    [Fact]
    public void Load_DocumentedExample_BindsEveryValueWithoutErrors()
    {
        var loaded = Load("""
            [ { "Name": "RTU-IP-1", "Endpoint": "tcp://10.20.0.17:502", "Protocol": "ModbusTcp", "UnitId": 1,
                "ResponseTimeout": "00:00:03", "TimeoutRetries": 1,
                "Reads": [ { "Table": "Holding", "Start": 0, "Count": 10 } ],
                "PollInterval": "00:05:00",
                "HeartbeatRead": { "Table": "Input", "Start": 3, "Count": 1 },
                "Heartbeat": { "Default": "00:10:00", "Increment": "00:05:00", "Min": "00:08:00", "Max": "00:28:00",
                               "SuccessesBeforeRaise": 3, "ReprobeAfterSuccesses": 30 },
                "Reconnect": { "Strategy": "ExponentialRandomized", "Delay": "00:00:05", "Attempts": 6, "AttemptsExceededDelay": "00:05:00" },
                "MaxPollWait": "00:02:00", "PollRetriesAfterReconnect": 1 },
              { "Name": "RTU-CELL-2", "Endpoint": "tcp://10.20.0.18:4001", "Protocol": "ModbusRtu", "UnitId": 7, "BaudRate": 19200,
                "Reads": [ { "Table": "Coils", "Start": 0, "Count": 16 } ],
                "Reconnect": { "Strategy": "Linear", "Delay": "00:00:30", "Attempts": 4 } } ]
            """);

        Assert.Empty(loaded.AllErrors());
        var ip = loaded.Settings.IpOutstations;
        Assert.Equal(2, ip.Count);
        Assert.Equal(("RTU-IP-1", "tcp://10.20.0.17:502", IpOutstationProtocol.ModbusTcp), (ip[0].Name, ip[0].Endpoint, ip[0].Protocol));
        Assert.Equal((ModbusTable.Input, 3, 1), (ip[0].HeartbeatRead.Table, ip[0].HeartbeatRead.Start, ip[0].HeartbeatRead.Count));
        Assert.Equal((TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(28), 3), (ip[0].Heartbeat.Default, ip[0].Heartbeat.Max, ip[0].Heartbeat.SuccessesBeforeRaise));
        Assert.Equal(TimeSpan.FromMinutes(5), ip[0].Reconnect.AttemptsExceededDelay);
        Assert.Equal((IpOutstationProtocol.ModbusRtu, 7, 19200), (ip[1].Protocol, ip[1].UnitId, ip[1].BaudRate));
        Assert.Equal(ModbusTable.Coils, Assert.Single(ip[1].Reads).Table);
        // Defaults where the file says nothing.
        Assert.Equal((TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(2)), (ip[1].PollInterval, ip[1].MaxPollWait));
        Assert.Equal((ModbusTable.Holding, 0, 1), (ip[1].HeartbeatRead.Table, ip[1].HeartbeatRead.Start, ip[1].HeartbeatRead.Count));
    }

    [Fact]
    public void Load_ReconnectSection_ReplacesTheDefaultStrategyAsAWhole()
    {
        var loaded = Load("""
            [ { "Name": "L", "Endpoint": "tcp://10.0.0.1:502", "Reads": [ { "Count": 1 } ], "Reconnect": { "Strategy": "Linear", "Delay": "00:00:30", "Attempts": 4 } },
              { "Name": "D", "Endpoint": "tcp://10.0.0.2:502", "Reads": [ { "Count": 1 } ] } ]
            """);

        Assert.Empty(loaded.AllErrors());
        // Seed 002: LINEAR with no exceeded delay is INFINITE (stop); the default's 5-minute figure must not leak in.
        var linear = loaded.Settings.IpOutstations[0].Reconnect;
        Assert.Equal((BackoffStrategyKind.Linear, TimeSpan.FromSeconds(30), (int?)4, (TimeSpan?)null), (linear.Strategy, linear.Delay, linear.Attempts, linear.AttemptsExceededDelay));
        var fallback = loaded.Settings.IpOutstations[1].Reconnect;
        Assert.Equal((BackoffStrategyKind.ExponentialRandomized, (TimeSpan?)TimeSpan.FromMinutes(5)), (fallback.Strategy, fallback.AttemptsExceededDelay));
    }

    [Fact]
    public void Load_HeartbeatWithoutDefault_StartsAtItsMin()
    {
        var loaded = Load("""
            [ { "Name": "H", "Endpoint": "tcp://10.0.0.1:502", "Reads": [ { "Count": 1 } ], "Heartbeat": { "Min": "00:00:01", "Max": "00:00:06", "Increment": "00:00:01" } } ]
            """);

        Assert.Empty(loaded.AllErrors());
        Assert.Equal(TimeSpan.FromSeconds(1), loaded.Settings.IpOutstations[0].Heartbeat.Default);
    }

    [Fact]
    public void Load_BrokenSection_ReportsEveryErrorWithItsJsonPath()
    {
        var loaded = Load("""
            [ { "Name": "RTU-17", "Endpoint": "10.0.0.1:502", "Protocol": "Dnp3", "Reads": [ { "Count": 1 } ] },
              { "Name": "A", "Endpoint": "tcp://10.0.0.1:502", "UnitId": 0, "Reads": [ { "Table": "Holding", "Count": 200 } ],
                "Heartbeat": { "Min": "00:08:00", "Max": "00:05:00" }, "Reconnect": { "Strategy": "RedialCycle" }, "PollInterval": "00:00:00" },
              { "Name": "a", "Endpoint": "udp://10.0.0.1:502", "Reads": [], "HeartbeatRead": { "Table": "Coils", "Count": 0 },
                "MaxPollWait": "02:00:00", "PollRetriesAfterReconnect": 9, "Heartbeat": { "Max": "forever" }, "Protocol": "ModbusRtu", "BaudRate": 10 },
              { "Name": "", "Endpoint": "", "Reads": [ { "Count": 1 } ], "Heartbeat": { "Incremnt": "00:01:00" } } ]
            """);

        var errors = loaded.AllErrors();

        Assert.Equal(
            [
                // Values the walk could not read (types, enum names, unknown keys), in file order.
                "IpOutstations[0].Protocol", "IpOutstations[2].Heartbeat.Max", "IpOutstations[3].Heartbeat.Incremnt",
                // Then the rules.
                "IpOutstations[0].Name", "IpOutstations[0].Endpoint",
                "IpOutstations[1].UnitId", "IpOutstations[1].Reads[0].Count", "IpOutstations[1].PollInterval", "IpOutstations[1].Heartbeat.Max", "IpOutstations[1].Reconnect.Strategy",
                "IpOutstations[2].Name", "IpOutstations[2].Endpoint", "IpOutstations[2].BaudRate", "IpOutstations[2].Reads", "IpOutstations[2].HeartbeatRead.Count",
                "IpOutstations[2].MaxPollWait", "IpOutstations[2].PollRetriesAfterReconnect",
                "IpOutstations[3].Name", "IpOutstations[3].Endpoint",
            ],
            errors.Select(e => e.Path));
        Assert.Contains(errors, e => e.ToString() == "IpOutstations[0].Protocol: 'Dnp3' is not one of ModbusTcp, ModbusRtu");
        Assert.Contains(errors, e => e.ToString() == "IpOutstations[0].Name: 'RTU-17' is already the name of Outstations[0]; names must be unique across Outstations and IpOutstations");
        Assert.Contains(errors, e => e.ToString() == "IpOutstations[2].Name: 'a' is already used by IpOutstations[1]; names must be unique");
        Assert.Contains(errors, e => e.ToString() == "IpOutstations[1].Heartbeat.Max: must be ≥ Min (00:08:00)");
        Assert.Contains(errors, e => e.ToString().StartsWith("IpOutstations[1].Reconnect.Strategy: must be None, Linear or ExponentialRandomized", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.ToString().StartsWith("IpOutstations[0].Endpoint: '10.0.0.1:502' is not a TCP endpoint; expected tcp://host:port", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_OnlyIpOutstations_NeedsNoDialUpOutstation()
    {
        var loaded = Load("""[ { "Name": "IP", "Endpoint": "tcp://10.0.0.1:502", "Reads": [ { "Count": 1 } ] } ]""", outstations: "[]");

        Assert.Empty(loaded.AllErrors());
    }

    [Fact]
    public void Validate_NoOutstationOfEitherKind_OneErrorNamingBoth()
    {
        var loaded = Load("[]", outstations: "[]");

        var error = Assert.Single(loaded.AllErrors());
        Assert.Equal("Outstations: at least one outstation (Outstations or IpOutstations) is required", error.ToString());
    }

    [Fact]
    public async Task CheckConfig_IpOutstations_CountedAndOneLineEach()
    {
        Load("""
            [ { "Name": "RTU-IP-1", "Endpoint": "tcp://10.20.0.17:502", "Reads": [ { "Count": 1 } ], "PollInterval": "00:01:00" },
              { "Name": "RTU-CELL-2", "Endpoint": "tcp://10.20.0.18:4001", "Protocol": "ModbusRtu", "UnitId": 7, "Reads": [ { "Count": 1 } ],
                "Reconnect": { "Strategy": "Linear", "Delay": "00:00:30", "Attempts": 4 } } ]
            """);
        using var output = new StringWriter();
        using var error = new StringWriter();

        var code = await CommandLine.CheckConfigAsync(Path.Combine(_dir.FullName, "appsettings.json"), output, error);

        Assert.True(code == ExitCodes.Ok, error.ToString());
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Contains("1 outstations, 2 IP outstations", lines[0], StringComparison.Ordinal);
        Assert.Equal(
            [
                "IP outstation RTU-IP-1: tcp://10.20.0.17:502 ModbusTcp unit 1, poll every 00:01:00, heartbeat 00:08:00 in [00:08:00, 00:28:00] step 00:05:00, reconnect ExponentialRandomized",
                "IP outstation RTU-CELL-2: tcp://10.20.0.18:4001 ModbusRtu unit 7, poll every 00:05:00, heartbeat 00:08:00 in [00:08:00, 00:28:00] step 00:05:00, reconnect Linear",
            ],
            lines[1..]);
    }

    [Fact]
    public async Task AddChannelManager_IpOutstations_OptionsValueKeepsTheLoadersReconnectRuleAndRegistersTheService()
    {
        var loaded = Load("""[ { "Name": "L", "Endpoint": "tcp://127.0.0.1:9", "Reads": [ { "Count": 1 } ], "Reconnect": { "Strategy": "Linear", "Delay": "00:00:30", "Attempts": 4 } } ]""");
        await using var store = await SqliteStateStore.OpenAsync(new SqliteStateStoreOptions { Path = loaded.ResolvePath("state.db") }, CancellationToken.None);
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Services.AddChannelManager(loaded, store);
        using var host = builder.Build();

        var settings = host.Services.GetRequiredService<IOptions<ChannelManagerSettings>>().Value;
        Assert.Null(settings.IpOutstations[0].Reconnect.AttemptsExceededDelay);
        var ip = Assert.Single(host.Services.GetRequiredService<IpOutstationSet>().All);
        Assert.Equal(("L", "tcp://127.0.0.1:9"), (ip.Name, ip.Endpoint));
        Assert.Single(host.Services.GetServices<IHostedService>(), s => s is IpOutstationService);
        Assert.Same(store, host.Services.GetRequiredService<Core.Persistence.IHeartbeatStore>());
        await ip.DisposeAsync();
    }
}
