using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using ChannelManager.Core.Channels;
using ChannelManager.Core.Modems;
using ChannelManager.HardwareSim.Exchange;
using ChannelManager.HardwareSim.Modems;
using ChannelManager.Transport.Tcp;

namespace ChannelManager.Benchmarks.Idle;

/// <summary>
/// <c>idle [--modems 256] [--seconds 60] [--check-interval 30]</c> (issue 9 item 4): N simulated modems listening on
/// 127.0.0.1, each reached through <see cref="TcpChannelTransport"/> and driven by an <see cref="AtModem"/> in one
/// <see cref="ModemChannelManager"/> running its health checks; RSS and CPU of the process over the window. The
/// simulated modems run in the same process, so their cost is included (an upper bound for the channel manager).
/// </summary>
internal static class IdleBench
{
    private const double RssGoalMb = 150;
    private const double CpuGoalPercent = 5;

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        int modems = 256, seconds = 60, checkSeconds = 30;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--modems": modems = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--seconds": seconds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--check-interval": checkSeconds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default:
                    await Console.Error.WriteLineAsync($"idle: unknown option '{args[i]}'").ConfigureAwait(false);
                    return 2;
            }
        }

        var time = TimeProvider.System;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var exchange = new PstnExchange(time);
        var listeners = new List<TcpListener>();
        var served = new List<Task>();
        for (var i = 0; i < modems; i++)
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            listeners.Add(listener);
            var name = $"M{i + 1:D3}";
            served.Add(ServeOneAsync(listener, new SimulatedModem(new ModemBehaviour { Name = name }, exchange, time), stop.Token));
        }

        var devices = listeners.Select((l, i) => ((IModemDevice)new AtModem(
            new TcpChannelTransport(TcpTransportOptions.Parse($"tcp://127.0.0.1:{((IPEndPoint)l.LocalEndpoint).Port}"), time),
            ownsTransport: true,
            new AtModemOptions { Name = $"M{i + 1:D3}" },
            time), ModemRole.Default));
        await using var channels = new ModemChannelManager(devices, new ChannelManagerOptions { HealthCheckInterval = TimeSpan.FromSeconds(checkSeconds) }, time);

        // Open every link and check every modem once before measuring (start-up is not idle cost).
        await channels.CheckIdleModemsAsync(stop.Token).ConfigureAwait(false);
        var healthy = channels.Modems.Count(m => m.Availability == ModemAvailability.Idle && !m.Faulted);
        var health = channels.RunHealthChecksAsync(stop.Token);
        GC.Collect();
        GC.WaitForPendingFinalizers();

        using var process = Process.GetCurrentProcess();
        process.Refresh();
        var cpu0 = process.TotalProcessorTime;
        var wall = Stopwatch.StartNew();
        long peakRss = 0;
        while (wall.Elapsed < TimeSpan.FromSeconds(seconds))
        {
            await Task.Delay(TimeSpan.FromSeconds(1), time, stop.Token).ConfigureAwait(false);
            process.Refresh();
            peakRss = Math.Max(peakRss, process.WorkingSet64);
        }

        process.Refresh();
        var cpu = (process.TotalProcessorTime - cpu0) / wall.Elapsed * 100;
        var rssMb = peakRss / (1024.0 * 1024);
        Console.WriteLine(F($"== idle: {modems} TCP-attached simulated modems (127.0.0.1), health check every {checkSeconds} s, {seconds} s window, {Environment.ProcessorCount} cores"));
        Console.WriteLine(F($"modems idle and healthy after the first check: {healthy} of {modems}"));
        Console.WriteLine(F($"peak RSS (working set)     {rssMb,8:F1} MB (channel manager + simulated modems in one process)"));
        Console.WriteLine(F($"CPU                        {cpu,8:F2} % of one core over {wall.Elapsed.TotalSeconds:F1} s"));
        Console.WriteLine(F($"managed heap after GC      {GC.GetTotalMemory(false) / (1024.0 * 1024),8:F1} MB"));
        Console.WriteLine((rssMb <= RssGoalMb ? "GOAL MET:    " : "GOAL MISSED: ") + F($"RSS {rssMb:F1} MB (goal <= {RssGoalMb} MB)"));
        Console.WriteLine((cpu < CpuGoalPercent ? "GOAL MET:    " : "GOAL MISSED: ") + F($"CPU {cpu:F2} % of one core (goal < {CpuGoalPercent} %)"));

        await stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await health.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        foreach (var l in listeners)
            l.Stop();
        await Task.WhenAll(served).WaitAsync(TimeSpan.FromSeconds(10), time, CancellationToken.None).ConfigureAwait(false);
        return healthy == modems ? 0 : 1;
    }

    private static async Task ServeOneAsync(TcpListener listener, SimulatedModem modem, CancellationToken cancellationToken)
    {
        try
        {
            using var socket = await listener.AcceptSocketAsync(cancellationToken).ConfigureAwait(false);
            await using var port = new SocketTransport(socket);
            await modem.RunAsync(port, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        catch (SocketException)
        {
        }
    }

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
