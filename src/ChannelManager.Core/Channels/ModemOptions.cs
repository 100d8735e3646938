using System.Globalization;
using ChannelManager.Core.Modems;
using ChannelManager.Core.Scheduling;

namespace ChannelManager.Core.Channels;

/// <summary>
/// One modem of the bank as configured (design.md §6 "Modems", issue 4 item 1): where it is attached
/// (a local serial port or a TCP serial server — exactly one), its AT settings, and its pools and role.
/// Validated as a list by <see cref="Validate"/>, which names every bad value by its JSON path.
/// </summary>
public sealed class ModemOptions
{
    /// <summary>Serial speeds a modem port can be set to (V.250 autobaud range plus the usual UART rates).</summary>
    public static IReadOnlyList<int> StandardBaudRates { get; } = [300, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600];

    /// <summary>Unique name: counters, logs, the dashboard and the simulator's call log use it.</summary>
    public string Name { get; set; } = string.Empty;

    /// <summary>A local serial port (COM3, /dev/ttyUSB0). Exactly one of <see cref="Port"/> and <see cref="Endpoint"/>.</summary>
    public string? Port { get; set; }

    /// <summary>A TCP serial server in raw mode, "tcp://host:port" (ser2net, Moxa NPort). Exactly one of <see cref="Port"/> and <see cref="Endpoint"/>.</summary>
    public string? Endpoint { get; set; }

    /// <summary>DTE speed of a local port (a TCP serial server sets its own speed; ignored there).</summary>
    public int BaudRate { get; set; } = 19200;

    /// <summary>Sent after ATZ before every dial (see <see cref="AtModemOptions.InitString"/>).</summary>
    public string InitString { get; set; } = "ATE0V1Q0X4&D2";

    /// <summary>Null: S7 from the init string plus a margin (<see cref="AtModemOptions.EffectiveDialTimeout"/>).</summary>
    public TimeSpan? DialTimeout { get; set; }

    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Silence around "+++"; must exceed the modem's S12 guard (V.250 §6.3.x; Hayes default 1 s).</summary>
    public TimeSpan EscapeGuardTime { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Pools this modem serves; empty = the default pool.</summary>
    public IList<string> Pools { get; init; } = [];

    /// <summary>Answers incoming calls (RING → ATA).</summary>
    public bool AnswerCalls { get; set; }

    /// <summary>Kept for incoming calls only: never used for dial-out. Needs <see cref="AnswerCalls"/>.</summary>
    public bool ReservedForDialIn { get; set; }

    public ModemRole ToRole() => new() { Pools = [.. Pools], AnswerCalls = AnswerCalls, ReservedForDialIn = ReservedForDialIn };

    public AtModemOptions ToAtModemOptions() => new()
    {
        Name = Name,
        InitString = InitString,
        DialTimeout = DialTimeout,
        CommandTimeout = CommandTimeout,
        EscapeGuardTime = EscapeGuardTime,
    };

    /// <summary>
    /// Checks every modem and the list as a whole (unique names). Returns one error per problem, each
    /// naming its path, e.g. <c>Modems[2].Endpoint: 'x' is not tcp://host:port</c>; empty when valid.
    /// </summary>
    public static IReadOnlyList<ConfigError> Validate(IReadOnlyList<ModemOptions>? modems, string path = "Modems")
    {
        var errors = new List<ConfigError>();
        if (modems is null || modems.Count == 0)
        {
            errors.Add(new(path, "at least one modem is required"));
            return errors;
        }

        var firstIndexOf = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < modems.Count; i++)
        {
            var at = $"{path}[{i.ToString(CultureInfo.InvariantCulture)}]";
            if (modems[i] is not { } modem)
            {
                errors.Add(new(at, "must not be null"));
                continue;
            }

            modem.Validate(at, errors);
            if (!string.IsNullOrWhiteSpace(modem.Name) && !firstIndexOf.TryAdd(modem.Name.Trim(), i))
            {
                errors.Add(new(ConfigError.Join(at, nameof(Name)), $"'{modem.Name}' is already used by {path}[{firstIndexOf[modem.Name.Trim()].ToString(CultureInfo.InvariantCulture)}]; modem names must be unique"));
            }
        }

        return errors;
    }

