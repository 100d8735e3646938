using System.Text.Json.Serialization;

namespace ChannelManager.HardwareSim.Modems;

/// <summary>
/// The behaviour table of one simulated modem: its stored profile (what ATZ restores), its
/// identification, and the fault to inject. Loadable from scenario JSON (<see cref="ModemScenario"/>).
/// <see cref="Fault"/> may be changed at run time from any thread (un-hang a hung modem, make it
/// answer ERROR to the init string); the profile values take effect at the next ATZ or start.
/// </summary>
public sealed class ModemBehaviour
{
    private volatile int _fault;

    /// <summary>Default S-register values (V.250 §6.2 and the Hayes set): S0 auto-answer rings, S2 escape character,
    /// S3 line terminator, S4 response formatting, S5 backspace, S6 wait for dial tone (s), S7 wait for carrier (s),
    /// S8 comma pause (s), S10 carrier loss delay (1/10 s), S12 escape guard time (1/50 s).</summary>
    public static IReadOnlyDictionary<int, int> DefaultSRegisters { get; } = new Dictionary<int, int>
    {
        [0] = 0, [1] = 0, [2] = 43, [3] = 13, [4] = 10, [5] = 8, [6] = 2, [7] = 50, [8] = 2, [10] = 14, [12] = 50,
    };

    public string Name { get; set; } = "M1";

    /// <summary>E1: echo command-state characters.</summary>
    public bool Echo { get; set; } = true;

    /// <summary>V1: verbose result codes ("\r\nOK\r\n"); V0: numeric ("0\r").</summary>
    public bool Verbose { get; set; } = true;

    /// <summary>Q1: send no result codes.</summary>
    public bool Quiet { get; set; }

    /// <summary>X level 0–4 (which result codes are reported; see ResultCodeText.ApplyLevel).</summary>
    public int ResultLevel { get; set; } = 4;

    /// <summary>&amp;D setting 0–2 (V.250 §6.2.9). Stored and reported; a pty has no DTR to act on.</summary>
    public int DtrMode { get; set; } = 2;

    /// <summary>Overrides of <see cref="DefaultSRegisters"/>, by register number.</summary>
    public Dictionary<int, int> SRegisters { get; init; } = [];

    /// <summary>The injected fault; changeable at run time.</summary>
    [JsonConverter(typeof(JsonStringEnumConverter<ModemFault>))]
    public ModemFault Fault
    {
        get => (ModemFault)_fault;
        set => _fault = (int)value;
    }

    /// <summary>After this many dial attempts to one number the modem answers BLACKLISTED (call barring, ETSI/BABT style); null = never.</summary>
    public int? BlacklistAfter { get; set; }

    /// <summary>The lines ATI0…ATI9 print (index = n); ATI is ATI0.</summary>
    public List<string> Identification { get; init; } = ["33600", "ChannelManager simulated modem", "V.250 test DCE"];

    /// <summary>The speed reported in "CONNECT 33600" and "CARRIER 33600".</summary>
    public int ConnectSpeed { get; set; } = 33600;

    /// <summary>Send CARRIER / PROTOCOL / COMPRESSION lines before CONNECT (verbose, X1+), as error-correcting modems do.</summary>
    public bool IntermediateResults { get; set; }

    /// <summary>Caller ID presentation in the stored profile (AT+CLIP / AT+VCID change it at run time).</summary>
    [JsonConverter(typeof(JsonStringEnumConverter<CallerIdFormat>))]
    public CallerIdFormat CallerId { get; set; }

    /// <summary>The value register <paramref name="n"/> starts with.</summary>
    public int SRegister(int n) => SRegisters.TryGetValue(n, out var v) ? v : DefaultSRegisters.GetValueOrDefault(n);

    /// <summary>A copy (one per TCP connection in process mode).</summary>
    public ModemBehaviour Clone() => new()
    {
        Name = Name,
        Echo = Echo,
        Verbose = Verbose,
        Quiet = Quiet,
        ResultLevel = ResultLevel,
        DtrMode = DtrMode,
        SRegisters = new Dictionary<int, int>(SRegisters),
        Fault = Fault,
        BlacklistAfter = BlacklistAfter,
        Identification = [.. Identification],
        ConnectSpeed = ConnectSpeed,
        IntermediateResults = IntermediateResults,
        CallerId = CallerId,
    };

    /// <summary>Checks the values a scenario file can get wrong; returns "field: problem" messages.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(Name))
        {
            errors.Add("name: must not be empty");
        }

        if (ResultLevel is < 0 or > 4)
        {
            errors.Add($"resultLevel: {ResultLevel} is not 0–4");
        }

        if (DtrMode is < 0 or > 2)
        {
            errors.Add($"dtrMode: {DtrMode} is not 0–2");
        }

        foreach (var (n, v) in SRegisters)
        {
            if (n is < 0 or > 255 || v is < 0 or > 255)
            {
                errors.Add($"sRegisters.{n}: register and value must be 0–255 (got S{n}={v})");
            }
        }

        if (BlacklistAfter is < 1)
        {
            errors.Add($"blacklistAfter: {BlacklistAfter} must be at least 1");
        }

        if (!Enum.IsDefined(Fault))
        {
            errors.Add($"fault: {(int)Fault} is not a ModemFault");
        }

        if (ConnectSpeed <= 0)
        {
            errors.Add($"connectSpeed: {ConnectSpeed} must be positive");
        }

        return errors;
    }
}
