using System.Net;
using System.Text.Json;
using ChannelManager.Core.Channels;
using ChannelManager.Host.Api;

namespace ChannelManager.IntegrationTests.Api;

/// <summary>
/// The HTTP API (issue 8 item 5, issue 10 §4) on Kestrel over the simulated bank: response shapes, bearer-token
/// protection of the POSTs, and typed problem details for bad input.
/// </summary>
public sealed class ApiEndpointTests(ApiBankFixture fixture) : IClassFixture<ApiBankFixture>
{
    private ApiTestBank Bank => fixture.Bank;

    private HttpClient Client => fixture.Bank.Client;

    [Fact]
    public async Task GetModems_SimulatedBank_ListsEveryModemWithStateCountsAndCamelCaseEnumsAsStrings()
    {
        using var response = await Client.GetAsync("/api/modems");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var modems = (await ApiTestBank.JsonOfAsync(response)).EnumerateArray().ToList();
        Assert.Equal(["M1", "M2"], modems.Select(m => m.GetProperty("name").GetString()));
        foreach (var m in modems)
        {
            Assert.True(Enum.TryParse<ModemAvailability>(m.GetProperty("state").GetString(), out _), m.ToString());
            Assert.Equal(JsonValueKind.Number, m.GetProperty("calls").ValueKind);
            Assert.Equal(JsonValueKind.Number, m.GetProperty("errors").ValueKind);
            Assert.Equal(JsonValueKind.Object, m.GetProperty("failuresByCode").ValueKind);
            Assert.True(m.TryGetProperty("currentCall", out _));
        }

        // M1 made the first successful call; M2 (no dial tone) has a fault counted against it by its code name.
        Assert.True(modems[0].GetProperty("connects").GetInt64() >= 1);
        Assert.True(modems[1].GetProperty("failuresByCode").TryGetProperty("NoDialTone", out var noDialTone) && noDialTone.GetInt64() >= 1, modems[1].ToString());
    }

    [Fact]
    public async Task GetOutstations_AfterFirstPolls_ShowLastOutcomeTimesAndNextAttempt()
    {
        using var response = await Client.GetAsync("/api/outstations");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var list = (await ApiTestBank.JsonOfAsync(response)).EnumerateArray().ToDictionary(o => o.GetProperty("name").GetString()!);
        Assert.Equal([ApiTestBank.OkName, ApiTestBank.BusyName], list.Keys);
        var ok = list[ApiTestBank.OkName];
        Assert.Equal(ApiTestBank.OkNumber, ok.GetProperty("number").GetString());
        Assert.Equal("Success", ok.GetProperty("lastOutcome").GetString());
        Assert.Equal("Success", ok.GetProperty("lastOutcomeCategory").GetString());
        Assert.NotEqual(JsonValueKind.Null, ok.GetProperty("lastSuccess").ValueKind);
        Assert.NotEqual(JsonValueKind.Null, ok.GetProperty("nextAttempt").ValueKind);
        var busy = list[ApiTestBank.BusyName];
        Assert.Equal("Busy", busy.GetProperty("lastOutcome").GetString());
        Assert.Equal("ConnectionEstablishment", busy.GetProperty("lastOutcomeCategory").GetString());
        Assert.NotEqual(JsonValueKind.Null, busy.GetProperty("lastFailure").ValueKind);
        Assert.True(busy.GetProperty("errors").GetInt64() >= 1);
    }

    [Fact]
    public async Task GetQueue_TwoOutstations_ListsBothWithDepthAndRunningCounts()
    {
        using var response = await Client.GetAsync("/api/queue");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var queue = await ApiTestBank.JsonOfAsync(response);
        Assert.True(queue.GetProperty("depth").GetInt32() >= 0);
        Assert.True(queue.GetProperty("running").GetInt32() >= 0);
        var entries = queue.GetProperty("entries").EnumerateArray().ToList();
        Assert.Equal([ApiTestBank.BusyName, ApiTestBank.OkName], entries.Select(e => e.GetProperty("outstation").GetString()).Order());
        Assert.All(entries, e => Assert.Contains(e.GetProperty("due").ValueKind, new[] { JsonValueKind.True, JsonValueKind.False }));
        Assert.All(entries, e => Assert.Equal(JsonValueKind.Number, e.GetProperty("onDemand").ValueKind));
    }

