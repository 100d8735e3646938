using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace ChannelManager.HardwareSim.Nat;

/// <summary>
/// The <c>nat</c> verb of the simulator process: a <see cref="NatProxy"/> between a client and an outstation, steered
/// through stdin while it runs. Prints READY (with the real port) on stdout once it listens.
/// <code>
/// channelmanager-sim nat --listen tcp://127.0.0.1:PORT --target tcp://HOST:PORT [--idle SECONDS]
/// stdin: idle SECONDS | drop | reset | blackhole on|off | status | quit
/// </code>
/// </summary>
internal static class NatProcess
{
    public static async Task<int> RunAsync(string[] args, TextReader input, TextWriter output, CancellationToken cancellationToken)
    {
        NatArguments parsed;
        try
        {
            parsed = NatArguments.Parse(args);
        }
        catch (FormatException e)
        {
            await Console.Error.WriteLineAsync($"nat: {e.Message}");
            await Console.Error.WriteLineAsync("usage: nat --listen tcp://127.0.0.1:PORT --target tcp://HOST:PORT [--idle SECONDS]");
            return 2;
        }

        NatProxy proxy;
        try
        {
            proxy = NatProxy.Start(parsed.Listen, parsed.Target, parsed.Idle, TimeProvider.System);
        }
        catch (SocketException e)
        {
            await Console.Error.WriteLineAsync($"nat: cannot listen: {e.Message}");
            return 1;
        }

        await using (proxy)
        {
            await output.WriteLineAsync($"READY nat on {proxy.Endpoint} -> tcp://{parsed.Target} idle {Seconds(parsed.Idle)} s");
            await output.FlushAsync(cancellationToken);
            while (!cancellationToken.IsCancellationRequested)
            {
                string? line;
                try
                {
                    line = await input.ReadLineAsync(cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                if (line is null)
                {
                    // stdin closed: keep serving until stopped (a test may not keep a pipe open).
                    try
                    {
                        await Task.Delay(Timeout.InfiniteTimeSpan, TimeProvider.System, cancellationToken);
                    }
                    catch (OperationCanceledException)
                    {
                    }

                    break;
                }

                var reply = Execute(proxy, line.Trim());
                if (reply is null)
                    break;
                await output.WriteLineAsync(reply);
                await output.FlushAsync(cancellationToken);
            }
        }

        return 0;
    }

    /// <summary>One stdin command; null = quit.</summary>
    internal static string? Execute(NatProxy proxy, string command)
    {
        var parts = command.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        switch (parts.FirstOrDefault()?.ToLowerInvariant())
        {
            case "idle" when parts.Length == 2 && TryParseSeconds(parts[1], out var idle):
                proxy.IdleTimeout = idle;
                return $"OK idle {Seconds(idle)} s";
            case "drop":
                return $"OK dropped {proxy.DropAll()}";
            case "reset":
                return $"OK reset {proxy.ResetAll()}";
            case "blackhole" when parts.Length == 2 && parts[1] is "on" or "off":
                proxy.Blackholed = parts[1] == "on";
                return $"OK blackhole {parts[1]}";
            case "status":
                var mappings = proxy.Mappings;
                return string.Create(CultureInfo.InvariantCulture,
                    $"OK idle {Seconds(proxy.IdleTimeout)} s, blackhole {(proxy.Blackholed ? "on" : "off")}, accepted {proxy.Accepted}, silent drops {proxy.SilentDrops}, active {mappings.Count(m => m.State == NatMappingState.Active)}");
            case "quit":
                return null;
            default:
                return $"ERROR unknown command '{command}' (idle SECONDS | drop | reset | blackhole on|off | status | quit)";
        }
    }

    internal static bool TryParseSeconds(string text, out TimeSpan value)
    {
        value = default;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) || !(s > 0) || s > 86_400)
            return false;
        value = TimeSpan.FromSeconds(s);
        return true;
    }

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
}

/// <summary>The parsed command line of the nat verb.</summary>
internal sealed record NatArguments(IPEndPoint Listen, IPEndPoint Target, TimeSpan Idle)
{
    public static NatArguments Parse(IReadOnlyList<string> args)
    {
        IPEndPoint? listen = null;
        IPEndPoint? target = null;
        var idle = TimeSpan.FromMinutes(5);
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            var value = i + 1 < args.Count ? args[++i] : throw new FormatException($"{name} needs a value");
            switch (name)
            {
                case "--listen":
                    listen = ParseEndpoint(name, value);
                    break;
                case "--target":
                    target = ParseEndpoint(name, value);
                    break;
                case "--idle":
                    idle = NatProcess.TryParseSeconds(value, out var s) ? s : throw new FormatException($"--idle {value}: seconds in (0, 86400] expected");
                    break;
                default:
                    throw new FormatException($"unknown option {name}");
            }
        }

        return new NatArguments(
            listen ?? throw new FormatException("--listen tcp://HOST:PORT is required"),
            target ?? throw new FormatException("--target tcp://HOST:PORT is required"),
            idle);
    }

    private static IPEndPoint ParseEndpoint(string name, string value)
    {
        const string scheme = "tcp://";
        if (!value.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) || !IPEndPoint.TryParse(value[scheme.Length..], out var endpoint))
            throw new FormatException($"{name} {value}: tcp://HOST:PORT expected (HOST an IP address)");
        return endpoint;
    }
}
