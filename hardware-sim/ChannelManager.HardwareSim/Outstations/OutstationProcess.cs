using System.Globalization;
using System.Net;
using System.Net.Sockets;
using ChannelManager.Core.Transport;
using ChannelManager.Transport.Serial;

namespace ChannelManager.HardwareSim.Outstations;

/// <summary>
/// The <c>outstation</c> verb of the simulator process: a <see cref="ModbusRtuOutstation"/> on a serial
/// device (a socat pty works) or as RTU over TCP. Prints READY on stdout once it serves.
/// <code>
/// channelmanager-sim outstation (--port PATH [--baud 19200] [--parity none|even|odd] | --listen tcp://127.0.0.1:PORT)
///     [--unit 1] [--holding ADDR=V,V,..] [--input ADDR=V,..] [--coils ADDR=1,0,..] [--discrete ADDR=1,0,..]
///     [--fault noreply|badcrc|partial|wrongunit|exception:CODE|slow:MS]
/// </code>
/// </summary>
internal static class OutstationProcess
{
    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        OutstationArguments parsed;
        try
        {
            parsed = OutstationArguments.Parse(args);
        }
        catch (Exception e) when (e is FormatException or ArgumentOutOfRangeException)
        {
            await Console.Error.WriteLineAsync($"outstation: {e.Message}");
            await Console.Error.WriteLineAsync("usage: outstation (--port PATH [--baud N] [--parity none|even|odd] | --listen tcp://HOST:PORT) [--unit N] [--holding A=V,..] [--input A=V,..] [--coils A=1,0,..] [--discrete A=1,0,..] [--fault KIND]");
            return 2;
        }

        var time = TimeProvider.System;
        var outstation = new ModbusRtuOutstation(parsed.Unit, time, parsed.Map) { Fault = parsed.Fault };
        try
        {
            if (parsed.Port is { } port)
            {
                await using var serial = new SerialChannelTransport(
                    new SerialTransportOptions { PortName = port, BaudRate = parsed.Baud, Parity = parsed.Parity }, time);
                await serial.OpenAsync(cancellationToken);
                Console.WriteLine($"READY unit {parsed.Unit} on {port}");
                await outstation.ServeAsync(serial, cancellationToken);
                return cancellationToken.IsCancellationRequested ? 0 : 1;
            }

            // ! : Parse guarantees exactly one of --port and --listen, and --port was handled above.
            return await ListenAsync(outstation, parsed.Listen!, cancellationToken);
        }
        catch (TransportFailureException e)
        {
            await Console.Error.WriteLineAsync($"outstation: {e.Message}");
            return 1;
        }
        catch (SocketException e)
        {
            await Console.Error.WriteLineAsync($"outstation: cannot listen: {e.Message}");
            return 1;
        }
    }

    private static async Task<int> ListenAsync(ModbusRtuOutstation outstation, IPEndPoint endpoint, CancellationToken cancellationToken)
    {
        using var listener = new TcpListener(endpoint);
        listener.Start();
        Console.WriteLine($"READY unit {outstation.UnitId} on tcp://{listener.LocalEndpoint}");
        var sessions = new List<Task>();
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var socket = await listener.AcceptSocketAsync(cancellationToken);
                socket.NoDelay = true;
                sessions.Add(ServeConnectionAsync(outstation, socket, cancellationToken));
                sessions.RemoveAll(t => t.IsCompleted);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }

        await Task.WhenAll(sessions);
        return 0;
    }

    private static async Task ServeConnectionAsync(ModbusRtuOutstation outstation, Socket socket, CancellationToken cancellationToken)
    {
        await using var link = new AcceptedTcpTransport(socket);
        await outstation.ServeAsync(link, cancellationToken);
    }
}

/// <summary>The parsed command line of the outstation verb.</summary>
internal sealed record OutstationArguments(string? Port, IPEndPoint? Listen, byte Unit, int Baud, SerialParity Parity, ModbusRegisterMap Map, OutstationFault? Fault)
{
    public static OutstationArguments Parse(IReadOnlyList<string> args)
    {
        string? port = null;
        IPEndPoint? listen = null;
        byte unit = 1;
        var baud = 19200;
        var parity = SerialParity.None;
        var map = new ModbusRegisterMap();
        OutstationFault? fault = null;
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            var value = i + 1 < args.Count ? args[++i] : throw new FormatException($"{name} needs a value");
            switch (name)
            {
                case "--port":
                    port = value;
                    break;
                case "--listen":
                    listen = ParseListen(value);
                    break;
                case "--unit":
                    unit = byte.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var u) && u is >= 1 and <= 247 ? u : throw new FormatException($"--unit {value}: 1..247 expected");
                    break;
                case "--baud":
                    baud = int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var b) && b > 0 ? b : throw new FormatException($"--baud {value}: a positive number expected");
                    break;
                case "--parity":
                    parity = Enum.TryParse<SerialParity>(value, ignoreCase: true, out var p) ? p : throw new FormatException($"--parity {value}: none, even or odd expected");
                    break;
                case "--holding":
                    var (ha, hv) = ParseValues(name, value, ParseRegister);
                    map.SetHoldingRegisters(ha, hv);
                    break;
                case "--input":
                    var (ia, iv) = ParseValues(name, value, ParseRegister);
                    map.SetInputRegisters(ia, iv);
                    break;
                case "--coils":
                    var (ca, cv) = ParseValues(name, value, ParseBit);
                    map.SetCoils(ca, cv);
                    break;
                case "--discrete":
                    var (da, dv) = ParseValues(name, value, ParseBit);
                    map.SetDiscreteInputs(da, dv);
                    break;
                case "--fault":
                    fault = OutstationFault.Parse(value) ?? throw new FormatException($"--fault {value}: noreply, badcrc, partial, wrongunit, exception:CODE or slow:MS expected");
                    break;
                default:
                    throw new FormatException($"unknown option {name}");
            }
        }

        if ((port is null) == (listen is null))
        {
            throw new FormatException("give exactly one of --port PATH or --listen tcp://HOST:PORT");
        }

        return new OutstationArguments(port, listen, unit, baud, parity, map, fault);
    }

    private static IPEndPoint ParseListen(string value)
    {
        const string scheme = "tcp://";
        if (!value.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) || !IPEndPoint.TryParse(value[scheme.Length..], out var endpoint))
        {
            throw new FormatException($"--listen {value}: tcp://HOST:PORT expected (HOST an IP address)");
        }

        return endpoint;
    }

    private static (int Address, T[] Values) ParseValues<T>(string name, string text, Func<string, T> parse)
    {
        var eq = text.IndexOf('=', StringComparison.Ordinal);
        if (eq < 1 || !int.TryParse(text.AsSpan(0, eq), NumberStyles.Integer, CultureInfo.InvariantCulture, out var address) || address is < 0 or > 65535)
        {
            throw new FormatException($"{name} {text}: ADDR=V,V,.. expected");
        }

        try
        {
            return (address, text[(eq + 1)..].Split(',').Select(parse).ToArray());
        }
        catch (FormatException e)
        {
            throw new FormatException($"{name} {text}: {e.Message}", e);
        }
    }

    private static ushort ParseRegister(string s) =>
        ushort.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : throw new FormatException($"'{s}' is not 0..65535");

    private static bool ParseBit(string s) => s switch
    {
        "1" => true,
        "0" => false,
        _ => throw new FormatException($"'{s}' is not 0 or 1"),
    };
}
