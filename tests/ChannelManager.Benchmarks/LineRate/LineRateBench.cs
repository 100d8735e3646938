using System.Globalization;
using System.Text.RegularExpressions;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Transport;
using ChannelManager.Transport.Serial;
using ChannelManager.IntegrationTests.Support;

namespace ChannelManager.Benchmarks.LineRate;

/// <summary>
/// Issue 5 acceptance "line-rate": FC3 (10 registers) polled over a socat pty for N seconds by our master,
/// then by mbpoll (libmodbus) against the same pymodbus RTU slave in the same run, compared with the
/// theoretical bound of a real line at that baud rate. A pty does not pace bytes (design.md §7), so the
/// bound is physical only on a real port; the table says so. Output and method: docs/performance.md.
/// </summary>
internal static partial class LineRateBench
{
    private const int Registers = 10;
    private const int RequestBytes = 8;                      // unit, fc, address(2), quantity(2), CRC(2)
    private const int ResponseBytes = 3 + (2 * Registers) + 2; // unit, fc, byte count, data, CRC = 25

    /// <summary>pymodbus 3.0 serial server, RTU framer, no parity; holding registers 0..9 = 100..109.</summary>
    private const string PymodbusSlave = """
        import logging, sys
        import pymodbus
        from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
        from pymodbus.server import StartSerialServer
        from pymodbus.transaction import ModbusRtuFramer
        logging.basicConfig(level=logging.WARNING)
        store = ModbusSlaveContext(hr=ModbusSequentialDataBlock(0, list(range(100, 110)) + [0] * 90), zero_mode=True)
        print("READY pymodbus", pymodbus.__version__, flush=True)
        StartSerialServer(context=ModbusServerContext(slaves={1: store}, single=False), framer=ModbusRtuFramer,
                          port=sys.argv[1], baudrate=int(sys.argv[2]), bytesize=8, parity="N", stopbits=1, timeout=0.05)
        """;

    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(15);

