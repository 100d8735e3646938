using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using ChannelManager.Core.Transport;
using ChannelManager.HardwareSim.Exchange;
using ChannelManager.Transport.Serial;

namespace ChannelManager.HardwareSim.Modems;

/// <summary>
/// The `modem` verb of the simulator process:
/// <code>
///   modem --port PATH --scenario FILE [--modem NAME]                  one modem on a serial device (a socat pty end)
///   modem --listen tcp://127.0.0.1:PORT --scenario FILE [--modem NAME] one modem per TCP connection (port 0: any free port)
/// </code>
/// Prints "READY &lt;endpoint&gt;" on stdout once the port is open or the listener is up. Run-time
/// control, one command per stdin line (answers "OK …" or "ERR …" on stdout):
/// <c>fault NAME|* FAULT</c>, <c>drop NAME|*</c>, <c>ring NAME|* [CALLERID]</c>, <c>calls</c> (one
/// "CALL {json}" line per call-log record, then "OK calls N").
/// </summary>
internal static class ModemProcess
{
    private static readonly JsonSerializerOptions CallJson = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        if (!TryParse(args, out var options, out var problem))
        {
            await Console.Error.WriteLineAsync($"modem: {problem}");
            await Console.Error.WriteLineAsync("usage: modem (--port PATH | --listen tcp://HOST:PORT) --scenario FILE [--modem NAME] [--baud N]");
            return 2;
        }

        ModemScenario scenario;
        ModemBehaviour behaviour;
        try
        {
            scenario = await ModemScenario.LoadAsync(options.Scenario, resolver: null, cancellationToken);
            behaviour = scenario.SelectModem(options.ModemName);
        }
        catch (ScenarioException ex)
        {
            await Console.Error.WriteLineAsync($"modem: scenario {options.Scenario}: {ex.Message}");
            return 2;
        }

        var time = TimeProvider.System;
        var exchange = new PstnExchange(time);
        scenario.ConfigureExchange(exchange);
        var running = new RunningModems();
        // Console.In reads synchronously even through ReadLineAsync: keep it off this thread.
        _ = Task.Run(() => ControlLoopAsync(running, exchange, cancellationToken), CancellationToken.None);

