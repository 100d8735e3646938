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
    [Fact]
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