    public static async Task<int> RunAsync(IReadOnlyList<string> args, CancellationToken ct)
    {
        if (!TryParse(args, out var seconds, out var baud, out var problem))
        {
            await Console.Error.WriteLineAsync($"line-rate: {problem}");
            await Console.Error.WriteLineAsync("usage: line-rate [--seconds 30] [--baud 19200]");
            return 2;
        }

        var dir = Directory.CreateTempSubdirectory("cm-linerate-").FullName;
        try
        {
            var a = Path.Combine(dir, "a");
            var b = Path.Combine(dir, "b");
            await using var socat = ExternalProcess.Start("socat", "-d", "-d", $"pty,raw,echo=0,link={a}", $"pty,raw,echo=0,link={b}");
            await socat.WaitForLineAsync("starting data transfer loop", Startup);
            var script = Path.Combine(dir, "slave.py");
            await File.WriteAllTextAsync(script, PymodbusSlave, ct);
            await using var slave = ExternalProcess.Start("/usr/bin/python3", script, a, I($"{baud}"));
            await slave.WaitForLineAsync("READY", Startup);
            var slaveVersion = slave.Output.Split('\n').First(l => l.StartsWith("READY", StringComparison.Ordinal))["READY ".Length..];

            var window = TimeSpan.FromSeconds(seconds);
            var options = new ModbusRtuOptions
            {
                UnitId = 1,
                BaudRate = baud,
                Parity = SerialParity.None,
                ResponseTimeout = TimeSpan.FromSeconds(1),
                TimeoutRetries = 0,
            };
            Console.WriteLine(I($"line-rate: FC3 x{Registers} registers, unit 1, {baud} 8N1, socat pty, {slaveVersion} RTU slave, {seconds} s per master"));
            var ours = await RunOursAsync(b, options, window, ct);
            var probe = await ProbeAsync(b, options, ct);
            var mbpoll = await RunMbpollAsync(b, baud, seconds, ct);
            Report(options, seconds, ours, probe, mbpoll);
            return 0;
        }
        finally
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>The theoretical best of a real line: request and response characters plus a t3.5 gap before each frame.</summary>
    public static TimeSpan LineRatePollTime(ModbusRtuOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var character = ModbusRtuTiming.CharacterTime(options.BaudRate, options.CharacterBits);
        var gap = ModbusRtuTiming.InterFrameDelay(options.BaudRate, options.CharacterBits);
        return (character * (RequestBytes + ResponseBytes)) + (gap * 2);
    }

    private static async Task<RunStats> RunOursAsync(string port, ModbusRtuOptions options, TimeSpan window, CancellationToken ct)
    {
        var time = TimeProvider.System;
        await using var link = new SerialChannelTransport(new SerialTransportOptions { PortName = port, BaudRate = options.BaudRate }, time);
        await link.OpenAsync(ct);
        var master = new ModbusRtuMaster(options, time);
        ProtocolCommand[] poll = [new ReadHoldingRegisters(0, Registers)];

        // The slave prints READY before its event loop opens the pty: poll until it answers, then warm up (JIT) for 2 s.
        var begin = time.GetTimestamp();
        while (!(await master.ExecuteAsync(link, poll, ct)).IsSuccess)
        {
            if (time.GetElapsedTime(begin) > Startup)
            {
                throw new TimeoutException("the pymodbus slave never answered");
            }
        }

        var warm = time.GetTimestamp();
        while (time.GetElapsedTime(warm) < TimeSpan.FromSeconds(2))
        {
            await master.ExecuteAsync(link, poll, ct);
        }

        var latencies = new List<double>(capacity: 1 << 16);
        int ok = 0, failed = 0;
        string? firstFailure = null;
        var start = time.GetTimestamp();
        while (time.GetElapsedTime(start) < window)
        {
            var t0 = time.GetTimestamp();
            var result = await master.ExecuteAsync(link, poll, ct);
            latencies.Add(time.GetElapsedTime(t0).TotalMilliseconds);
            if (result.IsSuccess && IsExpected(result.Commands[0].Registers))
            {
                ok++;
            }
            else
            {
                failed++;
                firstFailure ??= I($"{result.Code}: {result.Detail}");
            }
        }

        return new RunStats(ok, failed, time.GetElapsedTime(start), latencies, firstFailure);
    }

    /// <summary>
    /// Where the time of one poll goes: the slave's turnaround alone (request written raw, no t3.5 wait),
    /// and what the master's t3.5 wait really takes (Task.Delay of the rounded-up interval), in the master's
    /// wait-write-read pattern.
    /// </summary>
    private static async Task<Probe> ProbeAsync(string port, ModbusRtuOptions options, CancellationToken ct)
    {
        const int Samples = 300;
        var time = TimeProvider.System;
        await using var link = new SerialChannelTransport(new SerialTransportOptions { PortName = port, BaudRate = options.BaudRate }, time);
        await link.OpenAsync(ct);
        var request = new byte[ModbusRtuCodec.MaxFrameLength];
        var length = ModbusRtuCodec.EncodeRequest(options.UnitId, new ReadHoldingRegisters(0, Registers), request);
        var reply = new byte[ModbusRtuCodec.MaxFrameLength];
        var wait = TimeSpan.FromMilliseconds(Math.Ceiling(options.EffectiveInterFrameDelay.TotalMilliseconds));
        var turnaround = new List<double>(Samples);
        var delays = new List<double>(Samples);
        for (var i = 0; i < Samples; i++)
        {
            // The same pattern as the master's poll loop (wait, write, read), timed part by part.
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(1), time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, deadline.Token);
            var t0 = time.GetTimestamp();
            await Task.Delay(wait, time, linked.Token);
            var t1 = time.GetTimestamp();
            await link.WriteAsync(request.AsMemory(0, length), linked.Token);
            var got = 0;
            while (got < ResponseBytes)
            {
                var n = await link.ReadAsync(reply.AsMemory(got), linked.Token);
                if (n == 0)
                {
                    throw new InvalidOperationException("the pty closed during the probe");
                }

                got += n;
            }

            delays.Add(time.GetElapsedTime(t0, t1).TotalMilliseconds);
            turnaround.Add(time.GetElapsedTime(t1).TotalMilliseconds);
        }

        return new Probe(turnaround, wait, delays);
    }

