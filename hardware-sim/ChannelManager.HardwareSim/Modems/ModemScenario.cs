using System.Text.Json;
using System.Text.Json.Serialization;
using ChannelManager.Core.Transport;
using ChannelManager.HardwareSim.Exchange;

namespace ChannelManager.HardwareSim.Modems;

/// <summary>Turns a scenario's "callee" string into the program that answers data mode; null if it does not know it.</summary>
public delegate Func<IChannelTransport, CancellationToken, Task>? CalleeResolver(string callee);

/// <summary>A scenario file is wrong; <see cref="Field"/> is the JSON path of the value at fault.</summary>
public sealed class ScenarioException : Exception
{
    public ScenarioException(string field, string problem, Exception? innerException = null)
        : base($"{field}: {problem}", innerException)
    {
        Field = field;
    }

    public ScenarioException()
    {
        Field = string.Empty;
    }

    public ScenarioException(string message)
        : base(message)
    {
        Field = string.Empty;
    }

    public ScenarioException(string message, Exception innerException)
        : base(message, innerException)
    {
        Field = string.Empty;
    }

    public string Field { get; }
}

/// <summary>
/// A modem-bank scenario: the modems (behaviour tables) and the exchange's lines. JSON shape
/// (camelCase; see hardware-sim/scenarios/*.json):
/// <code>
/// { "modems": [ { "name": "M1", "echo": true, "verbose": true, "resultLevel": 4, "sRegisters": { "7": 30 },
///                 "fault": "None", "blacklistAfter": 3, "identification": ["33600", "…"] } ],
///   "lines": [ { "number": "01632960123", "behaviour": "Answer", "delay": "00:00:05", "callee": "echo" },
///              { "number": "01632960124", "behaviour": "Busy", "after": "00:00:02" },
///              { "number": "01632960125", "behaviour": "Sequence",
///                "sequence": [ { "behaviour": "Busy" }, { "behaviour": "Answer", "callee": "tcp://127.0.0.1:5020" } ] } ] }
/// </code>
/// Callees: "echo", "silent" (answers, never sends), "hangup" (answers, hangs up at once),
/// "tcp://host:port" (bridge to a TCP server), and whatever the caller's <see cref="CalleeResolver"/> knows
/// (for example "modbus:UNIT").
/// </summary>
public sealed class ModemScenario
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        PropertyNameCaseInsensitive = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    private ModemScenario(IReadOnlyList<ModemBehaviour> modems, IReadOnlyList<KeyValuePair<string, LineBehaviour>> lines)
    {
        Modems = modems;
        Lines = lines;
    }

    public IReadOnlyList<ModemBehaviour> Modems { get; }

    /// <summary>Number → behaviour, in file order.</summary>
    public IReadOnlyList<KeyValuePair<string, LineBehaviour>> Lines { get; }

    public static async Task<ModemScenario> LoadAsync(string path, CalleeResolver? resolver, CancellationToken ct)
    {
        string json;
        try
        {
            json = await File.ReadAllTextAsync(path, ct);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ScenarioException("$", $"cannot read scenario file {path}: {ex.Message}", ex);
        }

        return Parse(json, resolver);
    }

    /// <summary>Parses and validates; throws <see cref="ScenarioException"/> naming the first bad field.</summary>
    public static ModemScenario Parse(string json, CalleeResolver? resolver = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        ScenarioFile file;
        try
        {
            file = JsonSerializer.Deserialize<ScenarioFile>(json, Json) ?? throw new ScenarioException("$", "the scenario is empty (null)");
        }
        catch (JsonException ex)
        {
            throw new ScenarioException(ex.Path ?? "$", ex.Message, ex);
        }

        if (file.Modems is not { Count: > 0 } modems)
        {
            throw new ScenarioException("$.modems", "at least one modem is required");
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < modems.Count; i++)
        {
            if (modems[i] is not { } modem)
            {
                throw new ScenarioException($"$.modems[{i}]", "must be an object");
            }

            if (modem.Validate() is [var first, ..])
            {
                throw new ScenarioException($"$.modems[{i}].{first[..first.IndexOf(':', StringComparison.Ordinal)]}", first[(first.IndexOf(':', StringComparison.Ordinal) + 2)..]);
            }

            if (!names.Add(modem.Name))
            {
                throw new ScenarioException($"$.modems[{i}].name", $"duplicate modem name '{modem.Name}'");
            }
        }

        var lines = new List<KeyValuePair<string, LineBehaviour>>();
        var numbers = new HashSet<string>(StringComparer.Ordinal);
        var specs = file.Lines ?? [];
        for (var i = 0; i < specs.Count; i++)
        {
            var path = $"$.lines[{i}]";
            var spec = specs[i] ?? throw new ScenarioException(path, "must be an object");
            var number = PstnExchange.NormaliseNumber(spec.Number ?? string.Empty);
            if (number.Length == 0)
            {
                throw new ScenarioException($"{path}.number", "a number with at least one digit is required");
            }

            if (!numbers.Add(number))
            {
                throw new ScenarioException($"{path}.number", $"duplicate line {number}");
            }

            lines.Add(new(number, ToBehaviour(spec, path, resolver)));
        }

        return new ModemScenario(modems, lines);
    }

    /// <summary>The built-in callees plus the resolver's.</summary>
    public static Func<IChannelTransport, CancellationToken, Task>? ResolveCallee(string callee, CalleeResolver? resolver)
    {
        ArgumentNullException.ThrowIfNull(callee);
        if (resolver?.Invoke(callee) is { } custom)
        {
            return custom;
        }

        switch (callee)
        {
            case "echo":
                return EchoCallee.ServeAsync;
            case "silent":
                return SilentAsync;
            case "hangup":
                return (_, _) => Task.CompletedTask;
            default:
                if (callee.StartsWith("tcp://", StringComparison.Ordinal))
                {
                    var (host, port) = TcpBridgeCallee.ParseEndpoint(callee);
                    return TcpBridgeCallee.To(host, port);
                }

                return null;
        }
    }

    public ModemBehaviour SelectModem(string? name)
    {
        if (name is null)
        {
            return Modems[0];
        }

        return Modems.FirstOrDefault(m => m.Name == name)
            ?? throw new ScenarioException("--modem", $"no modem named '{name}' (have {string.Join(", ", Modems.Select(m => m.Name))})");
    }

    public void ConfigureExchange(PstnExchange exchange)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        foreach (var (number, behaviour) in Lines)
        {
            exchange.AddLine(number, behaviour);
        }
    }

    /// <summary>A callee that answers and never says anything (drives the host's command timeouts).</summary>
    private static async Task SilentAsync(IChannelTransport end, CancellationToken ct)
    {
        var buffer = new byte[256];
        try
        {
            while (await end.ReadAsync(buffer, ct) > 0)
            {
            }
        }
        catch (TransportFailureException)
        {
        }
    }

    private static LineBehaviour ToBehaviour(LineSpec spec, string path, CalleeResolver? resolver)
    {
        const string Kinds = "Answer, Busy, NoAnswer, NoCarrier, Silent, Sequence";
        var kind = spec.Behaviour ?? (spec.Sequence is not null ? "Sequence" : null)
            ?? throw new ScenarioException($"{path}.behaviour", $"required (one of {Kinds})");
        if (spec.Delay is { } d && d < TimeSpan.Zero)
        {
            throw new ScenarioException($"{path}.delay", "must not be negative");
        }

        if (spec.After is { } a && a < TimeSpan.Zero)
        {
            throw new ScenarioException($"{path}.after", "must not be negative");
        }

        var after = spec.After ?? TimeSpan.Zero;
        switch (kind.ToUpperInvariant())
        {
            case "ANSWER":
                if (string.IsNullOrWhiteSpace(spec.Callee))
                {
                    throw new ScenarioException($"{path}.callee", "required for Answer (echo, silent, hangup, tcp://host:port, …)");
                }

                Func<IChannelTransport, CancellationToken, Task>? serve;
                try
                {
                    serve = ResolveCallee(spec.Callee, resolver);
                }
                catch (FormatException ex)
                {
                    throw new ScenarioException($"{path}.callee", ex.Message, ex);
                }

                return new LineBehaviour.Answer(spec.Delay ?? TimeSpan.Zero, serve ?? throw new ScenarioException($"{path}.callee", $"unknown callee '{spec.Callee}'"));
            case "BUSY":
                return new LineBehaviour.Busy(after);
            case "NOANSWER":
                return new LineBehaviour.NoAnswer(after);
            case "NOCARRIER":
                return new LineBehaviour.NoCarrier(after);
            case "SILENT":
                return new LineBehaviour.Silent(spec.ModemStaysSilent ?? false);
            case "SEQUENCE":
                if (spec.Sequence is not { Count: > 0 } steps)
                {
                    throw new ScenarioException($"{path}.sequence", "a non-empty list of steps is required");
                }

                return new LineBehaviour.Sequence(steps.Select((step, j) =>
                    ToBehaviour(step ?? throw new ScenarioException($"{path}.sequence[{j}]", "must be an object"), $"{path}.sequence[{j}]", resolver)).ToArray());
            default:
                throw new ScenarioException($"{path}.behaviour", $"unknown behaviour '{kind}' (one of {Kinds})");
        }
    }

    private sealed class ScenarioFile
    {
        public List<ModemBehaviour>? Modems { get; set; }

        public List<LineSpec>? Lines { get; set; }
    }

    private sealed class LineSpec
    {
        public string? Number { get; set; }

        public string? Behaviour { get; set; }

        public TimeSpan? Delay { get; set; }

        public TimeSpan? After { get; set; }

        public string? Callee { get; set; }

        public bool? ModemStaysSilent { get; set; }

        public List<LineSpec>? Sequence { get; set; }
    }
}
