using System.Text.Json;
using System.Text.Json.Serialization;
using ChannelManager.Core;
using ChannelManager.Core.Channels.Persistent;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Scheduling;

namespace ChannelManager.Host.Hosting;

/// <summary>
/// How one poll ended, in the one shape both <c>poll --json</c> (design.md §5) and the API's
/// <c>POST /api/outstations/{name}/poll</c> return (docs/api-and-dashboard.md): <c>{outstation, number, outcome,
/// category, countedAgainst, modem, modemsTried[], reply, values[], startedAt, endedAt, nextAllowedAt}</c>, camelCase,
/// enums as their PascalCase names (design.md §3). <c>nextAllowedAt</c> is set when the repeat-call guard refused.
/// </summary>
/// <remarks>Public because the API (its OpenAPI document) returns it.</remarks>
public sealed record PollReport(
    string Outstation,
    string Number,
    OutcomeCode Outcome,
    OutcomeCategory Category,
    FaultAttribution CountedAgainst,
    string? Modem,
    IReadOnlyList<string> ModemsTried,
    string Reply,
    IReadOnlyList<int> Values,
    DateTimeOffset StartedAt,
    DateTimeOffset EndedAt,
    DateTimeOffset? NextAllowedAt)
{
    public static JsonSerializerOptions JsonOptions { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
        WriteIndented = false,
    };

    /// <summary>Registers as read, then bits as 0/1, in the order of the configured reads.</summary>
    public static PollReport From(PollOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        var values = ValuesOf(outcome.Protocol);
        return new PollReport(
            outcome.Outstation,
            outcome.Number,
            outcome.Code,
            outcome.Category,
            outcome.CountedAgainst,
            outcome.Modem,
            [.. outcome.ModemsTried.Select(m => m.ModemName)],
            outcome.Reply,
            values,
            outcome.StartedAt,
            outcome.EndedAt,
            outcome.NextAllowedAt);
    }

    /// <summary>
    /// An IP outstation's poll (docs/ip-outstations.md §8): <c>number</c> is the endpoint (as in the event log), no modem,
    /// no modems tried, the reply as recorded; never a <c>nextAllowedAt</c> (no repeat-call guard for a TCP connect).
    /// </summary>
    public static PollReport From(PersistentPollResult result, TransactionRecord record)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(record);
        return new PollReport(record.Outstation, record.Number, result.Code, result.Category, result.CountedAgainst, null, [], record.RawReply, ValuesOf(result.Protocol), result.StartedAt, result.EndedAt, null);
    }

    private static int[] ValuesOf(ProtocolResult? protocol) =>
        protocol?.Commands
            .Where(c => c.IsSuccess)
            .SelectMany(c => c.Registers.Select(r => (int)r).Concat(c.Bits.Select(b => b ? 1 : 0)))
            .ToArray() ?? [];

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);
}