    private static async Task<RunStats> RunMbpollAsync(string port, int baud, int seconds, CancellationToken ct)
    {
        // -l 10 is mbpoll's fastest poll rate; -r 1 is PDU address 0 (mbpoll counts references from 1).
        // `timeout -s INT` stops it like Ctrl-C, so it prints its statistics line on the way out.
        await using var mbpoll = ExternalProcess.Start("timeout", "-s", "INT", I($"{seconds}"), "mbpoll",
            "-m", "rtu", "-b", I($"{baud}"), "-P", "none", "-a", "1", "-r", "1", "-c", I($"{Registers}"), "-t", "4", "-l", "10", "-o", "1", port);
        var time = TimeProvider.System;
        var start = time.GetTimestamp();
        await mbpoll.WaitForExitAsync(TimeSpan.FromSeconds(seconds + 30));
        var elapsed = time.GetElapsedTime(start);
        var output = mbpoll.Output;
        var stats = StatisticsLine().Match(output);
        if (!stats.Success)
        {
            throw new InvalidOperationException($"no statistics line in mbpoll's output:\n{output}");
        }

        var received = int.Parse(stats.Groups["received"].Value, CultureInfo.InvariantCulture);
        var errors = int.Parse(stats.Groups["errors"].Value, CultureInfo.InvariantCulture);
        // mbpoll prints every poll's values; the last register must read back as the slave holds it.
        var valuesSeen = output.Contains("[10]: \t109", StringComparison.Ordinal);
        // "transmitted - received" would also count the poll that SIGINT interrupts; mbpoll's own error count does not.
        return new RunStats(received, errors, TimeSpan.FromSeconds(Math.Min(seconds, elapsed.TotalSeconds)), [], valuesSeen ? null : "values 100..109 not seen in mbpoll's output");
    }