    /// <summary>Parses "tcp://host:port" (the same rule as the TCP adapter's parser, which Core cannot reference).</summary>
    public static bool TryParseEndpoint(string? endpoint, out string host, out int port)
    {
        host = string.Empty;
        port = 0;
        if (endpoint is null || !Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme != "tcp" || string.IsNullOrEmpty(uri.Host)
            || uri.Port is <= 0 or > 65535 || uri.AbsolutePath is not ("" or "/") || !string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.UserInfo))
        {
            return false;
        }

        host = uri.Host;
        port = uri.Port;
        return true;
    }

    private void Validate(string at, List<ConfigError> errors)
    {
        string P(string member) => ConfigError.Join(at, member);

        if (string.IsNullOrWhiteSpace(Name))
        {
            errors.Add(new(P(nameof(Name)), "must not be empty"));
        }

        var hasPort = !string.IsNullOrWhiteSpace(Port);
        var hasEndpoint = !string.IsNullOrWhiteSpace(Endpoint);
        if (hasPort == hasEndpoint)
        {
            errors.Add(new(at, hasPort
                ? $"has both Port '{Port}' and Endpoint '{Endpoint}'; set exactly one"
                : "needs a Port (serial device) or an Endpoint (tcp://host:port); set exactly one"));
        }

        if (hasEndpoint && !TryParseEndpoint(Endpoint, out _, out _))
        {
            errors.Add(new(P(nameof(Endpoint)), $"'{Endpoint}' is not tcp://host:port"));
        }

        if (hasPort && !StandardBaudRates.Contains(BaudRate))
        {
            errors.Add(new(P(nameof(BaudRate)), $"{BaudRate.ToString(CultureInfo.InvariantCulture)} is not a standard rate ({string.Join(", ", StandardBaudRates)})"));
        }

        ValidateInitString(P(nameof(InitString)), errors);

        // The same bounds as AtModemOptions' DataAnnotations, reported here with the JSON path.
        if (DialTimeout is { } dial && (dial < TimeSpan.FromSeconds(5) || dial > TimeSpan.FromMinutes(10)))
        {
            errors.Add(new(P(nameof(DialTimeout)), $"{dial} must be between 00:00:05 and 00:10:00 (null = S7 + margin)"));
        }

        if (CommandTimeout < TimeSpan.FromMilliseconds(100) || CommandTimeout > TimeSpan.FromMinutes(1))
        {
            errors.Add(new(P(nameof(CommandTimeout)), $"{CommandTimeout} must be between 00:00:00.100 and 00:01:00"));
        }

        if (EscapeGuardTime < TimeSpan.FromMilliseconds(20) || EscapeGuardTime > TimeSpan.FromSeconds(5))
        {
            errors.Add(new(P(nameof(EscapeGuardTime)), $"{EscapeGuardTime} must be between 00:00:00.020 and 00:00:05"));
        }

        if (Pools is null)
        {
            errors.Add(new(P(nameof(Pools)), "must be a list (may be empty: the default pool)"));
        }
        else
        {
            for (var p = 0; p < Pools.Count; p++)
            {
                if (string.IsNullOrWhiteSpace(Pools[p]))
                {
                    errors.Add(new($"{P(nameof(Pools))}[{p.ToString(CultureInfo.InvariantCulture)}]", "pool name must not be empty"));
                }
            }
        }

        if (ReservedForDialIn && !AnswerCalls)
        {
            errors.Add(new(P(nameof(ReservedForDialIn)), "a modem reserved for dial-in must also have AnswerCalls = true, or it would never be used"));
        }
    }

    private void ValidateInitString(string path, List<ConfigError> errors)
    {
        if (string.IsNullOrEmpty(InitString))
        {
            errors.Add(new(path, "must not be empty"));
            return;
        }

        if (!InitString.StartsWith("AT", StringComparison.OrdinalIgnoreCase))
        {
            errors.Add(new(path, $"'{InitString}' must start with AT"));
        }

        // CR/LF would end the command line early (V.250 §5.2.1, S3); ';' would chain a second command
        // line or, after a D, keep the modem in command state — neither belongs in an init string.
        if (InitString.IndexOfAny(['\r', '\n']) >= 0)
        {
            errors.Add(new(path, "must not contain CR or LF (the engine adds the line terminator)"));
        }

        if (InitString.Contains(';', StringComparison.Ordinal))
        {
            errors.Add(new(path, $"'{InitString.ReplaceLineEndings(" ")}' must not contain ';' (one command line only)"));
        }

        if (InitString.Any(c => c is < ' ' or > '~' && c is not ('\r' or '\n')))
        {
            errors.Add(new(path, "must hold printable ASCII only"));
        }
    }
}
