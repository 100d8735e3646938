using System.Diagnostics;
using System.Text.Json;
using ChannelManager.Benchmarks.Scale;

namespace ChannelManager.Tests.Scheduling;

/// <summary>
/// Keeps the scale bench (tests/ChannelManager.Benchmarks, `scale` verb) from rotting: the committed smoke workload
/// (200 outstations, 4 modems, 2 simulated hours, the full fault mix) runs on the real stack and the virtual clock.
/// No timing goal here (docs/performance.md has those): it completes, polls, keeps the repeat-call rules, gives a sane
/// utilisation, and two runs give the same figures.
/// <para>
/// The simulation runs in a child process (the bench CLI, built with the solution): its quiescence is exact only on a
/// thread pool confined to one thread (Scale/Quiescence.cs), a process-wide setting a test host must not make. The
/// figures come back as JSON (<see cref="ScaleSummary"/>, linked from the bench).
/// </para>
/// </summary>
[Collection(nameof(PollSchedulerTests))]
public sealed class ScaleSmokeTests
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task RunAsync_SmokeWorkload_PollsWithoutRepeatCallViolationsAndSaneUtilisation()
    {
        var result = await RunSmokeAsync();

        Assert.Empty(result.RepeatCallViolations);
        Assert.Empty(result.ExchangeViolations);
        Assert.True(result.CompletedPolls >= 100, $"only {result.CompletedPolls} polls completed");
        Assert.Equal(result.PollsRun, result.Outcomes.Values.Sum());
        Assert.True(result.ReachedLine >= result.CompletedPolls, $"{result.ReachedLine} calls reached the line for {result.CompletedPolls} completed polls");
        Assert.True(result.SimulatedCalls >= result.ReachedLine, $"{result.SimulatedCalls} calls logged, {result.ReachedLine} reached the line");

        // The fault mix shows up: intermittently busy and unanswered numbers give those outcomes, not only successes.
        Assert.Contains(result.Outcomes.Keys, k => k is "Busy" or "NoAnswer");
        Assert.InRange(result.Utilisation, 0.8, 1.2);
        Assert.True(result.ModemBusy > TimeSpan.Zero && result.ModemBusy <= result.PhysicalBound, $"modem busy {result.ModemBusy} vs bound {result.PhysicalBound}");
        Assert.True(result.Steps > 0 && result.TimersFired >= result.Steps, $"{result.Steps} steps, {result.TimersFired} timers");
    }

    [Fact]
    public async Task RunAsync_SmokeWorkloadTwice_SameFigures()
    {
        // Exact quiescence on one thread makes a seeded run deterministic; a heuristic that jumped the clock early
        // under load would show up here as different outcomes.
        var first = await RunSmokeAsync();
        var second = await RunSmokeAsync();

        Assert.Equal(JsonSerializer.Serialize(first), JsonSerializer.Serialize(second));
    }

    private static async Task<ScaleSummary> RunSmokeAsync()
    {
        var json = Path.Combine(Path.GetTempPath(), $"cm-scale-smoke-{Guid.NewGuid():N}.json");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { FindBench(), "scale", "--workload", FindWorkload("scale-smoke.json"), "--quiet", "--json", json })
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync().WaitAsync(RunTimeout);
            var output = await stdout + await stderr;
            Assert.True(process.ExitCode == 0, $"scale exited with {process.ExitCode}:\n{output}");
            return JsonSerializer.Deserialize<ScaleSummary>(await File.ReadAllTextAsync(json)) ?? throw new InvalidDataException("empty summary");
        }
        finally
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
            File.Delete(json);
        }
    }

    /// <summary>The bench CLI of the same configuration as this test assembly (bin/{Configuration}/{tfm}/).</summary>
    private static string FindBench()
    {
        var baseDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var tfm = baseDir.Name;
        var configuration = baseDir.Parent!.Name;
        var path = Path.Combine(RepoRoot().FullName, "tests", "ChannelManager.Benchmarks", "bin", configuration, tfm, "ChannelManager.Benchmarks.dll");
        Assert.True(File.Exists(path), $"{path} is missing: build tests/ChannelManager.Benchmarks -c {configuration} (./test.sh builds the whole solution)");
        return path;
    }

    private static string FindWorkload(string name) =>
        Path.Combine(RepoRoot().FullName, "tests", "ChannelManager.Benchmarks", "workloads", name);

    private static DirectoryInfo RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (Directory.Exists(Path.Combine(dir.FullName, "tests", "ChannelManager.Benchmarks", "workloads")))
                return dir;
        }

        throw new DirectoryNotFoundException($"repository root not found above {AppContext.BaseDirectory}");
    }
}