    private static void Report(ModbusRtuOptions options, int seconds, RunStats ours, Probe probe, RunStats mbpoll)
    {
        var pollTime = LineRatePollTime(options);
        var bound = 1 / pollTime.TotalSeconds;
        var gap = ModbusRtuTiming.InterFrameDelay(options.BaudRate, options.CharacterBits);
        Console.WriteLine();
        Console.WriteLine(I($"| {"",-34} | {"polls/s",9} | {"ok",7} | {"failed",6} | {"× bound",8} | {"× mbpoll",8} |"));
        Console.WriteLine("|------------------------------------|-----------|---------|--------|----------|----------|");
        Console.WriteLine(I($"| {"ChannelManager ModbusRtuMaster",-34} | {ours.PerSecond,9:F1} | {ours.Ok,7} | {ours.Failed,6} | {ours.PerSecond / bound,8:F2} | {ours.PerSecond / mbpoll.PerSecond,8:F2} |"));
        Console.WriteLine(I($"| {"mbpoll 1.0 (libmodbus), -l 10",-34} | {mbpoll.PerSecond,9:F1} | {mbpoll.Ok,7} | {mbpoll.Failed,6} | {mbpoll.PerSecond / bound,8:F2} | {1.0,8:F2} |"));
        Console.WriteLine(I($"| {"line-rate bound (real line)",-34} | {bound,9:F1} | {"",7} | {"",6} | {1.0,8:F2} | {bound / mbpoll.PerSecond,8:F2} |"));
        Console.WriteLine();
        Console.WriteLine(I($"bound: ({RequestBytes} + {ResponseBytes}) chars × {options.CharacterBits} bits / {options.BaudRate} baud + 2 × t3.5 ({gap.TotalMilliseconds:F3} ms) = {pollTime.TotalMilliseconds:F2} ms per poll, slave turnaround 0"));
        Console.WriteLine("note: a pty does not pace bytes at the baud rate (design.md §7), so over a pty the bound is not physical and");
        Console.WriteLine("      either master may exceed it; on a real line no master can. mbpoll cannot poll faster than every 10 ms (-l).");
        Console.WriteLine(I($"ours: {ours.Elapsed.TotalSeconds:F1} s, poll time p50 {Percentile(ours.Latencies, 0.5):F2} ms, p90 {Percentile(ours.Latencies, 0.9):F2} ms, p99 {Percentile(ours.Latencies, 0.99):F2} ms, max {Percentile(ours.Latencies, 1):F2} ms"));
        Console.WriteLine(I($"where it goes (raw probe, same wait-write-read pattern): write → 25 bytes read p50 {Percentile(probe.Turnaround, 0.5):F2} ms, p90 {Percentile(probe.Turnaround, 0.9):F2} ms;"));
        Console.WriteLine(I($"               t3.5 wait Task.Delay({probe.Wait.TotalMilliseconds:F0} ms) takes p50 {Percentile(probe.Delays, 0.5):F2} ms, p90 {Percentile(probe.Delays, 0.9):F2} ms (t3.5 = {options.EffectiveInterFrameDelay.TotalMilliseconds:F3} ms)"));
        foreach (var (name, run) in new[] { ("ours", ours), ("mbpoll", mbpoll) })
        {
            if (run.Problem is { } problem)
            {
                Console.WriteLine(I($"{name}: {problem}"));
            }
        }

        var ratioBound = ours.PerSecond / bound;
        var ratioMbpoll = ours.PerSecond / mbpoll.PerSecond;
        Console.WriteLine(I($"{(ratioBound >= 0.9 ? "GOAL MET" : "GOAL MISSED")}: ours {ours.PerSecond:F1} polls/s = {ratioBound * 100:F0} % of the line-rate bound {bound:F1} (goal ≥ 90 %)"));
        Console.WriteLine(I($"{(ratioMbpoll >= 1.0 ? "GOAL MET" : "GOAL MISSED")}: ours {ours.PerSecond:F1} polls/s = {ratioMbpoll:F2}× mbpoll {mbpoll.PerSecond:F1} polls/s (goal ≥ 1.0×)"));
        if (ours.Failed > 0 || mbpoll.Failed > 0 || ours.Problem is not null || mbpoll.Problem is not null)
        {
            Console.WriteLine("WARNING: failed polls above; the rates count successful polls only");
        }

        Console.WriteLine(I($"({seconds} s windows, {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription})"));
    }

    private static bool IsExpected(IReadOnlyList<ushort> registers)
    {
        if (registers.Count != Registers)
        {
            return false;
        }

        for (var i = 0; i < Registers; i++)
        {
            if (registers[i] != 100 + i)
            {
                return false;
            }
        }

        return true;
    }

    private static double Percentile(List<double> values, double p)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToArray();
        return sorted[(int)Math.Min(sorted.Length - 1, Math.Ceiling(p * sorted.Length) - 1 < 0 ? 0 : Math.Ceiling(p * sorted.Length) - 1)];
    }

    private static bool TryParse(IReadOnlyList<string> args, out int seconds, out int baud, out string problem)
    {
        seconds = 30;
        baud = 19200;
        problem = string.Empty;
        for (var i = 0; i < args.Count; i++)
        {
            var value = i + 1 < args.Count ? args[i + 1] : null;
            switch (args[i])
            {
                case "--seconds" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var s) && s > 0:
                    seconds = s;
                    i++;
                    break;
                case "--baud" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var b) && b is >= 1200 and <= 921600:
                    baud = b;
                    i++;
                    break;
                default:
                    problem = $"unexpected or invalid argument '{args[i]}'";
                    return false;
            }
        }

        return true;
    }

    private static string I(FormattableString text) => FormattableString.Invariant(text);

    [GeneratedRegex(@"(?<sent>\d+) frames transmitted, (?<received>\d+) received, (?<errors>\d+) errors")]
    private static partial Regex StatisticsLine();

    private sealed record RunStats(int Ok, int Failed, TimeSpan Elapsed, List<double> Latencies, string? Problem)
    {
        public double PerSecond => Ok / Elapsed.TotalSeconds;
    }

    private sealed record Probe(List<double> Turnaround, TimeSpan Wait, List<double> Delays);
}
