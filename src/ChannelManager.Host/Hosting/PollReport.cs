using System.Text.Json;
using System.Text.Json.Serialization;
using ChannelManager.Core;
using ChannelManager.Core.Scheduling;

namespace ChannelManager.Host.Hosting;

/// <summary>
/// <c>poll --json</c> output (design.md §5): <c>{outstation, outcome, category, modem, modemsTried[], reply, values[],
/// startedAt, endedAt}</c>, camelCase, enums as their PascalCase names (design.md §3).
/// </summary>
internal sealed record PollReport(
    string Outstation,
    OutcomeCode Outcome,
    OutcomeCategory Category,
    string? Modem,
    IReadOnlyList<string> ModemsTried,
    string Reply,
    IReadOnlyList<int> Values,
    DateTimeOffset StartedAt,
    DateTimeOffset EndedAt)
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
        var values = outcome.Protocol?.Commands
            .Where(c => c.IsSuccess)
            .SelectMany(c => c.Registers.Select(r => (int)r).Concat(c.Bits.Select(b => b ? 1 : 0)))
            .ToArray() ?? [];
        return new PollReport(
            outcome.Outstation,
            outcome.Code,
            outcome.Category,
            outcome.Modem,
            [.. outcome.ModemsTried.Select(m => m.ModemName)],
            outcome.Reply,
            values,
            outcome.StartedAt,
            outcome.EndedAt);
    }

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);
}
