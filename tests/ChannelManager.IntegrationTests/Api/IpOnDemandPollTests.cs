using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using ChannelManager.Core;
using ChannelManager.Core.Persistence;
using ChannelManager.Host.Hosting;
using ChannelManager.IntegrationTests.Host;
using ChannelManager.IntegrationTests.Support;
using ChannelManager.Persistence.Sqlite;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace ChannelManager.IntegrationTests.Api;

/// <summary>
/// On-demand polls of an IP outstation (docs/ip-outstations.md §8): the real <c>run</c> host (Program → ServiceHost under
/// WebApplicationFactory) with an <c>IpOutstations</c> entry pointing at our simulator process listening on 127.0.0.1
/// (Modbus RTU over TCP), polled every hour so that only the first scheduled poll and the tests' own requests run.
/// </summary>
public sealed class IpOnDemandPollTests(IpOnDemandPollTests.IpHostFixture fixture) : IClassFixture<IpOnDemandPollTests.IpHostFixture>
{
    public const string Name = "RTU-IP-OD";
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task PostPoll_IpOutstation_PollsOnceOnTheLinkRecordsItAndReturnsThePollReport()
    {
        var before = await TransactionsAsync();

        using var response = await fixture.Client.SendAsync(Post($"/api/outstations/{Name}/poll"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var report = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(Name, report.GetProperty("outstation").GetString());
        Assert.Equal(fixture.Endpoint, report.GetProperty("number").GetString());
        Assert.Equal(nameof(OutcomeCode.Success), report.GetProperty("outcome").GetString());
        Assert.Equal(JsonValueKind.Null, report.GetProperty("modem").ValueKind);
        Assert.Equal(0, report.GetProperty("modemsTried").GetArrayLength());
        Assert.Equal([11, 22, 33], report.GetProperty("values").EnumerateArray().Select(v => v.GetInt32()));
        Assert.Equal(JsonValueKind.Null, report.GetProperty("nextAllowedAt").ValueKind);

        // Recorded exactly as the scheduled polls are: one transaction, the endpoint as the number, no modem.
        var after = await TransactionsAsync();
        Assert.Equal(before.Count + 1, after.Count);
        var record = after[0];
        Assert.Equal((Name, fixture.Endpoint, OutcomeCode.Success, (string?)null, 0), (record.Outstation, record.Number, record.Code, record.Modem, record.ModemsTried.Count));
        Assert.Equal(report.GetProperty("startedAt").GetDateTimeOffset(), record.StartedAt);
        Assert.Equal(report.GetProperty("endedAt").GetDateTimeOffset(), record.EndedAt);
        // No number, no ledger: an IP poll never reaches the repeat-call book.
        Assert.DoesNotContain(await fixture.Store.LoadLedgersAsync(CancellationToken.None), l => l.Number == fixture.Endpoint);
    }

    [Fact]
    public async Task PostPoll_IpOutstationWaitFalse_Returns202AndThePollReachesTheEventLog()
    {
        var before = (await TransactionsAsync()).Count;

        using var response = await fixture.Client.SendAsync(Post($"/api/outstations/{Name}/poll?wait=false"));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal($"/api/events?outstation={Name}", response.Headers.Location?.OriginalString);
        var start = TimeProvider.System.GetTimestamp();
        while ((await TransactionsAsync()).Count <= before)
        {
            Assert.True(TimeProvider.System.GetElapsedTime(start) < Bound, "the queued poll was not recorded within 30 s");
            await Task.Delay(TimeSpan.FromMilliseconds(100), TimeProvider.System);
        }

        Assert.Equal(OutcomeCode.Success, (await TransactionsAsync())[0].Code);
    }

    [Fact]
    public async Task PostPoll_UnknownNameBesideIpOutstations_Returns404ProblemAndPollsNothing()
    {
        var before = (await TransactionsAsync()).Count;

        using var response = await fixture.Client.SendAsync(Post("/api/outstations/RTU-IP-NOPE/poll"));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("urn:channelmanager:problem:unknown-outstation", problem.GetProperty("type").GetString());
        Assert.Equal("name", problem.GetProperty("field").GetString());
        Assert.Equal(before, (await TransactionsAsync()).Count);
    }

    [Fact]
    public async Task PostPoll_IpOutstationWithoutToken_Returns401AndPollsNothing()
    {
        var before = (await TransactionsAsync()).Count;

        using var response = await fixture.Client.SendAsync(Post($"/api/outstations/{Name}/poll", token: null));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(before, (await TransactionsAsync()).Count);
    }

    private async Task<IReadOnlyList<TransactionRecord>> TransactionsAsync() =>
        [.. await fixture.Store.ReadTransactionsAsync(1000, Name, CancellationToken.None)];

    private static HttpRequestMessage Post(string path, string? token = ChannelManagerFactory.Token)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path);
        if (token is not null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return request;
    }

    /// <summary>The simulator outstation (holding 0..2 = 11, 22, 33) and one host polling it; its first poll written before any test.</summary>
    public sealed class IpHostFixture : IAsyncLifetime
    {
        private ExternalProcess? _outstation;

        public ChannelManagerFactory Factory { get; private set; } = null!; // set by InitializeAsync before any test runs.

        public HttpClient Client { get; private set; } = null!;

        public string Endpoint { get; private set; } = string.Empty;

        public IStateStore Store => Factory.Services.GetRequiredService<IStateStore>();

        public async Task InitializeAsync()
        {
            _outstation = ExternalProcess.StartSimulator("outstation", "--listen", "tcp://127.0.0.1:0", "--unit", "1", "--holding", "0=11,22,33");
            var target = await IpOutstationHostTests.ListeningEndpointAsync(_outstation);
            await IpOutstationHostTests.WarmUpAsync(target);
            Endpoint = $"tcp://127.0.0.1:{target.Port}";
            Factory = new ChannelManagerFactory(config => config["IpOutstations"] = IpOutstationsJson(Name, Endpoint));
            Client = Factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
            Client.Timeout = Bound;
            var start = TimeProvider.System.GetTimestamp();
            while ((await Store.ReadTransactionsAsync(1, Name, CancellationToken.None)).Count == 0)
            {
                Assert.True(TimeProvider.System.GetElapsedTime(start) < Bound, "the first scheduled IP poll was not recorded within 30 s");
                await Task.Delay(TimeSpan.FromMilliseconds(100), TimeProvider.System);
            }
        }

        public async Task DisposeAsync()
        {
            Client?.Dispose();
            if (Factory is not null)
                await Factory.DisposeAsync();
            if (_outstation is not null)
                await _outstation.DisposeAsync();
        }
    }

    /// <summary>One IP outstation (RTU over TCP, unit 1, reads holding 0..2), polled every hour.</summary>
    internal static JsonNode IpOutstationsJson(string name, string endpoint, string maxPollWait = "00:00:15") => JsonNode.Parse($$"""
        [ { "Name": "{{name}}", "Endpoint": "{{endpoint}}", "Protocol": "ModbusRtu", "UnitId": 1, "BaudRate": 19200,
            "ResponseTimeout": "00:00:01", "TimeoutRetries": 0, "ConnectTimeout": "00:00:02",
            "Reads": [ { "Table": "Holding", "Start": 0, "Count": 3 } ],
            "PollInterval": "01:00:00",
            "Reconnect": { "Strategy": "Linear", "Delay": "00:00:00.200", "Attempts": 3, "AttemptsExceededDelay": "00:00:01" },
            "MaxPollWait": "{{maxPollWait}}" } ]
        """)!;
}

/// <summary>
/// <c>channelmanager poll --outstation NAME</c> for an IP outstation, in-process from a configuration file as the verb
/// runs: connect, one poll, close, recorded in the event log; exit codes per Hosting/ExitCodes.
/// </summary>
public sealed class IpPollVerbTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("cm-ippoll-");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _dir.Delete(recursive: true);
    }

    [Fact]
    public async Task PollVerb_IpOutstation_PollsOncePrintsJsonRecordsAndExits0()
    {
        await using var outstation = ExternalProcess.StartSimulator("outstation", "--listen", "tcp://127.0.0.1:0", "--unit", "1", "--holding", "0=11,22,33");
        var target = await IpOutstationHostTests.ListeningEndpointAsync(outstation);
        await IpOutstationHostTests.WarmUpAsync(target);
        var endpoint = $"tcp://127.0.0.1:{target.Port}";
        var config = WriteConfig(endpoint, "00:00:15");
        using var output = new StringWriter();
        using var error = new StringWriter();

        var code = await CommandLine.PollAsync(config, "rtu-ip-cli", json: true, output, error, CancellationToken.None).WaitAsync(Bound);

        Assert.True(code == ExitCodes.Ok, $"exit {code}: {error}");
        var report = JsonDocument.Parse(output.ToString()).RootElement;
        Assert.Equal(("RTU-IP-CLI", endpoint, "Success"), (report.GetProperty("outstation").GetString(), report.GetProperty("number").GetString(), report.GetProperty("outcome").GetString()));
        Assert.Equal([11, 22, 33], report.GetProperty("values").EnumerateArray().Select(v => v.GetInt32()));
        var log = await ReadLogAsync();
        var record = Assert.Single(log);
        Assert.Equal(("RTU-IP-CLI", endpoint, OutcomeCode.Success, (string?)null), (record.Outstation, record.Number, record.Code, record.Modem));
    }

    [Fact]
    public async Task PollVerb_IpOutstationRefusingConnections_RecordsTransportFailureAndExits1()
    {
        var endpoint = $"tcp://127.0.0.1:{Loopback.FreeTcpPort()}";
        var config = WriteConfig(endpoint, "00:00:01");
        using var output = new StringWriter();
        using var error = new StringWriter();

        var code = await CommandLine.PollAsync(config, "RTU-IP-CLI", json: false, output, error, CancellationToken.None).WaitAsync(Bound);

        Assert.Equal(ExitCodes.Failed, code);
        Assert.StartsWith("RTU-IP-CLI: TransportFailure", output.ToString(), StringComparison.Ordinal);
        var record = Assert.Single(await ReadLogAsync());
        Assert.Equal((OutcomeCode.TransportFailure, FaultAttribution.Modem), (record.Code, record.CountedAgainst));
    }

    [Fact]
    public async Task PollVerb_UnknownName_Exits2NamingEveryOutstation()
    {
        var config = WriteConfig("tcp://127.0.0.1:1", "00:00:01");
        using var output = new StringWriter();
        using var error = new StringWriter();

        var code = await CommandLine.PollAsync(config, "RTU-NOPE", json: false, output, error, CancellationToken.None).WaitAsync(Bound);

        Assert.Equal(ExitCodes.BadConfig, code);
        Assert.Contains("no outstation named 'RTU-NOPE'", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("RTU-IP-CLI", error.ToString(), StringComparison.Ordinal);
    }

    private async Task<IReadOnlyList<TransactionRecord>> ReadLogAsync()
    {
        await using var store = await SqliteStateStore.OpenAsync(new SqliteStateStoreOptions { Path = Path.Combine(_dir.FullName, "state.db") }, CancellationToken.None);
        return [.. await store.ReadTransactionsAsync(10, null, CancellationToken.None)];
    }

    private string WriteConfig(string endpoint, string maxPollWait)
    {
        var path = Path.Combine(_dir.FullName, "appsettings.json");
        var config = JsonNode.Parse("""
            {
              "Modems": [ { "Name": "M1", "Endpoint": "sim://S1", "EscapeGuardTime": "00:00:00.300" } ],
              "Outstations": [],
              "Storage": { "Path": "state.db" },
              "Log": { "File": false },
              "Simulation": { "Modems": [ { "Name": "S1" } ], "Lines": [] }
            }
            """)!.AsObject();
        config["IpOutstations"] = IpOnDemandPollTests.IpOutstationsJson("RTU-IP-CLI", endpoint, maxPollWait);
        File.WriteAllText(path, config.ToJsonString());
        return path;
    }
}
