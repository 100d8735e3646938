using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using ChannelManager.Core;
using ChannelManager.Core.Scheduling;
using Microsoft.Extensions.DependencyInjection;

namespace ChannelManager.IntegrationTests.Api;

/// <summary>
/// Issue 8 acceptance "API tests with WebApplicationFactory": the real service host (Program → ServiceHost, as
/// <c>channelmanager run</c>) on config/appsettings.json's simulated bank, under <see cref="ChannelManagerFactory"/>
/// on the TestServer. Unlike the Kestrel tests (ApiTestBank), nothing here is composed by the test: modems,
/// Channel Manager, repeat-call book, scheduler, store and API are what the configuration file makes them.
/// </summary>
public sealed class WebApplicationFactoryTests(ChannelManagerHostFixture fixture) : IClassFixture<ChannelManagerHostFixture>
{
    private const string AnsweringOutstation = "RTU-01";
    private const string BusyNumber = "01632960003";

    private HttpClient Client => fixture.Client;

    [Fact]
    public async Task GetModems_RealServiceHost_ListsTheConfiguredModems()
    {
        using var response = await Client.GetAsync("/api/modems");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var modems = (await JsonOfAsync(response)).EnumerateArray().ToList();
        Assert.Equal(fixture.Factory.ModemNames, modems.Select(m => m.GetProperty("name").GetString()));
        // The configured faults reach the real bank: M4 has no dial tone, M2 fails its initialisation.
        Assert.Contains(modems, m => m.GetProperty("connects").GetInt64() >= 1);
    }

