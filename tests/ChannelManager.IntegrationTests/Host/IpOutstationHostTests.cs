extern alias ChannelManagerHost;

using System.Net;
using System.Text.Json;
using ChannelManager.Core;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.HardwareSim.Nat;
using ChannelManager.Host.Hosting;
using ChannelManager.IntegrationTests.Support;
using ChannelManager.Transport.Tcp;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using HostProgram = ChannelManagerHost::Program;

namespace ChannelManager.IntegrationTests.Host;

/// <summary>
/// Issue 7 in the product: the real <c>run</c> host (Program → ServiceHost under WebApplicationFactory, as
/// <c>channelmanager run</c>) with an <c>IpOutstations</c> entry pointing at a real NAT proxy on 127.0.0.1 in front of our
/// simulator process (Modbus RTU over TCP). Nothing is composed by the test: the channel, driver, store and API are
/// what the configuration file makes them.
/// </summary>
public sealed class IpOutstationHostTests : IDisposable
{
    private const string Name = "RTU-IP-1";
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("cm-iphost-");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _dir.Delete(recursive: true);
    }

    [Fact]
    public async Task Run_IpOutstationBehindNat_PollsShowsHeartbeatAndReconnectsAfterResetAndSilentDrop()
    {
        await using var outstation = ExternalProcess.StartSimulator("outstation", "--listen", "tcp://127.0.0.1:0", "--unit", "1", "--holding", "0=11,22,33");
        var target = await ListeningEndpointAsync(outstation);
        await WarmUpAsync(target);
        // A NAT that never times out by itself here: the test drops the mappings on command.
        await using var nat = NatProxy.Start(new IPEndPoint(IPAddress.Loopback, 0), target, TimeSpan.FromMinutes(10), TimeProvider.System);
        var config = WriteConfig(nat.Endpoint);

        await using var factory = new ConfigFileFactory(config);
        using var client = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        client.Timeout = Bound;

        // Polls are delivered and the API shows the link up with its heartbeat.
        var first = await UntilAsync(client, ip => ip.GetProperty("connected").GetBoolean() && Polls(ip) >= 2 && Outcome(ip) == "Success");
        Assert.Equal(nat.Endpoint, first.GetProperty("endpoint").GetString());
        Assert.Equal("ModbusRtu", first.GetProperty("protocol").GetString());
        Assert.Equal("Connected", first.GetProperty("state").GetString());
        Assert.InRange(first.GetProperty("heartbeatIntervalSeconds").GetDouble(), 1, 6);
        Assert.Equal(0, first.GetProperty("reconnects").GetInt64());

        // The proxy resets the connection: the host reconnects and polling goes on.
        Assert.Equal(1, nat.ResetAll());
        var afterReset = await UntilAsync(client, ip => ip.GetProperty("reconnects").GetInt64() >= 1 && Polls(ip) >= Polls(first) + 2 && Outcome(ip) == "Success");

        // The proxy forgets the mapping silently (no FIN, no RST): the next poll finds no reply, reconnects, and goes on.
        Assert.Equal(1, nat.DropAll());
        var afterDrop = await UntilAsync(client, ip => ip.GetProperty("reconnects").GetInt64() >= 2 && Polls(ip) >= Polls(afterReset) + 2 && Outcome(ip) == "Success");
        Assert.True(afterDrop.GetProperty("connected").GetBoolean());
        Assert.True(nat.Accepted >= 3, $"accepted {nat.Accepted}");

        // Every poll reached the event log as a transaction, and none was lost: the ones the drops hit were re-run.
        var store = factory.Services.GetRequiredService<IStateStore>();
        var log = (await store.ReadTransactionsAsync(1000, Name, CancellationToken.None)).ToList();
        Assert.True(log.Count >= Polls(afterDrop), $"{log.Count} transactions for {Polls(afterDrop)} polls");
        Assert.All(log, t => Assert.True(t.Code == OutcomeCode.Success, $"{t.Code}: {t.RawReply}"));
        Assert.All(log, t => Assert.Equal((nat.Endpoint, (string?)null), (t.Number, t.Modem)));
        Assert.Contains(log, t => t.RawReply.Contains("run again after reconnecting", StringComparison.Ordinal));

        // The event log endpoint knows the IP outstation; the metrics carry its gauges and reconnect counter.
        using var events = await client.GetAsync($"/api/events?outstation={Name}");
        Assert.Equal(HttpStatusCode.OK, events.StatusCode);
        var metrics = await client.GetStringAsync("/metrics");
        Assert.Contains("channelmanager_ip_connected", metrics, StringComparison.Ordinal);
        Assert.Contains("channelmanager_ip_heartbeat_interval", metrics, StringComparison.Ordinal);
        Assert.Contains("channelmanager_ip_reconnects", metrics, StringComparison.Ordinal);
        Assert.Contains($"outstation=\"{Name}\"", metrics, StringComparison.Ordinal);

        // The dashboard's snapshot (the SSE stream's document) carries the same outstation.
        using var snapshot = JsonDocument.Parse(await client.GetStringAsync("/api/snapshot"));
        Assert.Equal(Name, snapshot.RootElement.GetProperty("ipOutstations")[0].GetProperty("name").GetString());
    }

    [Fact]
    public async Task Run_IpOutstationRefusingConnections_PollsRecordedAsChannelFailures()
    {
        // Nothing listens on this port: every connect is refused, a failure of the channel, never of the outstation.
        var config = WriteConfig($"tcp://127.0.0.1:{Loopback.FreeTcpPort()}", maxPollWait: "00:00:01");

        await using var factory = new ConfigFileFactory(config);
        using var client = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        client.Timeout = Bound;

        var ip = await UntilAsync(client, o => Polls(o) >= 1);
        Assert.False(ip.GetProperty("connected").GetBoolean());
        Assert.Equal(nameof(OutcomeCode.TransportFailure), Outcome(ip));
        Assert.Equal(nameof(FaultAttribution.Modem), ip.GetProperty("lastCountedAgainst").GetString());
        var log = await factory.Services.GetRequiredService<IStateStore>().ReadTransactionsAsync(10, Name, CancellationToken.None);
        Assert.Contains(log, t => t is { Code: OutcomeCode.TransportFailure, CountedAgainst: FaultAttribution.Modem });
        // No number, no ledger: the repeat-call book never saw the IP outstation.
        Assert.Empty(await factory.Services.GetRequiredService<IStateStore>().LoadLedgersAsync(CancellationToken.None));
    }

    private string WriteConfig(string endpoint, string maxPollWait = "00:00:15")
    {
        var path = Path.Combine(_dir.FullName, "appsettings.json");
        // A dial-up bank must exist (Modems is required) but has nothing to dial: the only outstation is on IP.
        File.WriteAllText(path, $$"""
            {
              "Modems": [ { "Name": "M1", "Endpoint": "sim://S1", "EscapeGuardTime": "00:00:00.300" } ],
              "Outstations": [],
              "IpOutstations": [
                { "Name": "{{Name}}", "Endpoint": "{{endpoint}}", "Protocol": "ModbusRtu", "UnitId": 1, "BaudRate": 19200,
                  "ResponseTimeout": "00:00:01", "TimeoutRetries": 0, "ConnectTimeout": "00:00:02",
                  "Reads": [ { "Table": "Holding", "Start": 0, "Count": 3 } ],
                  "PollInterval": "00:00:01",
                  "Heartbeat": { "Min": "00:00:01", "Max": "00:00:06", "Increment": "00:00:01", "SuccessesBeforeRaise": 1 },
                  "Reconnect": { "Strategy": "Linear", "Delay": "00:00:00.200", "Attempts": 3, "AttemptsExceededDelay": "00:00:01" },
                  "MaxPollWait": "{{maxPollWait}}" } ],
              "Storage": { "Path": "state.db" },
              "Log": { "File": false },
              "Simulation": { "Modems": [ { "Name": "S1" } ], "Lines": [] },
              "Api": { "Token": "ip-host-test-token-0123456789abcdef" }
            }
            """);
        return path;
    }

    private static long Polls(JsonElement ip) => ip.GetProperty("polls").GetInt64();

    private static string? Outcome(JsonElement ip) => ip.GetProperty("lastOutcome").ValueKind == JsonValueKind.Null ? null : ip.GetProperty("lastOutcome").GetString();

    /// <summary>Reads GET /api/ip-outstations until the one outstation satisfies <paramref name="condition"/> (at most 30 s).</summary>
    private static async Task<JsonElement> UntilAsync(HttpClient client, Func<JsonElement, bool> condition)
    {
        var start = TimeProvider.System.GetTimestamp();
        var last = "(nothing yet)";
        while (true)
        {
            last = await client.GetStringAsync("/api/ip-outstations");
            var ip = JsonDocument.Parse(last).RootElement.EnumerateArray().Single().Clone();
            Assert.Equal(Name, ip.GetProperty("name").GetString());
            if (condition(ip))
                return ip;
            Assert.True(TimeProvider.System.GetElapsedTime(start) < Bound, "condition not met within 30 s; last: " + last);
            await Task.Delay(TimeSpan.FromMilliseconds(100), TimeProvider.System);
        }
    }

    /// <summary>The address the simulator's <c>--listen tcp://127.0.0.1:0</c> took (its READY line); also used by the on-demand poll tests.</summary>
    internal static async Task<IPEndPoint> ListeningEndpointAsync(ExternalProcess outstation)
    {
        await outstation.WaitForLineAsync("READY unit", Bound);
        var line = outstation.Output.Split('\n').First(l => l.StartsWith("READY unit", StringComparison.Ordinal));
        return IPEndPoint.Parse(line[(line.IndexOf("tcp://", StringComparison.Ordinal) + 6)..].Trim());
    }

    /// <summary>The simulator's first reply can take seconds (JIT); the test's 1 s response timeout is for what follows.</summary>
    internal static async Task WarmUpAsync(IPEndPoint outstation)
    {
        await using var link = new TcpChannelTransport(new TcpTransportOptions { Host = "127.0.0.1", Port = outstation.Port, ConnectTimeout = TimeSpan.FromSeconds(2) }, TimeProvider.System);
        await link.OpenAsync(CancellationToken.None).WaitAsync(Bound);
        var master = new ModbusRtuMaster(new ModbusRtuOptions { UnitId = 1, BaudRate = 19200, ResponseTimeout = TimeSpan.FromSeconds(10), TimeoutRetries = 0 }, TimeProvider.System);
        var result = await master.ExecuteAsync(link, [new ReadHoldingRegisters(0, 1)], CancellationToken.None).WaitAsync(Bound);
        Assert.True(result.IsSuccess, result.Detail);
    }

    /// <summary>The real service host on a given configuration file (see Api/ChannelManagerFactory for how the entry point gets it).</summary>
    private sealed class ConfigFileFactory(string configPath) : WebApplicationFactory<HostProgram>
    {
        protected override IHost CreateHost(IHostBuilder builder)
        {
            ArgumentNullException.ThrowIfNull(builder);
            builder.ConfigureHostConfiguration(c => c.AddInMemoryCollection([new(ServiceHost.TestHostConfigKey, configPath)]));
            return base.CreateHost(builder);
        }
    }
}
