using System.Diagnostics;
using System.Globalization;
using ChannelManager.Core;
using ChannelManager.Core.Channels;
using ChannelManager.Core.Scheduling;
using ChannelManager.Host.Api;
using Spectre.Console;

namespace ChannelManager.Host.Demo;

/// <summary>How the demo runs: simulated span, display mode and a real-time safety limit.</summary>
internal sealed record DemoOptions
{
    /// <summary>Simulated time to run (the scheduler's timeline); default 3 h.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromHours(3);

    /// <summary>Live Spectre table (a terminal) or one plain row per poll (redirected output, CI, tests).</summary>
    public bool Live { get; init; }

    /// <summary>Stop (and say so in the summary) if the run takes longer than this in real time.</summary>
    public TimeSpan RealTimeLimit { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>Also serve the HTTP API and live dashboard (<c>demo --dashboard</c>) at <see cref="DashboardUrls"/>; null = no dashboard.</summary>
    public string? DashboardUrls { get; init; }

    /// <summary>With a dashboard: keep serving it after the summary until the run is cancelled (Ctrl+C), so it can be looked at.</summary>
    public bool HoldDashboard { get; init; }
}

/// <summary>An operator's on-demand poll (CLI/API "poll now") at a scripted virtual time, and how it ended.</summary>
internal sealed record OperatorPoll(DateTimeOffset At, string Outstation, string Why, PollOutcome? Outcome);

/// <summary>Everything the closing summary shows, for the test to check.</summary>
internal sealed record DemoReport(
    IReadOnlyList<DemoOutstation> Outstations,
    IReadOnlyList<DemoModem> BankModems,
    IReadOnlyList<PollOutcome> Polls,
    IReadOnlyList<OperatorPoll> OperatorPolls,
    IReadOnlyList<ModemSnapshot> Modems,
    IReadOnlyDictionary<string, IReadOnlyDictionary<OutcomeCode, int>> FailuresAgainstModems,
    IReadOnlyDictionary<string, IReadOnlyDictionary<OutcomeCode, int>> FailuresAgainstOutstations,
    IReadOnlyDictionary<string, int> GuardDeferrals,
    IReadOnlyList<OperatorAlarm> Alarms,
    IReadOnlyList<string> RepeatCallViolations,
    IReadOnlyList<string> ExchangeViolations,
    int DialsOnTheLine,
    int TransactionsLogged,
    TimeSpan Simulated,
    TimeSpan Real,
    bool Completed,
    string? StoppedBecause);

/// <summary>
/// `channelmanager demo`: runs <see cref="DemoWorld"/> — the real PollScheduler over the simulated bank — for a
/// few simulated hours on the skip-ahead clock, with a live table (or plain rows), then a summary that attributes
/// every failure to a modem or an outstation and audits the exchange's call log for repeat-call violations.
/// </summary>
internal static class DemoRunner
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan RenderEvery = TimeSpan.FromMilliseconds(250);

    /// <summary>Idle this long (real time) without the scheduler's timer in sight: jump to the earliest timer anyway.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromMilliseconds(500);

