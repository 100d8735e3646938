using ChannelManager.Benchmarks.Scale;

namespace ChannelManager.Tests.Scheduling;

/// <summary>
/// Keeps the scale bench (tests/ChannelManager.Benchmarks, `scale` verb; its sources are linked into this project) from
/// rotting: the committed smoke workload (200 outstations, 4 modems, 2 simulated hours, the full fault mix) runs on the
/// real stack and the virtual clock. No timing goal here (docs/performance.md has those): only that it completes,
/// polls, keeps the repeat-call rules and gives a sane utilisation.
/// </summary>
[Collection(nameof(PollSchedulerTests))]
public sealed class ScaleSmokeTests
{
    // Skipped in ./test.sh until the bench settles on exact quiescence signals (issue 9): its thread-pool idle heuristic
    // sometimes jumps the virtual clock before work has settled when the whole suite loads the machine ("0 polls
    // completed", seen in 2 of 5 grouped runs, never alone). The same workload runs by hand with
    // `dotnet run -c Release --project tests/ChannelManager.Benchmarks -- scale --workload tests/ChannelManager.Benchmarks/workloads/scale-smoke.json`.
    [Fact(Skip = "Flaky under full-suite load until the scale bench uses exact quiescence signals (issue 9)")]
    public async Task RunAsync_SmokeWorkload_PollsWithoutRepeatCallViolationsAndSaneUtilisation()
    {
        var workload = ScaleWorkload.Load(FindWorkload("scale-smoke.json"));

        var result = await ScaleSimulation.RunAsync(workload, null, CancellationToken.None).WaitAsync(TimeSpan.FromMinutes(3));

        Assert.Empty(result.RepeatCallViolations);
        Assert.Empty(result.ExchangeViolations);
        Assert.True(result.CompletedPolls >= 50, $"only {result.CompletedPolls} polls completed");
        Assert.True(result.ReachedLine >= result.CompletedPolls, $"{result.ReachedLine} calls reached the line for {result.CompletedPolls} completed polls");
        Assert.InRange(result.Utilisation, 0.3, 1.6);
        Assert.True(result.ModemBusy > TimeSpan.Zero && result.ModemBusy <= result.PhysicalBound, $"modem busy {result.ModemBusy} vs bound {result.PhysicalBound}");
    }

    private static string FindWorkload(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "tests", "ChannelManager.Benchmarks", "workloads", name);
            if (File.Exists(path))
                return path;
        }

        throw new FileNotFoundException($"workload {name} not found above {AppContext.BaseDirectory}");
    }
}