        try
        {
            return options.Port is { } port
                ? await RunOnPortAsync(port, options.BaudRate, behaviour, exchange, running, time, cancellationToken)
                : await ListenAsync(options.Listen!, behaviour, exchange, running, time, cancellationToken); // one of the two is set (TryParse)
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return 0;
        }
    }

    private static async Task<int> RunOnPortAsync(string path, int baudRate, ModemBehaviour behaviour, PstnExchange exchange, RunningModems running, TimeProvider time, CancellationToken ct)
    {
        // The same adapter the host uses: pty-safe (no control lines, token-bounded reads; design.md §7).
        await using var port = new SerialChannelTransport(new SerialTransportOptions { PortName = path, BaudRate = baudRate }, time);
        try
        {
            await port.OpenAsync(ct);
        }
        catch (TransportFailureException ex)
        {
            await Console.Error.WriteLineAsync($"modem: {ex.Message}");
            return 1;
        }

        var modem = new SimulatedModem(behaviour, exchange, time);
        running.Add(modem);
        Console.Out.WriteLine($"READY {path}");
        await modem.RunAsync(port, ct);
        return 0;
    }

    private static async Task<int> ListenAsync(Uri endpoint, ModemBehaviour behaviour, PstnExchange exchange, RunningModems running, TimeProvider time, CancellationToken ct)
    {
        var listener = new TcpListener(IPAddress.Parse(endpoint.Host), endpoint.Port);
        try
        {
            listener.Start();
        }
        catch (SocketException ex)
        {
            await Console.Error.WriteLineAsync($"modem: cannot listen on {endpoint}: {ex.Message}");
            return 1;
        }

        try
        {
            var bound = (IPEndPoint)listener.LocalEndpoint;
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"READY tcp://{endpoint.Host}:{bound.Port}"));
            var sessions = new List<Task>();
            while (!ct.IsCancellationRequested)
            {
                var client = await listener.AcceptTcpClientAsync(ct);
                sessions.RemoveAll(t => t.IsCompleted);
                sessions.Add(ServeConnectionAsync(client, behaviour.Clone(), exchange, running, time, ct));
            }

            await Task.WhenAll(sessions);
            return 0;
        }
        finally
        {
            listener.Stop();
        }
    }

    private static async Task ServeConnectionAsync(TcpClient client, ModemBehaviour behaviour, PstnExchange exchange, RunningModems running, TimeProvider time, CancellationToken ct)
    {
        using (client)
        {
            var remote = client.Client.RemoteEndPoint?.ToString() ?? "tcp";
            await using var port = new StreamChannelTransport(client.GetStream(), remote);
            var modem = new SimulatedModem(behaviour, exchange, time);
            running.Add(modem);
            try
            {
                await modem.RunAsync(port, ct);
            }
            finally
            {
                running.Remove(modem);
            }
        }
    }

    private static async Task ControlLoopAsync(RunningModems running, PstnExchange exchange, CancellationToken ct)
    {
        try
        {
            while (await Console.In.ReadLineAsync(ct) is { } line)
            {
                Console.Out.WriteLine(Control(line.Trim(), running, exchange));
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (IOException)
        {
            // stdin closed or not readable: run without run-time control.
        }
    }

    internal static string Control(string line, RunningModems running, PstnExchange exchange)
    {
        var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.Length == 0)
        {
            return "ERR empty command";
        }

        switch (words[0])
        {
            case "calls":
                foreach (var record in exchange.CallLog)
                {
                    Console.Out.WriteLine("CALL " + JsonSerializer.Serialize(new { record.At, record.ModemName, record.Number, Result = record.Result.ToString(), record.ConnectedAt, record.EndedAt }, CallJson));
                }

                return string.Create(CultureInfo.InvariantCulture, $"OK calls {exchange.CallLog.Count}");
            case "fault" when words.Length == 3:
                if (!Enum.TryParse<ModemFault>(words[2], ignoreCase: true, out var fault) || !Enum.IsDefined(fault))
                {
                    return $"ERR unknown fault '{words[2]}' (one of {string.Join(", ", Enum.GetNames<ModemFault>())})";
                }

                return Apply(running, words[1], line, m => m.Fault = fault);
            case "drop" when words.Length == 2:
                return Apply(running, words[1], line, m => m.DropCarrier());
            case "ring" when words.Length is 2 or 3:
                var callerId = words.Length == 3 ? words[2] : null;
                return Apply(running, words[1], line, m => m.Ring(callerId));
            default:
                return $"ERR unknown command '{line}' (fault NAME|* FAULT, drop NAME|*, ring NAME|* [CALLERID], calls)";
        }
    }

    private static string Apply(RunningModems running, string name, string line, Action<SimulatedModem> action)
    {
        var targets = running.Snapshot().Where(m => name == "*" || m.Name == name).ToArray();
        if (targets.Length == 0)
        {
            return $"ERR no running modem '{name}'";
        }

        foreach (var modem in targets)
        {
            action(modem);
        }

        return $"OK {line}";
    }

    private static bool TryParse(string[] args, out ProcessOptions options, out string problem)
    {
        options = new ProcessOptions();
        problem = string.Empty;
        for (var i = 0; i < args.Length; i++)
        {
            var value = i + 1 < args.Length ? args[i + 1] : null;
            switch (args[i])
            {
                case "--port" when value is not null:
                    options.Port = value;
                    i++;
                    break;
                case "--listen" when value is not null:
                    if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Scheme != "tcp" || !IPAddress.TryParse(uri.Host, out _))
                    {
                        problem = $"--listen needs tcp://IP:PORT, got '{value}'";
                        return false;
                    }

                    options.Listen = uri;
                    i++;
                    break;
                case "--scenario" when value is not null:
                    options.Scenario = value;
                    i++;
                    break;
                case "--modem" when value is not null:
                    options.ModemName = value;
                    i++;
                    break;
                case "--baud" when value is not null:
                    // A pty does not pace bytes at the baud rate (design.md §7); a real port does.
                    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var baud) || baud <= 0)
                    {
                        problem = $"--baud needs a positive number, got '{value}'";
                        return false;
                    }

                    options.BaudRate = baud;
                    i++;
                    break;
                default:
                    problem = $"unexpected argument '{args[i]}'";
                    return false;
            }
        }

        if ((options.Port is null) == (options.Listen is null))
        {
            problem = "give exactly one of --port or --listen";
            return false;
        }

        if (string.IsNullOrEmpty(options.Scenario))
        {
            problem = "--scenario FILE is required";
            return false;
        }

        return true;
    }

    internal sealed class RunningModems
    {
        private readonly Lock _gate = new();
        private readonly List<SimulatedModem> _modems = [];

        public void Add(SimulatedModem modem)
        {
            lock (_gate)
            {
                _modems.Add(modem);
            }
        }

        public void Remove(SimulatedModem modem)
        {
            lock (_gate)
            {
                _modems.Remove(modem);
            }
        }

        public SimulatedModem[] Snapshot()
        {
            lock (_gate)
            {
                return _modems.ToArray();
            }
        }
    }

    private sealed class ProcessOptions
    {
        public string? Port { get; set; }

        public Uri? Listen { get; set; }

        public string Scenario { get; set; } = string.Empty;

        public string? ModemName { get; set; }

        public int BaudRate { get; set; } = 9600;
    }
}
