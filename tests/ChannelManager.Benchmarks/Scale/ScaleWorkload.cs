using System.Text.Json;
using System.Text.Json.Serialization;

namespace ChannelManager.Benchmarks.Scale;

/// <summary>
/// A scale-simulation workload (workloads/*.json, camelCase; comments allowed). Every random choice comes from
/// <see cref="Seed"/>, so a run is reproducible.
/// </summary>
internal sealed record ScaleWorkload
{
    public int Outstations { get; init; } = 10_000;

    public int Modems { get; init; } = 64;

    public double Hours { get; init; } = 24;

    public int Seed { get; init; } = 1;

    /// <summary>Repeat-call profile (CountryProfiles), e.g. "UK".</summary>
    public string Profile { get; init; } = "UK";

    /// <summary>Poll intervals and the share of outstations on each (shares need not sum to 1; they are weights).</summary>
    public List<IntervalShare> Intervals { get; init; } = [new(TimeSpan.FromHours(4), 1)];

    /// <summary>Time from ATD to CONNECT (ringing + training), uniform in [min, max].</summary>
    public TimeSpan AnswerDelayMin { get; init; } = TimeSpan.FromSeconds(8);

    public TimeSpan AnswerDelayMax { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Modbus FC3 commands per poll (10 registers each) and the outstation's turnaround per request.</summary>
    public int CommandsPerPoll { get; init; } = 6;

    public TimeSpan Turnaround { get; init; } = TimeSpan.FromMilliseconds(300);

    /// <summary>Numbers busy on a share of calls (intermittent), and that share.</summary>
    public double BusyNumbers { get; init; } = 0.08;

    public double BusyShare { get; init; } = 0.3;

    public TimeSpan BusyAfter { get; init; } = TimeSpan.FromSeconds(6);

    /// <summary>Numbers that ring out on a share of calls, and that share.</summary>
    public double NoAnswerNumbers { get; init; } = 0.05;

    public double NoAnswerShare { get; init; } = 0.3;

    public TimeSpan NoAnswerAfter { get; init; } = TimeSpan.FromSeconds(40);

    /// <summary>Numbers that never answer: they hit the repeat-call guard (UK: four attempts, then locked).</summary>
    public double DeadNumbers { get; init; } = 0.005;

    /// <summary>Outstations that answer each request only after <see cref="SlowTurnaround"/>.</summary>
    public double SlowOutstations { get; init; } = 0.05;

    public TimeSpan SlowTurnaround { get; init; } = TimeSpan.FromSeconds(1.5);

    /// <summary>Faulty modems by simulator fault name (NoDialTone, InitError, Delayed, ...), one modem each.</summary>
    public List<string> FaultyModems { get; init; } = ["NoDialTone", "InitError"];

    /// <summary>A modem stays on-hook this long between calls (ChannelManagerOptions.MinOnHookTime).</summary>
    public TimeSpan MinOnHookTime { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxQueueTime { get; init; } = TimeSpan.FromMinutes(30);

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public static ScaleWorkload Load(string path)
    {
        var w = JsonSerializer.Deserialize<ScaleWorkload>(File.ReadAllText(path), Json) ?? throw new InvalidDataException($"{path}: empty workload");
        if (w.Outstations < 1 || w.Modems < 1 || w.Hours <= 0 || w.Intervals.Count == 0)
            throw new InvalidDataException($"{path}: outstations, modems, hours and intervals must be positive");
        return w;
    }

    public ScaleWorkload With(int? outstations, int? modems, double? hours) =>
        this with { Outstations = outstations ?? Outstations, Modems = modems ?? Modems, Hours = hours ?? Hours };
}

internal sealed record IntervalShare(TimeSpan Interval, double Share);
