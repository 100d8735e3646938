using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using ChannelManager.IntegrationTests.Support;

namespace ChannelManager.IntegrationTests.Host;

/// <summary>The built `channelmanager` executable as a child process, and the simulator's control verbs the host tests use.</summary>
internal static partial class HostProcess
{
    public static string RepositoryRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ChannelManager.sln")))
            {
                dir = dir.Parent;
            }

            return dir?.FullName ?? throw new InvalidOperationException("ChannelManager.sln not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>Starts `channelmanager ARGS` (the Host project's output, copied next to the test assembly).</summary>
    public static ExternalProcess Start(params string[] arguments) =>
        ExternalProcess.Start("dotnet", [Path.Combine(AppContext.BaseDirectory, "channelmanager.dll"), .. arguments]);

    /// <summary>Runs a one-shot verb to its end; returns the exit code and everything it printed.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(TimeSpan timeout, params string[] arguments)
    {
        await using var process = Start(arguments);
        var code = await process.WaitForExitAsync(timeout);
        return (code, process.Output);
    }

    /// <summary>SIGTERM, as systemd's stop does: the host shuts down gracefully.</summary>
    public static async Task TerminateAsync(ExternalProcess process)
    {
        using var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>The TCP port a simulator process printed in its READY line.</summary>
    public static int ReadyPort(ExternalProcess process)
    {
        var match = ReadyEndpoint().Match(process.Output);
        Assert.True(match.Success, "no READY tcp://host:port line in:\n" + process.Output);
        return int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Mid-dial for certain: the exchange has the call to <paramref name="number"/> open and not yet ended.</summary>
    public static async Task WaitUntilRingingAsync(ExternalProcess simulator, string number)
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (!(await CallsAsync(simulator)).Any(c => c.Number == number && c.EndedAt is null))
        {
            await Task.Delay(TimeSpan.FromMilliseconds(50), TimeProvider.System, bound.Token);
        }
    }

    /// <summary>The modem simulator's call log (its `calls` control verb): one record per dial attempt it saw.</summary>
    public static async Task<IReadOnlyList<SimCall>> CallsAsync(ExternalProcess simulator)
    {
        await simulator.WriteLineAsync("calls");
        await simulator.WaitForLineAsync("OK calls", TimeSpan.FromSeconds(10));
        var lines = simulator.Output.Split('\n');
        var end = Array.FindLastIndex(lines, l => l.StartsWith("OK calls", StringComparison.Ordinal));
        var start = Array.FindLastIndex(lines, end - 1, l => l.StartsWith("OK calls", StringComparison.Ordinal)) + 1;
        return [.. lines[start..end].Where(l => l.StartsWith("CALL ", StringComparison.Ordinal)).Select(l => JsonSerializer.Deserialize<SimCall>(l[5..], Json)!)]; // a CALL line always holds an object
    }

    private static readonly JsonSerializerOptions Json = new() { PropertyNameCaseInsensitive = true };

    [GeneratedRegex(@"READY .*tcp://[0-9.]+:(\d+)")]
    private static partial Regex ReadyEndpoint();
}

/// <summary>One record of the simulated exchange's call log, as the simulator prints it.</summary>
internal sealed record SimCall(DateTimeOffset At, string ModemName, string Number, string Result, DateTimeOffset? ConnectedAt, DateTimeOffset? EndedAt);