    public static async Task<DemoReport> RunAsync(IAnsiConsole console, TimeProvider realTime, DemoOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(realTime);
        ArgumentNullException.ThrowIfNull(options);
        var realStart = realTime.GetTimestamp();
        await using var world = await DemoWorld.CreateAsync(realTime, cancellationToken).ConfigureAwait(false);
        var end = DemoWorld.VirtualStart + options.Duration;
        console.MarkupLine(CultureInfo.InvariantCulture, "[bold]ChannelManager demo[/] — {0} modems (M2 fails its init string, M4 has no dial tone), {1} scripted outstations, UK repeat-call profile, SQLite state store", world.BankModems.Count, world.Outstations.Count);
        console.MarkupLine(CultureInfo.InvariantCulture, "Simulating {0} from {1:yyyy-MM-dd HH:mm} on a skip-ahead clock: calls run in real time, idle gaps between them are skipped.", Span(options.Duration), DemoWorld.VirtualStart);
        console.WriteLine();

        // The operator's on-demand polls: one at the number the guard has locked by then (refused, not dialled),
        // one at a healthy outstation (dialled ahead of the schedule).
        var script = new List<OperatorPoll>
        {
            new(DemoWorld.VirtualStart + TimeSpan.FromMinutes(40), DemoWorld.GuardOutstation, "operator: poll now (number locked by the guard)", null),
            new(DemoWorld.VirtualStart + TimeSpan.FromMinutes(130), "RTU-01 Reservoir", "operator: poll now", null),
        }.Where(p => p.At < end).ToList();

        await using var dashboard = options.DashboardUrls is null
            ? null
            : await DashboardHost.StartAsync(new DashboardServices(world.Channels, world.Scheduler, world.Ledger, world.Store, world.Time), new ApiOptions { Urls = options.DashboardUrls }, cancellationToken).ConfigureAwait(false);
        if (dashboard is not null)
        {
            console.MarkupLine(CultureInfo.InvariantCulture, "Dashboard: [link]{0}[/] (HTTP API under /api, metrics at /metrics)", dashboard.BaseAddress);
            console.WriteLine();
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var scheduler = world.Scheduler.RunAsync(stop.Token);
        var view = new View(world, script, end, realTime, realStart);
        string? stoppedBecause = "not started";
        try
        {
            if (options.Live)
            {
                await console.Live(view.Render()).AutoClear(false).StartAsync(async ctx =>
                {
                    stoppedBecause = await DriveAsync(world, scheduler, script, end, options, realTime, realStart, () =>
                    {
                        ctx.UpdateTarget(view.Render());
                        ctx.Refresh();
                    }, stop.Token).ConfigureAwait(false);
                }).ConfigureAwait(false);
            }
            else
            {
                console.WriteLine(Row("Time", "Outstation", "Modems tried", "Outcome", "Category", "Counted against", "Next attempt"));
                stoppedBecause = await DriveAsync(world, scheduler, script, end, options, realTime, realStart, () => view.PrintNewRows(console), stop.Token).ConfigureAwait(false);
                view.PrintNewRows(console);
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await scheduler.ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // Stopped by us.
            }
        }

        var report = await BuildReportAsync(world, script, realTime.GetElapsedTime(realStart), stoppedBecause, cancellationToken).ConfigureAwait(false);
        console.WriteLine();
        WriteSummary(console, world, report);
        if (dashboard is not null && options.HoldDashboard)
        {
            console.MarkupLine(CultureInfo.InvariantCulture, "Dashboard still at [link]{0}[/]; press Ctrl+C to exit.", dashboard.BaseAddress);
            try
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, realTime, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Ctrl+C: the operator has seen enough.
            }
        }

        return report;
    }

    /// <summary>The timeline: fires scripted operator polls, lets the clock skip idle gaps, refreshes the display; null when it reached the end, else why it stopped.</summary>
    private static async Task<string?> DriveAsync(DemoWorld world, Task scheduler, List<OperatorPoll> script, DateTimeOffset end, DemoOptions options, TimeProvider realTime, long realStart, Action render, CancellationToken cancellationToken)
    {
        var operatorTasks = new Task[script.Count];
        var lastRender = realTime.GetTimestamp();
        long? idleSince = null;
        while (true)
        {
            var now = world.Clock.GetUtcNow();
            for (var i = 0; i < script.Count; i++)
            {
                if (operatorTasks[i] is null && now >= script[i].At)
                {
                    var index = i;
                    operatorTasks[i] = PollNowAsync(world, script, index, cancellationToken);
                }
            }

            var operatorBusy = operatorTasks.Any(t => t is { IsCompleted: false });
            var callsOnLine = world.BankModems.Any(m => world.Exchange.ActiveCallsOn(m.Name) > 0);
            var status = world.Scheduler.Status;
            var idle = !operatorBusy && !callsOnLine && !status.Any(o => o.Running || o.QueuedOnDemand > 0);
            if (idle && now >= end)
                break;
            if (scheduler.IsCompleted)
                return $"the scheduler stopped at {now:HH:mm:ss}"; // Its exception surfaces when the caller awaits it.
            if (realTime.GetElapsedTime(realStart) > options.RealTimeLimit)
            {
                var running = string.Join(", ", status.Where(o => o.Running || o.QueuedOnDemand > 0).Select(o => o.Name));
                var onLine = string.Join(", ", world.BankModems.Where(m => world.Exchange.ActiveCallsOn(m.Name) > 0).Select(m => m.Name));
                var next = status.Select(o => o.NextDue).OfType<DateTimeOffset>().DefaultIfEmpty(end).Min();
                return $"real-time limit {options.RealTimeLimit.TotalSeconds:0} s reached at {now:HH:mm:ss}: polls running [{running}], calls open on [{onLine}], operator busy {operatorBusy}, next due {next:HH:mm:ss}";
            }
            var pending = script.Where((_, i) => operatorTasks[i] is null).Select(p => p.At);
            idleSince = idle ? idleSince ?? realTime.GetTimestamp() : null;
            var patienceExpired = idleSince is { } since && realTime.GetElapsedTime(since) >= Patience;
            if (DemoClockDriver.NextSkip(now, status, operatorBusy || callsOnLine, pending, end, world.Clock.PendingDueTimes(), patienceExpired) is { } target)
            {
                world.Clock.SkipTo(target);
                idleSince = null;
            }
            if (realTime.GetElapsedTime(lastRender) >= RenderEvery)
            {
                render();
                lastRender = realTime.GetTimestamp();
            }

            await Task.Delay(Tick, realTime, cancellationToken).ConfigureAwait(false);
        }

        await Task.WhenAll(operatorTasks.OfType<Task>()).ConfigureAwait(false);
        render();
        return null;
    }