    [Fact]
    public async Task GetCluster_SqliteHost_IsSingleInTheApiSnapshotAndMetrics()
    {
        using var response = await Client.GetAsync("/api/cluster");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var cluster = await JsonOfAsync(response);
        Assert.Equal("Single", cluster.GetProperty("role").GetString());
        Assert.Equal("Sqlite", cluster.GetProperty("storage").GetString());
        Assert.Equal(Environment.MachineName, cluster.GetProperty("hostId").GetString());
        Assert.Equal(JsonValueKind.Null, cluster.GetProperty("leaseEpoch").ValueKind);
        Assert.Equal(JsonValueKind.Null, cluster.GetProperty("activeHost").ValueKind);
        Assert.Empty(cluster.GetProperty("peers").EnumerateArray());

        // The dashboard gets the same document in every snapshot.
        using var snapshot = await Client.GetAsync("/api/snapshot");
        Assert.Equal(cluster.ToString(), (await JsonOfAsync(snapshot)).GetProperty("cluster").ToString());

        // A single host polls and dials: active, holding no lease.
        var metrics = await Client.GetStringAsync("/metrics");
        Assert.Matches(@"(?m)^channelmanager_host_active\{[^}]*host=""" + System.Text.RegularExpressions.Regex.Escape(Environment.MachineName) + @"""[^}]*\} 1( |$)", metrics);
        Assert.Matches(@"(?m)^channelmanager_lease_epoch\{[^}]*\} 0( |$)", metrics);
        Assert.Matches(@"(?m)^channelmanager_lease_takeovers_total\{[^}]*\} 0( |$)", metrics);
    }

    [Fact]
    public async Task PostPoll_NoToken_Returns401AndDialsNothing()
    {
        var callsBefore = await TotalModemCallsAsync();
        var transactionsBefore = await TransactionCountAsync(AnsweringOutstation);

        using var request = Post($"/api/outstations/{AnsweringOutstation}/poll", token: null);
        using var response = await Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains(response.Headers.WwwAuthenticate, h => h.Scheme == "Bearer");
        var scheduler = fixture.Factory.Services.GetRequiredService<PollScheduler>();
        Assert.DoesNotContain(scheduler.Status, s => s.Name == AnsweringOutstation && (s.Running || s.QueuedOnDemand > 0));
        Assert.Equal(callsBefore, await TotalModemCallsAsync());
        Assert.Equal(transactionsBefore, await TransactionCountAsync(AnsweringOutstation));
    }

    [Fact]
    public async Task PostPoll_BearerToken_RunsThroughTheRealSchedulerAndReturnsTheOutcome()
    {
        var transactionsBefore = await TransactionCountAsync(AnsweringOutstation);

        using var request = Post($"/api/outstations/{AnsweringOutstation}/poll");
        using var response = await Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var result = await JsonOfAsync(response);
        Assert.Equal(AnsweringOutstation, result.GetProperty("outstation").GetString());
        Assert.Equal("01632960001", result.GetProperty("number").GetString());
        // The simulated line answers with a Modbus outstation on a modem that works (M1 or M3).
        Assert.Equal(nameof(OutcomeCode.Success), result.GetProperty("outcome").GetString());
        Assert.Contains(result.GetProperty("modem").GetString(), new[] { "M1", "M3" });
        // The scheduler wrote the operator's poll to the store like any other transaction.
        Assert.Equal(transactionsBefore + 1, await TransactionCountAsync(AnsweringOutstation));
    }

    [Fact]
    public async Task PostLedgerReset_OperatorAndToken_ResetsTheNumberAndAuditsTheOperator()
    {
        using var request = Post($"/api/ledger/{BusyNumber}/reset", """{"operator":"waf-operator","reason":"line repaired"}""");
        using var response = await Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var ledger = await JsonOfAsync(response);
        Assert.Equal(BusyNumber, ledger.GetProperty("number").GetString());
        Assert.Equal(0, ledger.GetProperty("attemptsInSequence").GetInt32());
        Assert.Equal(["RTU-03"], ledger.GetProperty("outstations").EnumerateArray().Select(o => o.GetString()));
        var events = await fixture.Store.ReadLedgerEventsAsync(50, BusyNumber, CancellationToken.None);
        var reset = Assert.Single(events, e => e.Kind == LedgerEventKind.OperatorReset && e.Operator == "waf-operator");
        Assert.Contains("line repaired", reset.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PostLedgerReset_NoToken_Returns401AndLeavesNoAuditEvent()
    {
        using var request = Post($"/api/ledger/{BusyNumber}/reset", """{"operator":"intruder"}""", token: null);
        using var response = await Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var events = await fixture.Store.ReadLedgerEventsAsync(50, BusyNumber, CancellationToken.None);
        Assert.DoesNotContain(events, e => e.Operator == "intruder");
    }

    [Fact]
    public async Task GetMetrics_RealServiceHost_ExportsTheCallCounterOfTheFirstPolls()
    {
        using var response = await Client.GetAsync("/metrics");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains(text.Split('\n'), l => l.StartsWith("channelmanager_calls_total{", StringComparison.Ordinal) && l.Contains("outcome=\"Success\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task GetOpenApi_RealServiceHost_DescribesTheApiWithTheBearerScheme()
    {
        using var response = await Client.GetAsync("/openapi/v1.json");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var document = await JsonOfAsync(response);
        var paths = document.GetProperty("paths");
        Assert.True(paths.TryGetProperty("/api/modems", out _), paths.ToString());
        Assert.True(paths.TryGetProperty("/api/outstations/{name}/poll", out _), paths.ToString());
        Assert.True(document.GetProperty("components").GetProperty("securitySchemes").EnumerateObject().Any(), document.ToString());
    }

    private static HttpRequestMessage Post(string path, string? json = null, string? token = ChannelManagerFactory.Token)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path);
        if (json is not null)
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        if (token is not null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return request;
    }

    private static async Task<JsonElement> JsonOfAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private async Task<long> TotalModemCallsAsync()
    {
        using var response = await Client.GetAsync("/api/modems");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await JsonOfAsync(response)).EnumerateArray().Sum(m => m.GetProperty("calls").GetInt64());
    }

    private async Task<int> TransactionCountAsync(string outstation) =>
        (await fixture.Store.ReadTransactionsAsync(1000, outstation, CancellationToken.None)).Count;
}
