using System.CommandLine;
using ChannelManager.Host.Demo;
using Spectre.Console;

namespace ChannelManager.Host.Hosting;

/// <summary>The `channelmanager` verbs (design.md §5).</summary>
internal static class CommandLine
{
    public static async Task<int> RunAsync(string[] args)
    {
        var hours = new Option<double>("--hours")
        {
            Description = "Simulated hours to run (the idle gaps between calls are skipped; calls run in real time).",
            DefaultValueFactory = _ => 3,
        };
        hours.Validators.Add(r =>
        {
            if (r.GetValue(hours) is not (> 0 and <= 24))
                r.AddError("--hours must be more than 0 and at most 24.");
        });
        var demo = new Command("demo", "Run the real scheduler and Channel Manager over the embedded simulated modem bank and scripted outstations for a few simulated hours; needs no hardware and no config.")
        {
            hours,
        };
        demo.SetAction(async (parseResult, ct) =>
        {
            var console = AnsiConsole.Console;
            var live = !Console.IsOutputRedirected && console.Profile.Capabilities.Interactive;
            if (!live)
            {
                // A log file or CI: plain rows, not wrapped at the default 80 columns.
                console.Profile.Width = 160;
            }

            var report = await DemoRunner.RunAsync(console, TimeProvider.System, new DemoOptions { Duration = TimeSpan.FromHours(parseResult.GetValue(hours)), Live = live }, ct).ConfigureAwait(false);
            return report.Completed && report.RepeatCallViolations.Count == 0 && report.ExchangeViolations.Count == 0 ? 0 : 1;
        });

        var root = new RootCommand("ChannelManager: telemetry channel manager for SCADA front-end servers (modem pools, Modbus RTU, repeat-call rules).")
        {
            demo,
        };
        return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
    }
}
