using System.Globalization;
using ChannelManager.Core;
using ChannelManager.Core.Scheduling;
using Spectre.Console;

namespace ChannelManager.Host.Demo;

/// <summary>
/// `channelmanager demo`: polls each simulated outstation once (and one of them twice, to show the
/// repeat-call guard), printing one row per dial, then who each failure was counted against.
/// </summary>
internal static class DemoRunner
{
    /// <summary>The scripted order: every outstation once, then the busy one again straight away.</summary>
    private static readonly string[] Script = ["RTU-01", "RTU-02", "RTU-03", "RTU-04", "RTU-05", "RTU-06", "RTU-07", "RTU-02", "RTU-01"];

    public static async Task<IReadOnlyList<PollOutcome>> RunAsync(IAnsiConsole console, TimeProvider time, CancellationToken cancellationToken)
    {
        await using var world = DemoWorld.Create(time);
        console.MarkupLine("[bold]ChannelManager demo[/] — simulated bank: 4 modems (M2 fails its init string, M4 has no dial tone), 7 outstations, UK repeat-call profile");
        console.WriteLine();
        console.WriteLine(Row("#", "Outstation", "Number", "Modems tried", "Reply", "Outcome", "Category", "Counted against"));
        var outcomes = new List<PollOutcome>();
        for (var i = 0; i < Script.Length; i++)
        {
            var outstation = world.Outstations.Single(o => o.Name.StartsWith(Script[i], StringComparison.Ordinal));
            var outcome = await world.Transactions.RunAsync(new PollRequest(outstation.Name, outstation.Number, outstation.Driver, outstation.Commands), cancellationToken).ConfigureAwait(false);
            outcomes.Add(outcome);
            console.WriteLine(Row(
                (i + 1).ToString(CultureInfo.InvariantCulture),
                outstation.Name,
                outstation.Number,
                Tried(outcome),
                Reply(outcome),
                outcome.Code.ToString(),
                outcome.Category.ToString(),
                outcome.CountedAgainst.ToString()));
        }

        console.WriteLine();
        WriteSummary(console, world, outcomes);
        return outcomes;
    }

    private static void WriteSummary(IAnsiConsole console, DemoWorld world, IReadOnlyList<PollOutcome> outcomes)
    {
        var modems = new Table().Title("Modems: faults counted against the modem").AddColumns("Modem", "State", "Faulted", "Errors", "Calls", "Connects", "Last fault", "Raw reply");
        foreach (var m in world.Channels.Modems)
        {
            modems.AddRow(m.Name, m.Availability.ToString(), m.Faulted ? "yes" : "no", N(m.Statistics.Errors), N(m.Statistics.Calls), N(m.Statistics.Connects), m.LastFault?.ToString() ?? "-", Markup.Escape(Flatten(m.LastFaultReply)));
        }

        console.Write(modems);
        var stations = new Table().Title("Outstations: failures counted against the outstation").AddColumns("Outstation", "Dials", "Errors", "Failures", "Dials that reached the line (exchange log)");
        foreach (var o in world.Outstations)
        {
            var stats = world.Channels.Outstations.GetValueOrDefault(o.Name);
            var failures = stats is null ? "-" : string.Join(", ", stats.FailuresByCode.Select(f => $"{f.Key}×{f.Value}"));
            stations.AddRow(o.Name, N(stats?.Calls ?? 0), N(stats?.Errors ?? 0), failures.Length == 0 ? "-" : failures, N(world.Exchange.CallsTo(o.Number).Count(c => c.ReachedLine)));
        }

        console.Write(stations);
        var categories = outcomes.Select(o => o.Category).Distinct().Order();
        console.MarkupLine($"Categories shown: {string.Join(", ", categories)}. Violations seen by the exchange: {world.Exchange.Violations.Count}.");
        foreach (var e in world.Ledger.Events.Where(e => e.Kind is LedgerEventKind.Locked or LedgerEventKind.AlarmRaised))
        {
            console.MarkupLineInterpolated($"[yellow]Alarm[/] {e.Number}: {e.Detail}");
        }
    }

    private static string Tried(PollOutcome outcome) => outcome.ModemsTried.Count == 0
        ? "-"
        : string.Join(" → ", outcome.ModemsTried.Select(t => t.Code.Category() == OutcomeCategory.ChannelAllocation ? $"{t.ModemName}✗" : t.ModemName));

    private static string Reply(PollOutcome outcome)
    {
        if (outcome.Protocol is { IsSuccess: true } p)
        {
            return "values " + string.Join(",", p.Commands.SelectMany(c => c.Registers));
        }

        var lines = outcome.Reply.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var last = lines.Length == 0 ? "(no reply)" : lines[^1];
        return last.Length > 34 ? last[..33] + "…" : last;
    }

    private static string Row(string n, string outstation, string number, string tried, string reply, string code, string category, string against) =>
        $"{n,-2} {outstation,-17} {number,-12} {tried,-12} {reply,-35} {code,-18} {category,-24} {against}";

    private static string Flatten(string? raw) => string.IsNullOrEmpty(raw) ? "-" : raw.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", " | ", StringComparison.Ordinal);

    private static string N(long value) => value.ToString(CultureInfo.InvariantCulture);
}
