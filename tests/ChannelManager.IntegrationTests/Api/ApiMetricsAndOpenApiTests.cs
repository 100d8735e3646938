using System.Net;
using System.Text.Json;

namespace ChannelManager.IntegrationTests.Api;

/// <summary>/metrics (issue 8 item 7) and /openapi/v1.json (issue 8 item 5) on the simulated bank.</summary>
public sealed class ApiMetricsAndOpenApiTests(ApiBankFixture fixture) : IClassFixture<ApiBankFixture>
{
    private ApiTestBank Bank => fixture.Bank;

    [Fact]
    public async Task GetMetrics_AfterPollsAndAGuardRefusal_ExposesEveryInstrumentInPrometheusFormat()
    {
        // A good poll (connect time), and an operator poll of the busy line inside the UK guard's gap: refused.
        using (var ok = await Bank.Client.SendAsync(ApiTestBank.Post($"/api/outstations/{ApiTestBank.OkName}/poll")))
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using (var refused = await Bank.Client.SendAsync(ApiTestBank.Post($"/api/outstations/{ApiTestBank.BusyName}/poll")))
        {
            Assert.Equal(HttpStatusCode.OK, refused.StatusCode);
            Assert.Equal("RepeatCallLimit", (await ApiTestBank.JsonOfAsync(refused)).GetProperty("outcome").GetString());
        }

        using var response = await Bank.Client.GetAsync("/metrics");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        var lines = text.Split('\n');
        double Value(string prefix, params string[] labels)
        {
            var line = lines.FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal) && labels.All(x => l.Contains(x, StringComparison.Ordinal)));
            Assert.True(line is not null, $"no '{prefix}' with {string.Join(",", labels)} in:\n{text}");
            return double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        }

        Assert.True(Value("channelmanager_calls_total{", "outcome=\"Success\"", "category=\"Success\"", "modem=\"M1\"") >= 2);
        Assert.True(Value("channelmanager_calls_total{", "outcome=\"Busy\"", "category=\"ConnectionEstablishment\"", "counted_against=\"Outstation\"") >= 1);
        Assert.True(Value("channelmanager_calls_total{", "outcome=\"RepeatCallLimit\"", "category=\"Scheduling\"") >= 1);
        Assert.True(Value("channelmanager_guard_refusals_total{", $"outstation=\"{ApiTestBank.BusyName}\"") >= 1);
        // Two connects on M1: the first scheduled poll and the operator's.
        Assert.True(Value("channelmanager_connect_time_seconds_count{", "modem=\"M1\"") >= 2);
        Assert.True(Value("channelmanager_connect_time_seconds_sum{", "modem=\"M1\"") > 0);
        // One duration per transaction, split by category: the first two polls, the good poll and the refusal.
        Assert.True(lines.Where(l => l.StartsWith("channelmanager_call_duration_seconds_count{", StringComparison.Ordinal)).Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture)) >= 4);
        Assert.True(Value("channelmanager_modem_faults_total{", "modem=\"M2\"", "outcome=\"NoDialTone\"") >= 1);
        Assert.Equal(1, Value("channelmanager_modem_faulted{", "modem=\"M2\""));
        Assert.True(Value("channelmanager_queue_depth") >= 0);
        Assert.True(Value("channelmanager_polls_running") >= 0);
        // Every modem is in exactly one state.
        var byState = lines.Where(l => l.StartsWith("channelmanager_modems{", StringComparison.Ordinal)).ToList();
        Assert.Equal(Enum.GetValues<ChannelManager.Core.Channels.ModemAvailability>().Length, byState.Count); // one series per state (HeldByPeer since active/active)
        Assert.Equal(2, byState.Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public async Task GetOpenApi_V1_DescribesEveryEndpointAndTheirMethods()
    {
        using var response = await Bank.Client.GetAsync("/openapi/v1.json");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var paths = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("paths");
        string[] gets = ["/api/modems", "/api/outstations", "/api/queue", "/api/events", "/api/ledger", "/api/alarms", "/api/cluster", "/api/snapshot", "/api/stream"];
        string[] posts = ["/api/outstations/{name}/poll", "/api/ledger/{number}/reset", "/api/modems/{name}/out-of-service"];
        foreach (var p in gets)
            Assert.True(paths.TryGetProperty(p, out var item) && item.TryGetProperty("get", out _), $"GET {p} missing");
        foreach (var p in posts)
            Assert.True(paths.TryGetProperty(p, out var item) && item.TryGetProperty("post", out _), $"POST {p} missing");
        var reset = paths.GetProperty("/api/ledger/{number}/reset").GetProperty("post");
        Assert.True(reset.GetProperty("requestBody").GetProperty("content").TryGetProperty("application/json", out _));
        Assert.True(reset.GetProperty("responses").TryGetProperty("401", out _));

        // The operator token is described, and required by the POSTs only.
        var root = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("bearer", root.GetProperty("components").GetProperty("securitySchemes").GetProperty("Bearer").GetProperty("scheme").GetString());
        foreach (var p in posts)
            Assert.Contains(paths.GetProperty(p).GetProperty("post").GetProperty("security").EnumerateArray(), r => r.TryGetProperty("Bearer", out _));
        Assert.False(paths.GetProperty("/api/modems").GetProperty("get").TryGetProperty("security", out _));
    }
}