    private static async Task PollNowAsync(DemoWorld world, List<OperatorPoll> script, int index, CancellationToken cancellationToken)
    {
        var outcome = await world.Scheduler.PollNowAsync(script[index].Outstation, cancellationToken).ConfigureAwait(false);
        lock (script)
        {
            script[index] = script[index] with { Outcome = outcome };
        }
    }

    private static async Task<DemoReport> BuildReportAsync(DemoWorld world, List<OperatorPoll> script, TimeSpan real, string? stoppedBecause, CancellationToken cancellationToken)
    {
        var polls = world.Executor.Outcomes;
        OperatorPoll[] operatorPolls;
        lock (script)
        {
            operatorPolls = [.. script];
        }

        // Seed 004's attribution, per failure: every set-up failure on the way (ModemsTried) is the modem's;
        // the poll's final code is counted against whatever CountedAgainst() names.
        var againstModems = new Dictionary<string, Dictionary<OutcomeCode, int>>(StringComparer.Ordinal);
        var againstOutstations = new Dictionary<string, Dictionary<OutcomeCode, int>>(StringComparer.Ordinal);
        static void Count(Dictionary<string, Dictionary<OutcomeCode, int>> into, string who, OutcomeCode code)
        {
            if (!into.TryGetValue(who, out var codes))
                into[who] = codes = [];
            codes[code] = codes.GetValueOrDefault(code) + 1;
        }

        // An on-demand poll that was dialled went through the executor and is in polls already; one the scheduler
        // refused (guard) never reached it.
        var refusedOnDemand = operatorPolls.Select(p => p.Outcome).OfType<PollOutcome>().Where(o => !polls.Contains(o)).ToList();
        foreach (var poll in polls.Concat(refusedOnDemand))
        {
            foreach (var attempt in poll.ModemsTried.Where(a => a.Code.CountedAgainst() == FaultAttribution.Modem))
            {
                Count(againstModems, attempt.ModemName, attempt.Code);
            }

            if (poll.CountedAgainst == FaultAttribution.Outstation)
                Count(againstOutstations, poll.Outstation, poll.Code);
            else if (poll.CountedAgainst == FaultAttribution.Modem && !poll.ModemsTried.Any(a => a.Code == poll.Code && a.ModemName == poll.Modem))
                Count(againstModems, poll.Modem ?? "(pool)", poll.Code);
        }

        var transactions = await world.Store.ReadTransactionsAsync(100_000, null, cancellationToken).ConfigureAwait(false);
        var callLog = world.Exchange.CallLog;
        return new DemoReport(
            world.Outstations,
            world.BankModems,
            polls,
            operatorPolls,
            world.Channels.Modems,
            againstModems.ToDictionary(k => k.Key, k => (IReadOnlyDictionary<OutcomeCode, int>)k.Value, StringComparer.Ordinal),
            againstOutstations.ToDictionary(k => k.Key, k => (IReadOnlyDictionary<OutcomeCode, int>)k.Value, StringComparer.Ordinal),
            world.Events.GuardDeferrals,
            world.Scheduler.Alarms,
            RepeatCallAudit.Check(callLog, world.Ledger.Profile),
            world.Exchange.Violations,
            callLog.Count(c => c.ReachedLine),
            transactions.Count,
            world.Clock.GetUtcNow() - DemoWorld.VirtualStart,
            real,
            stoppedBecause is null,
            stoppedBecause);
    }

