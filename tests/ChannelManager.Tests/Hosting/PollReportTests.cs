using System.Text.Json;
using ChannelManager.Core;
using ChannelManager.Core.Channels;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Scheduling;
using ChannelManager.Host.Api;
using ChannelManager.Host.Hosting;

namespace ChannelManager.Tests.Hosting;

/// <summary>
/// <c>poll --json</c> (design.md §5) and the API's poll result (docs/api-and-dashboard.md), one shape: the field names,
/// camelCase, enums as PascalCase strings.
/// </summary>
public sealed class PollReportTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 5, 8, 0, 0, TimeSpan.Zero);

    [Fact]
    public void ToJson_SuccessfulPoll_ExactlyTheContractFields()
    {
        var protocol = new ProtocolResult(OutcomeCode.Success,
        [
            new CommandResult(new ReadHoldingRegisters(0, 2), OutcomeCode.Success, 1) { Registers = [1001, 2317] },
            new CommandResult(new ReadCoils(0, 3), OutcomeCode.Success, 1) { Bits = [true, false, true] },
        ]);
        var outcome = new PollOutcome("RTU-17", "01632960123", OutcomeCode.Success, "M2",
            [new ModemAttempt("M1", OutcomeCode.NoDialTone, "NO DIALTONE", T0), new ModemAttempt("M2", OutcomeCode.Success, "CONNECT 9600", T0.AddSeconds(2))],
            "CONNECT 9600", protocol, T0, T0.AddSeconds(9), null);

        var json = PollReport.From(outcome).ToJson();

        Assert.Equal(
            """{"outstation":"RTU-17","number":"01632960123","outcome":"Success","category":"Success","countedAgainst":"None","modem":"M2","modemsTried":["M1","M2"],"reply":"CONNECT 9600","values":[1001,2317,1,0,1],"startedAt":"2026-01-05T08:00:00+00:00","endedAt":"2026-01-05T08:00:09+00:00","nextAllowedAt":null}""",
            json);
    }

    [Fact]
    public void ToJson_RefusedByTheGuard_OutcomeAndCategoryAsNames()
    {
        var outcome = new PollOutcome("RTU-18", "0163", OutcomeCode.RepeatCallLimit, null, [], "Spacing: wait", null, T0, T0, T0.AddMinutes(2));

        using var doc = JsonDocument.Parse(PollReport.From(outcome).ToJson());

        var root = doc.RootElement;
        Assert.Equal("RepeatCallLimit", root.GetProperty("outcome").GetString());
        Assert.Equal(OutcomeCode.RepeatCallLimit.Category().ToString(), root.GetProperty("category").GetString());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("modem").ValueKind);
        Assert.Equal(0, root.GetProperty("modemsTried").GetArrayLength());
        Assert.Equal(0, root.GetProperty("values").GetArrayLength());
        Assert.Equal("2026-01-05T08:02:00+00:00", root.GetProperty("nextAllowedAt").GetString());
        Assert.Equal(
            ["outstation", "number", "outcome", "category", "countedAgainst", "modem", "modemsTried", "reply", "values", "startedAt", "endedAt", "nextAllowedAt"],
            root.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public void ApiJson_SamePollReport_SameDocumentAsPollJson()
    {
        // The API serialises with its own options (ApiJson); the document must be the CLI's, values[] included.
        var protocol = new ProtocolResult(OutcomeCode.CommandTimeout,
        [
            new CommandResult(new ReadHoldingRegisters(0, 1), OutcomeCode.Success, 1) { Registers = [7] },
            new CommandResult(new ReadInputRegisters(5, 1), OutcomeCode.CommandTimeout, 2),
        ]);
        var outcome = new PollOutcome("RTU-9", "0163", OutcomeCode.CommandTimeout, "M1", [new ModemAttempt("M1", OutcomeCode.Success, "CONNECT", T0)], "CONNECT", protocol, T0, T0.AddSeconds(4), null);
        var report = PollReport.From(outcome);

        var api = JsonSerializer.Serialize(report, ApiJson.Options);

        Assert.Equal(report.ToJson(), api);
        using var doc = JsonDocument.Parse(api);
        Assert.Equal([7], doc.RootElement.GetProperty("values").EnumerateArray().Select(v => v.GetInt32()));
        Assert.Equal(nameof(FaultAttribution.Outstation), doc.RootElement.GetProperty("countedAgainst").GetString());
    }

    [Fact]
    public void From_AnyPoll_KeepsEveryFieldTheApiReturnedBefore()
    {
        // The API's poll result used to be PollResultDto; clients rely on its fields (docs/api-and-dashboard.md).
        string[] before = ["outstation", "number", "outcome", "category", "countedAgainst", "modem", "modemsTried", "reply", "startedAt", "endedAt", "nextAllowedAt"];
        var outcome = new PollOutcome("RTU-18", "0163", OutcomeCode.Busy, "M1", [], "BUSY", null, T0, T0, null);

        using var doc = JsonDocument.Parse(JsonSerializer.Serialize(PollReport.From(outcome), ApiJson.Options));

        Assert.All(before, name => Assert.True(doc.RootElement.TryGetProperty(name, out _), name));
        Assert.Equal("0163", doc.RootElement.GetProperty("number").GetString());
    }

    [Fact]
    public void From_IpPoll_EndpointAsNumberNoModemValuesAndTheRecordedReply()
    {
        var protocol = new ProtocolResult(OutcomeCode.Success, [new CommandResult(new ReadHoldingRegisters(0, 3), OutcomeCode.Success, 1) { Registers = [11, 22, 33] }]);
        var result = new Core.Channels.Persistent.PersistentPollResult("RTU-IP-1", OutcomeCode.Success, protocol, 2, null) { StartedAt = T0, EndedAt = T0.AddSeconds(1) };
        var record = new Core.Persistence.TransactionRecord(T0, T0.AddSeconds(1), "RTU-IP-1", "tcp://10.20.0.17:502", OutcomeCode.Success, null, [], "run 2 times: reconnected");

        var json = PollReport.From(result, record).ToJson();

        Assert.Equal(
            """{"outstation":"RTU-IP-1","number":"tcp://10.20.0.17:502","outcome":"Success","category":"Success","countedAgainst":"None","modem":null,"modemsTried":[],"reply":"run 2 times: reconnected","values":[11,22,33],"startedAt":"2026-01-05T08:00:00+00:00","endedAt":"2026-01-05T08:00:01+00:00","nextAllowedAt":null}""",
            json);
    }

    [Fact]
    public void From_IpPollWithoutReply_NoValuesAndTheOutstationsFault()
    {
        var result = new Core.Channels.Persistent.PersistentPollResult("RTU-IP-1", OutcomeCode.CommandTimeout, null, 1, "no reply") { StartedAt = T0, EndedAt = T0.AddSeconds(3) };
        var record = new Core.Persistence.TransactionRecord(T0, T0.AddSeconds(3), "RTU-IP-1", "tcp://h:502", OutcomeCode.CommandTimeout, null, [], "no reply");

        var report = PollReport.From(result, record);

        Assert.Empty(report.Values);
        Assert.Equal((FaultAttribution.Outstation, (string?)null, "no reply"), (report.CountedAgainst, report.Modem, report.Reply));
    }
}
