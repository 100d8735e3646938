using System.CommandLine;
using ChannelManager.Host.Demo;
using Spectre.Console;

namespace ChannelManager.Host.Hosting;

/// <summary>The `channelmanager` verbs (design.md §5).</summary>
internal static class CommandLine
{
    public static async Task<int> RunAsync(string[] args)
    {
        var demo = new Command("demo", "Run the embedded simulated modem bank and outstations with scripted faults; needs no hardware and no config.");
        demo.SetAction(async (_, ct) =>
        {
            var console = AnsiConsole.Console;
            if (Console.IsOutputRedirected)
            {
                // A log file or CI: do not wrap rows at the default 80 columns.
                console.Profile.Width = 160;
            }

            await DemoRunner.RunAsync(console, TimeProvider.System, ct).ConfigureAwait(false);
            return 0;
        });

        var root = new RootCommand("ChannelManager: telemetry channel manager for SCADA front-end servers (modem pools, Modbus RTU, repeat-call rules).")
        {
            demo,
        };
        return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
    }
}