    private static void WriteSummary(IAnsiConsole console, DemoWorld world, DemoReport report)
    {
        console.Write(new Rule("[bold]Summary[/]").LeftJustified());
        console.MarkupLine(CultureInfo.InvariantCulture, "Simulated {0} in {1:0.0} s real time ({2} skipped while idle); {3} scheduled polls, {4} operator polls, {5} dials reached the line, {6} transactions in the SQLite event log.{7}", Span(report.Simulated), report.Real.TotalSeconds, Span(world.Clock.Skipped), report.Polls.Count, report.OperatorPolls.Count(p => p.Outcome is not null), report.DialsOnTheLine, report.TransactionsLogged, report.Completed ? string.Empty : " [red]STOPPED EARLY: " + Markup.Escape(report.StoppedBecause ?? "?") + "[/]");

        var modems = new Table().Title("Modems — set-up failures are counted against the modem (seed 004 row 1)").AddColumns("Modem", "Scripted", "State", "Calls", "Connects", "Errors", "Failures counted against it", "Last fault reply");
        foreach (var m in report.Modems)
        {
            var scripted = world.BankModems.Single(b => b.Name == m.Name).Behaviour;
            modems.AddRow(m.Name, scripted, m.Faulted ? "faulted" : m.Availability.ToString(), N(m.Statistics.Calls), N(m.Statistics.Connects), N(m.Statistics.Errors), Codes(report.FailuresAgainstModems.GetValueOrDefault(m.Name)), Markup.Escape(Flatten(m.LastFaultReply)));
        }

        console.Write(modems);

        var stations = new Table().Title("Outstations — connection and protocol failures are counted against the outstation (rows 2–3)").AddColumns("Outstation", "Scripted", "Polls", "OK", "Failures counted against it", "Succeeded via", "Guard deferrals", "Number");
        var status = world.Scheduler.Status.ToDictionary(s => s.Name, StringComparer.Ordinal);
        foreach (var o in world.Outstations)
        {
            var polls = report.Polls.Where(p => p.Outstation == o.Name).ToList();
            var via = string.Join(",", polls.Where(p => p.IsSuccess).Select(p => p.Modem).Distinct().Order(StringComparer.Ordinal));
            stations.AddRow(
                o.Name,
                o.Behaviour,
                N(polls.Count),
                N(polls.Count(p => p.IsSuccess)),
                Codes(report.FailuresAgainstOutstations.GetValueOrDefault(o.Name)),
                via.Length == 0 ? "-" : via,
                N(report.GuardDeferrals.GetValueOrDefault(o.Name)),
                status[o.Name].NumberState.ToString());
        }

        console.Write(stations);

        var againstModems = report.FailuresAgainstModems.Values.Sum(c => c.Values.Sum());
        var againstOutstations = report.FailuresAgainstOutstations.Values.Sum(c => c.Values.Sum());
        var notCounted = report.Polls.Count(p => !p.IsSuccess && p.CountedAgainst == FaultAttribution.None);
        console.MarkupLine(CultureInfo.InvariantCulture, "Attribution: {0} failure(s) counted against modems, {1} against outstations, {2} against neither (no modem free / cancelled).", againstModems, againstOutstations, notCounted);

        foreach (var p in report.OperatorPolls)
        {
            var how = p.Outcome is { } o ? $"{o.Code}{(o.Modem is null ? string.Empty : $" via {o.Modem}")} — {o.Reply}" : "not run";
            console.MarkupLineInterpolated(CultureInfo.InvariantCulture, $"[blue]{p.At:HH:mm}[/] {p.Why}: {p.Outstation} → {how}");
        }

        console.MarkupLine(CultureInfo.InvariantCulture, "Repeat-call guard: {0} scheduled poll(s) deferred, {1} on-demand poll(s) refused.", report.GuardDeferrals.Values.Sum(), report.OperatorPolls.Count(p => p.Outcome?.Code == OutcomeCode.RepeatCallLimit));
        foreach (var a in report.Alarms)
        {
            console.MarkupLineInterpolated(CultureInfo.InvariantCulture, $"[yellow]Alarm[/] {a.At:HH:mm:ss} {a.Kind} {a.Outstation}: {a.Cause}");
        }

        var colour = report.RepeatCallViolations.Count + report.ExchangeViolations.Count == 0 ? "green" : "red";
        console.MarkupLine(CultureInfo.InvariantCulture, "[{0}]Exchange call-log audit ({1}: ≤ {2} unanswered dials in a row, gaps {3}): {4} repeat-call violation(s); {5} double-use violation(s).[/]", colour, world.Ledger.Profile.Name, world.Ledger.Profile.MaxAttempts, string.Join("/", world.Ledger.Profile.Gaps.Select(g => Span(g))), report.RepeatCallViolations.Count, report.ExchangeViolations.Count);
        foreach (var v in report.RepeatCallViolations.Concat(report.ExchangeViolations))
        {
            console.MarkupLineInterpolated(CultureInfo.InvariantCulture, $"[red]  {v}[/]");
        }
    }

    private static string Row(string time, string outstation, string tried, string code, string category, string against, string next) =>
        $"{time,-8} {outstation,-19} {tried,-14} {code,-18} {category,-24} {against,-10} {next}";