    [Fact]
    public async Task GetEvents_OutstationFilterAndMax_ReturnsOnlyThatOutstationNewestFirst()
    {
        using var response = await Client.GetAsync($"/api/events?max=5&outstation={ApiTestBank.BusyName}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = (await ApiTestBank.JsonOfAsync(response)).EnumerateArray().ToList();
        Assert.NotEmpty(events);
        Assert.True(events.Count <= 5);
        Assert.All(events, e => Assert.Equal(ApiTestBank.BusyName, e.GetProperty("outstation").GetString()));
        var first = events[^1];
        Assert.Equal("Busy", first.GetProperty("outcome").GetString());
        Assert.Equal("Outstation", first.GetProperty("countedAgainst").GetString());
        var ended = events.Select(e => e.GetProperty("endedAt").GetDateTimeOffset()).ToList();
        Assert.Equal(ended.OrderDescending(), ended);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("0")]
    [InlineData("1001")]
    [InlineData("-1")]
    public async Task GetEvents_MaxOutOfRange_Returns400ProblemNamingMax(string max)
    {
        using var response = await Client.GetAsync($"/api/events?max={Uri.EscapeDataString(max)}");

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "invalid-field", "max");
    }

    [Fact]
    public async Task GetEvents_UnknownOutstation_Returns404ProblemNamingIt()
    {
        using var response = await Client.GetAsync("/api/events?outstation=RTU-NOPE");

        var problem = await AssertProblemAsync(response, HttpStatusCode.NotFound, "unknown-outstation", "name");
        Assert.Contains("RTU-NOPE", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetLedger_AfterBusyCall_ListsConfiguredNumbersWithStateAndProfile()
    {
        using var response = await Client.GetAsync("/api/ledger");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var book = await ApiTestBank.JsonOfAsync(response);
        Assert.Equal("UK", book.GetProperty("profile").GetString());
        var numbers = book.GetProperty("numbers").EnumerateArray().ToDictionary(n => n.GetProperty("number").GetString()!);
        Assert.Contains(ApiTestBank.OkNumber, numbers.Keys);
        Assert.Contains(ApiTestBank.BusyNumber, numbers.Keys);
        Assert.Equal([ApiTestBank.BusyName], numbers[ApiTestBank.BusyNumber].GetProperty("outstations").EnumerateArray().Select(o => o.GetString()));
        Assert.True(Enum.TryParse<Core.Scheduling.LedgerState>(numbers[ApiTestBank.BusyNumber].GetProperty("state").GetString(), out _));
        Assert.Contains(book.GetProperty("recentEvents").EnumerateArray(), e => e.GetProperty("kind").GetString() == "AttemptStarted");
    }

    [Fact]
    public async Task GetAlarms_NoAlarmRaised_ReturnsEmptyArray()
    {
        using var response = await Client.GetAsync("/api/alarms");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var alarms = await ApiTestBank.JsonOfAsync(response);
        Assert.Equal(JsonValueKind.Array, alarms.ValueKind);
        Assert.Equal(Bank.Services.Scheduler.Alarms.Count, alarms.GetArrayLength());
    }

    [Fact]
    public async Task PostPoll_WithToken_PollsTheOutstationAndReturnsItsOutcome()
    {
        var before = await Bank.TransactionCountAsync(ApiTestBank.OkName);
        var calls = Bank.Exchange.CallLog.Count(c => c.Number == ApiTestBank.OkNumber);

        using var response = await Client.SendAsync(ApiTestBank.Post($"/api/outstations/{ApiTestBank.OkName}/poll"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var outcome = await ApiTestBank.JsonOfAsync(response);
        Assert.Equal(ApiTestBank.OkName, outcome.GetProperty("outstation").GetString());
        Assert.Equal("Success", outcome.GetProperty("outcome").GetString());
        Assert.Equal("M1", outcome.GetProperty("modem").GetString());
        // The poll --json shape (PollReport): what was read, and every field the API returned before values[].
        Assert.Equal([1001, 2317], outcome.GetProperty("values").EnumerateArray().Select(v => v.GetInt32()));
        Assert.Equal(ApiTestBank.OkNumber, outcome.GetProperty("number").GetString());
        Assert.Equal("None", outcome.GetProperty("countedAgainst").GetString());
        Assert.Equal(JsonValueKind.Null, outcome.GetProperty("nextAllowedAt").ValueKind);
        Assert.Equal(
            ["outstation", "number", "outcome", "category", "countedAgainst", "modem", "modemsTried", "reply", "values", "startedAt", "endedAt", "nextAllowedAt"],
            outcome.EnumerateObject().Select(p => p.Name));
        Assert.Equal(before + 1, await Bank.TransactionCountAsync(ApiTestBank.OkName));
        Assert.Equal(calls + 1, Bank.Exchange.CallLog.Count(c => c.Number == ApiTestBank.OkNumber));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("wrong-token-0123456789abcdef")]
    [InlineData("test-token-0123456789abcdeF")]
    public async Task PostPoll_MissingOrWrongToken_Returns401ProblemAndDoesNotDial(string? token)
    {
        var calls = Bank.Exchange.CallLog.Count;
        var before = await Bank.TransactionCountAsync();

        using var response = await Client.SendAsync(ApiTestBank.Post($"/api/outstations/{ApiTestBank.OkName}/poll", token: token));

        await AssertProblemAsync(response, HttpStatusCode.Unauthorized, "unauthorized", "Authorization");
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Equal(calls, Bank.Exchange.CallLog.Count);
        Assert.Equal(before, await Bank.TransactionCountAsync());
    }

    [Fact]
    public async Task PostPoll_BasicAuthenticationScheme_Returns401()
    {
        var request = ApiTestBank.Post($"/api/outstations/{ApiTestBank.OkName}/poll", token: null);
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", Convert.ToBase64String("operator:test-token-0123456789abcdef"u8.ToArray()));

        using var response = await Client.SendAsync(request);

        await AssertProblemAsync(response, HttpStatusCode.Unauthorized, "unauthorized", "Authorization");
    }

    [Fact]
    public async Task PostPoll_UnknownOutstation_Returns404ProblemNamingIt()
    {
        using var response = await Client.SendAsync(ApiTestBank.Post("/api/outstations/RTU-NOPE/poll"));

        var problem = await AssertProblemAsync(response, HttpStatusCode.NotFound, "unknown-outstation", "name");
        Assert.Contains("RTU-NOPE", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PostPoll_WaitFalse_Returns202WithEventsLocationAndThePollRuns()
    {
        var before = await Bank.TransactionCountAsync(ApiTestBank.OkName);

        using var response = await Client.SendAsync(ApiTestBank.Post($"/api/outstations/{ApiTestBank.OkName}/poll?wait=false"));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal($"/api/events?outstation={ApiTestBank.OkName}", response.Headers.Location?.OriginalString);
        await Bank.WaitForTransactionsAsync(before + 1, TimeSpan.FromSeconds(60), ApiTestBank.OkName);
    }

    [Theory]
    [InlineData("0123;ATH")]
    [InlineData("0123\r+++")]
    [InlineData("ATDT0123")]
    [InlineData("01234567890123456789012345678901234567890")]
    public async Task PostLedgerReset_InvalidNumber_Returns400ProblemNamingNumber(string number)
    {
        using var response = await Client.SendAsync(ApiTestBank.Post($"/api/ledger/{Uri.EscapeDataString(number)}/reset", """{"operator":"alice"}"""));

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "invalid-number", "number");
        Assert.DoesNotContain('\r', problem.GetProperty("detail").GetString()!);
    }

    [Fact]
    public async Task PostLedgerReset_UnknownNumber_Returns404Problem()
    {
        using var response = await Client.SendAsync(ApiTestBank.Post("/api/ledger/01632969999/reset", """{"operator":"alice"}"""));

        await AssertProblemAsync(response, HttpStatusCode.NotFound, "unknown-number", "number");
    }

    [Theory]
    [InlineData("{\"operator\":")]
    [InlineData("{\"operator\": alice}")]
    [InlineData("[1,2]")]
    [InlineData("null")]
    [InlineData("{\"operator\":\"alice\",\"path\":\"/etc/passwd\"}")]
    public async Task PostLedgerReset_MalformedJson_Returns400MalformedJsonProblem(string body)
    {
        using var response = await Client.SendAsync(ApiTestBank.Post($"/api/ledger/{ApiTestBank.BusyNumber}/reset", body));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "malformed-json", "body");
    }

    [Theory]
    [InlineData("{}", "operator")]
    [InlineData("{\"operator\":\"   \"}", "operator")]
    [InlineData("{\"operator\":\"al\\nice\"}", "operator")]
    [InlineData("{\"operator\":\"alice\",\"reason\":\"x\\u0000\"}", "reason")]
    public async Task PostLedgerReset_BadOperatorOrReason_Returns400ProblemNamingTheField(string body, string field)
    {
        using var response = await Client.SendAsync(ApiTestBank.Post($"/api/ledger/{ApiTestBank.BusyNumber}/reset", body));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "invalid-field", field);
    }

    [Fact]
    public async Task PostLedgerReset_NotJsonContentType_Returns415Problem()
    {
        var request = ApiTestBank.Post($"/api/ledger/{ApiTestBank.BusyNumber}/reset");
        request.Content = new StringContent("operator=alice", System.Text.Encoding.UTF8, "application/x-www-form-urlencoded");

        using var response = await Client.SendAsync(request);

        await AssertProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "unsupported-media-type", "body");
    }

    [Fact]
    public async Task PostLedgerReset_BodyOverLimitWithContentLength_Returns413Problem()
    {
        var body = $$"""{"operator":"alice","reason":"{{new string('x', 20_000)}}"}""";

        using var response = await Client.SendAsync(ApiTestBank.Post($"/api/ledger/{ApiTestBank.BusyNumber}/reset", body));

        await AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "body-too-large", "body");
    }

    [Fact]
    public async Task PostLedgerReset_ChunkedBodyOverLimit_Returns413Problem()
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes($$"""{"operator":"alice","reason":"{{new string('x', 20_000)}}"}""");
        var request = ApiTestBank.Post($"/api/ledger/{ApiTestBank.BusyNumber}/reset");
        // No Content-Length: the limit must hold while the body is read, not only on the declared length.
        request.Content = new StreamContent(new MemoryStream(bytes));
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        request.Headers.TransferEncodingChunked = true;

        using var response = await Client.SendAsync(request);

        await AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "body-too-large", "body");
    }

    [Fact]
    public async Task PostLedgerReset_ValidRequest_ResetsTheNumberAndAuditsTheOperator()
    {
        using var response = await Client.SendAsync(ApiTestBank.Post($"/api/ledger/{ApiTestBank.BusyNumber}/reset", """{"operator":"alice","reason":"line repaired"}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var ledger = await ApiTestBank.JsonOfAsync(response);
        Assert.Equal(ApiTestBank.BusyNumber, ledger.GetProperty("number").GetString());
        Assert.Equal(0, ledger.GetProperty("attemptsInSequence").GetInt32());
        var events = await Bank.Services.Store.ReadLedgerEventsAsync(20, ApiTestBank.BusyNumber, CancellationToken.None);
        var reset = Assert.Single(events, e => e.Kind == Core.Scheduling.LedgerEventKind.OperatorReset && e.Operator == "alice");
        Assert.Contains("line repaired", reset.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PostOutOfService_UnknownModem_Returns404ProblemNamingIt()
    {
        using var response = await Client.SendAsync(ApiTestBank.Post("/api/modems/M9/out-of-service", """{"outOfService":true}"""));

        await AssertProblemAsync(response, HttpStatusCode.NotFound, "unknown-modem", "name");
    }

    [Theory]
    [InlineData("{}", "invalid-field", "outOfService")]
    [InlineData("{\"outOfService\":\"yes\"}", "malformed-json", "body")]
    [InlineData("{\"outOfService\":true,\"port\":\"/dev/ttyS0\"}", "malformed-json", "body")]
    public async Task PostOutOfService_BadBody_Returns400TypedProblem(string body, string type, string field)
    {
        using var response = await Client.SendAsync(ApiTestBank.Post("/api/modems/M2/out-of-service", body));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, type, field);
        Assert.NotEqual(ModemAvailability.OutOfService, Bank.Channels.Modems.Single(m => m.Name == "M2").Availability);
    }

    [Fact]
    public async Task PostOutOfService_TakeOutAndReturn_ChangesTheModemState()
    {
        try
        {
            using var outResponse = await Client.SendAsync(ApiTestBank.Post("/api/modems/m2/out-of-service", """{"outOfService":true,"reason":"no dial tone","operator":"bob"}"""));
            Assert.Equal(HttpStatusCode.OK, outResponse.StatusCode);
            Assert.Equal("OutOfService", (await ApiTestBank.JsonOfAsync(outResponse)).GetProperty("state").GetString());
            Assert.Equal(ModemAvailability.OutOfService, Bank.Channels.Modems.Single(m => m.Name == "M2").Availability);

            using var backResponse = await Client.SendAsync(ApiTestBank.Post("/api/modems/M2/out-of-service", """{"outOfService":false}"""));
            Assert.Equal(HttpStatusCode.OK, backResponse.StatusCode);
            Assert.NotEqual("OutOfService", (await ApiTestBank.JsonOfAsync(backResponse)).GetProperty("state").GetString());
        }
        finally
        {
            Bank.Channels.SetOutOfService("M2", false);
        }
    }

    [Fact]
    public async Task AnyRequest_ForeignHostHeader_Returns400HostNotAllowed()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/modems");
        request.Headers.Host = "attacker.example";

        using var response = await Client.SendAsync(request);

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "host-not-allowed", "Host");
    }

    [Fact]
    public async Task GetUnknownPath_TraversalAttempt_Returns404AndNoFile()
    {
        using var response = await Client.GetAsync("/..%2F..%2Fetc%2Fpasswd");

        var problem = await AssertProblemAsync(response, HttpStatusCode.NotFound, "not-found", field: null);
        Assert.DoesNotContain("root:", problem.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PostPoll_HostWithoutToken_Returns403TokenNotConfigured()
    {
        await using var readOnly = await DashboardHost.StartAsync(Bank.Services, new ApiOptions { Urls = "http://127.0.0.1:0" }, CancellationToken.None);
        using var client = ApiTestBank.ClientFor(readOnly);
        var calls = Bank.Exchange.CallLog.Count;

        using var response = await client.SendAsync(ApiTestBank.Post($"/api/outstations/{ApiTestBank.OkName}/poll"));

        var problem = await AssertProblemAsync(response, HttpStatusCode.Forbidden, "token-not-configured", field: null);
        Assert.Contains("Api.Token", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(calls, Bank.Exchange.CallLog.Count);
        using var get = await client.GetAsync("/api/modems");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
    }

    [Fact]
    public async Task DashboardHostStartAsync_NonLoopbackWithoutAllowRemoteOrToken_RefusedBeforeBinding()
    {
        var e = await Assert.ThrowsAsync<ArgumentException>(() => DashboardHost.StartAsync(Bank.Services, new ApiOptions { Urls = "http://0.0.0.0:0" }, CancellationToken.None));

        Assert.Contains("Api.AllowRemote", e.Message, StringComparison.Ordinal);
        Assert.Contains("Api.Token", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetStream_ServerSentEvents_FirstEventIsASnapshotOfTheBank()
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var response = await Client.GetAsync("/api/stream", HttpCompletionOption.ResponseHeadersRead, bound.Token);

        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        await using var stream = await response.Content.ReadAsStreamAsync(bound.Token);
        var parser = System.Net.ServerSentEvents.SseParser.Create(stream);
        await using var events = parser.EnumerateAsync(bound.Token).GetAsyncEnumerator(bound.Token);
        Assert.True(await events.MoveNextAsync());
        Assert.Equal("snapshot", events.Current.EventType);
        var snapshot = JsonDocument.Parse(events.Current.Data).RootElement;
        Assert.Equal(2, snapshot.GetProperty("modems").GetArrayLength());
        Assert.Equal(2, snapshot.GetProperty("outstations").GetArrayLength());
        Assert.True(snapshot.GetProperty("events").GetArrayLength() >= 2);
    }

    [Fact]
    public async Task GetDashboard_Root_ServesHtmlWithSecurityHeadersAndItsScript()
    {
        using var page = await Client.GetAsync("/");
        using var script = await Client.GetAsync("/dashboard.js");
        using var style = await Client.GetAsync("/dashboard.css");

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("id=\"modems\"", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains("default-src 'self'", page.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.Equal("nosniff", page.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.Contains("EventSource", await script.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, style.StatusCode);
    }

    internal static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string type, string? field)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {status}, got {response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement.Clone();
        Assert.Equal("urn:channelmanager:problem:" + type, problem.GetProperty("type").GetString());
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()));
        if (field is not null)
            Assert.Equal(field, problem.GetProperty("field").GetString());
        return problem;
    }
}
