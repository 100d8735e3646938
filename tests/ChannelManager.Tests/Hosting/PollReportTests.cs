using System.Text.Json;
using ChannelManager.Core;
using ChannelManager.Core.Channels;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Scheduling;
using ChannelManager.Host.Hosting;

namespace ChannelManager.Tests.Hosting;

/// <summary><c>poll --json</c> (design.md §5): the field names, camelCase, enums as PascalCase strings.</summary>
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
            """{"outstation":"RTU-17","outcome":"Success","category":"Success","modem":"M2","modemsTried":["M1","M2"],"reply":"CONNECT 9600","values":[1001,2317,1,0,1],"startedAt":"2026-01-05T08:00:00+00:00","endedAt":"2026-01-05T08:00:09+00:00"}""",
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
        Assert.Equal(
            ["outstation", "outcome", "category", "modem", "modemsTried", "reply", "values", "startedAt", "endedAt"],
            root.EnumerateObject().Select(p => p.Name));
    }
}