    private static string Codes(IReadOnlyDictionary<OutcomeCode, int>? codes) =>
        codes is null || codes.Count == 0 ? "-" : string.Join(", ", codes.OrderBy(c => c.Key).Select(c => $"{c.Key}×{c.Value}"));

    private static string Tried(PollOutcome outcome) => outcome.ModemsTried.Count == 0
        ? "-"
        : string.Join("→", outcome.ModemsTried.Select(t => t.Code.CountedAgainst() == FaultAttribution.Modem ? $"{t.ModemName}✗" : t.ModemName));

    private static string Flatten(string? raw) => string.IsNullOrEmpty(raw) ? "-" : raw.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", " | ", StringComparison.Ordinal);

    private static string N(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Span(TimeSpan span) => span.TotalHours >= 1
        ? span.ToString(@"h\hmm\m", CultureInfo.InvariantCulture)
        : span.ToString(@"m\m\ ss\s", CultureInfo.InvariantCulture);

    private static string At(DateTimeOffset? at) => at is { } t ? t.ToString("HH:mm:ss", CultureInfo.InvariantCulture) : "-";

    /// <summary>What is on screen: the live tables, or plain rows printed as polls complete.</summary>
    private sealed class View(DemoWorld world, List<OperatorPoll> script, DateTimeOffset end, TimeProvider realTime, long realStart)
    {
        private int _printedPolls;
        private int _printedOperator;

        public void PrintNewRows(IAnsiConsole console)
        {
            var polls = world.Executor.Outcomes;
            var status = world.Scheduler.Status.ToDictionary(s => s.Name, StringComparer.Ordinal);
            for (; _printedPolls < polls.Count; _printedPolls++)
            {
                var p = polls[_printedPolls];
                console.WriteLine(Row(At(p.EndedAt), p.Outstation, Tried(p), p.Code.ToString(), p.Category.ToString(), p.CountedAgainst.ToString(), status[p.Outstation].Running ? "(polling again)" : At(status[p.Outstation].NextDue)));
            }

            OperatorPoll[] done;
            lock (script)
            {
                done = [.. script.Where(s => s.Outcome is not null)];
            }

            for (; _printedOperator < done.Length; _printedOperator++)
            {
                var p = done[_printedOperator];
                var o = p.Outcome!; // Filtered above: only polls that have an outcome.
                if (polls.Contains(o))
                    continue; // Dialled: already printed as a poll row.
                console.WriteLine(Row(At(o.EndedAt), p.Outstation, Tried(o), o.Code.ToString(), o.Category.ToString(), o.CountedAgainst.ToString(), "(" + p.Why + ")"));
            }
        }

        public Rows Render()
        {
            var now = world.Clock.GetUtcNow();
            var header = new Markup(string.Create(CultureInfo.InvariantCulture, $"[bold]Virtual time {now:HH:mm:ss}[/] (+{Span(now - DemoWorld.VirtualStart)} of {Span(end - DemoWorld.VirtualStart)}), real {realTime.GetElapsedTime(realStart).TotalSeconds:0.0} s, idle time skipped {Span(world.Clock.Skipped)}"));
            var polls = world.Executor.Outcomes;

            var modems = new Table().Title("Modems").AddColumns("Modem", "State", "Current call", "Calls", "Connects", "Errors", "Last fault");
            foreach (var m in world.Channels.Modems)
            {
                modems.AddRow(
                    m.Name,
                    m.Faulted ? "[red]faulted[/]" : Markup.Escape(m.Availability.ToString()),
                    Markup.Escape(m.CurrentOutstation ?? "-"),
                    N(m.Statistics.Calls),
                    N(m.Statistics.Connects),
                    m.Statistics.Errors > 0 ? $"[red]{m.Statistics.Errors}[/]" : "0",
                    Markup.Escape(m.LastFault?.ToString() ?? "-"));
            }

            var stations = new Table().Title("Outstations").AddColumns("Outstation", "Last outcome", "Next attempt", "OK", "Failed", "Number");
            foreach (var s in world.Scheduler.Status)
            {
                var mine = polls.Where(p => p.Outstation == s.Name).ToList();
                var last = s.Running ? "[blue]polling…[/]" : s.LastOutcome is { } code ? (code == OutcomeCode.Success ? "[green]Success[/]" : $"[yellow]{code}[/]") : "-";
                stations.AddRow(Markup.Escape(s.Name), last, At(s.NextDue), N(mine.Count(p => p.IsSuccess)), N(mine.Count(p => !p.IsSuccess)), s.NumberState.ToString());
            }

            return new Rows(header, modems, stations);
        }
    }
}
