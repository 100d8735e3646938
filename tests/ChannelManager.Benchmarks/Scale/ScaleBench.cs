using System.Globalization;
using System.Text.Json;
using ChannelManager.Core;

namespace ChannelManager.Benchmarks.Scale;

/// <summary>
/// <c>scale [--workload FILE] [--outstations N] [--modems N] [--hours H] [--quiet] [--json FILE] [--alloc-census]</c>: the scale simulation (issue 9
/// item 2). Prints the figures and GOAL MET / GOAL MISSED lines; exit code 1 when a repeat-call violation was found.
/// </summary>
internal static class ScaleBench
{
    private static readonly TimeSpan WallGoal = TimeSpan.FromSeconds(10);
    private const double UtilisationGoal = 0.97;

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        string? path = null;
        int? outstations = null, modems = null;
        double? hours = null;
        var quiet = false;
        string? json = null;
        AllocationCensus? census = null;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--workload": path = args[++i]; break;
                case "--outstations": outstations = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--modems": modems = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--hours": hours = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--quiet": quiet = true; break;
                case "--json": json = args[++i]; break;
                case "--alloc-census": census = new AllocationCensus(); break;
                default:
                    await Console.Error.WriteLineAsync($"scale: unknown option '{args[i]}'").ConfigureAwait(false);
                    return 2;
            }
        }

        path ??= Path.Combine(AppContext.BaseDirectory, "workloads", "scale-10k.json");
        var workload = ScaleWorkload.Load(path).With(outstations, modems, hours);
        Console.WriteLine(F($"== scale: {workload.Outstations} outstations, {workload.Modems} modems, {workload.Hours} h simulated, profile {workload.Profile} ({Path.GetFileName(path)}), {Environment.ProcessorCount} cores"));
        var result = await ScaleSimulation.RunAsync(workload, quiet ? null : Console.Out, cancellationToken).ConfigureAwait(false);
        Print(result, Console.Out);
        census?.Print(Console.Out, 40);
        census?.Dispose();
        if (json is not null)
            await File.WriteAllTextAsync(json, JsonSerializer.Serialize(ScaleSummary.From(result)), cancellationToken).ConfigureAwait(false);
        return result.RepeatCallViolations.Count == 0 && result.ExchangeViolations.Count == 0 ? 0 : 1;
    }

    public static void Print(ScaleResult r, TextWriter o)
    {
        o.WriteLine(F($"wall time                 {r.Wall.TotalSeconds,10:F2} s"));
        o.WriteLine(F($"simulated calls           {r.SimulatedCalls,10} (exchange call log; {r.ReachedLine} reached the line)"));
        o.WriteLine(F($"polls run / completed     {r.PollsRun,10} / {r.CompletedPolls}"));
        o.WriteLine("outcomes                  " + string.Join(", ", r.Outcomes.OrderByDescending(kv => kv.Value).Select(kv => F($"{kv.Key} {kv.Value}"))));
        o.WriteLine(F($"modem busy time           {r.ModemBusy.TotalHours,10:F1} h (set-up to hang-up, all modems)"));
        o.WriteLine(F($"physical bound            {r.PhysicalBound.TotalHours,10:F1} h ({r.Workload.Modems} modems x {r.Workload.Hours} h)"));
        o.WriteLine(F($"demand estimate           {r.DemandEstimate.TotalHours,10:F1} h (polls due x mean dialled-poll modem time)"));
        o.WriteLine(F($"utilisation               {r.Utilisation * 100,10:F1} % of min(demand, bound) = {r.Bound.TotalHours:F1} h"));
        o.WriteLine(F($"repeat-call violations    {r.RepeatCallViolations.Count,10} (independent {r.Workload.Profile} check of the exchange call log)"));
        o.WriteLine(F($"exchange violations       {r.ExchangeViolations.Count,10} (modem in two calls, line dialled twice)"));
        o.WriteLine(F($"lateness p50 / p99        {r.LatenessP50.TotalSeconds,10:F1} s / {r.LatenessP99.TotalSeconds:F1} s (dispatch - due)"));
        o.WriteLine(F($"peak working set          {r.PeakWorkingSet / (1024.0 * 1024),10:F0} MB"));
        o.WriteLine(F($"virtual clock             {r.Steps,10} steps, {r.TimersFired} timers fired"));
        o.WriteLine(F($"pool work items           {r.WorkItems,10} ({(double)r.WorkItems / Math.Max(1, r.Steps):F1} per step, {r.Wall.TotalMilliseconds * 1000 / Math.Max(1, r.WorkItems):F2} us of wall each; one thread, exact quiescence; {Quiescence.Requeues} of them the driver's own)"));
        // Process-wide figures (the run is most of the process): CPU is the stable measure on a shared machine, where
        // wall time moves with the other processes' load; allocation and GC show what the stack costs beyond its work.
        o.WriteLine(F($"process CPU time          {Environment.CpuUsage.TotalTime.TotalSeconds,10:F2} s (user {Environment.CpuUsage.UserTime.TotalSeconds:F2} s; all threads: pool, GC, JIT)"));
        o.WriteLine(F($"allocated / GC            {GC.GetTotalAllocatedBytes() / (1024.0 * 1024 * 1024),10:F2} GB, gen0/1/2 {GC.CollectionCount(0)}/{GC.CollectionCount(1)}/{GC.CollectionCount(2)}, pauses {GC.GetTotalPauseDuration().TotalSeconds:F2} s, {GcMode()}"));
        o.WriteLine("where the wall time went:");
        foreach (var (what, time) in r.Breakdown)
            o.WriteLine(F($"  {what,-52} {time.TotalSeconds,8:F2} s"));
        foreach (var v in r.RepeatCallViolations.Concat(r.ExchangeViolations).Take(10))
            o.WriteLine("  VIOLATION " + v);
        o.WriteLine(Goal(r.Wall <= WallGoal, F($"wall {r.Wall.TotalSeconds:F1} s (goal <= {WallGoal.TotalSeconds:F0} s)")));
        o.WriteLine(Goal(r.Utilisation >= UtilisationGoal, F($"utilisation {r.Utilisation * 100:F1} % of the bound (goal >= {UtilisationGoal * 100:F0} %)")));
        o.WriteLine(Goal(r.RepeatCallViolations.Count == 0 && r.ExchangeViolations.Count == 0, F($"{r.RepeatCallViolations.Count + r.ExchangeViolations.Count} violations (goal 0)")));
    }

    private static string Goal(bool met, string what) => (met ? "GOAL MET:    " : "GOAL MISSED: ") + what;

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// The GC the run used: it moves this allocation-heavy run by a second or more, so the report says which. The
    /// project asks for Server GC because the product host does (docs/performance.md §5); a DOTNET_ variable overrides.
    /// </summary>
    private static string GcMode()
    {
        var mode = System.Runtime.GCSettings.IsServerGC ? "Server GC (as the channelmanager host)" : "workstation GC (the host runs Server GC)";
        return Environment.GetEnvironmentVariable("DOTNET_GCgen0size") is { Length: > 0 } size ? $"{mode}, DOTNET_GCgen0size={size}" : mode;
    }
}
