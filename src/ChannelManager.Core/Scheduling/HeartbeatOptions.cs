using System.ComponentModel.DataAnnotations;
using System.Globalization;
using Microsoft.Extensions.Options;

namespace ChannelManager.Core.Scheduling;

/// <summary>
/// Seed 001's four Direct Push parameters (HeartbeatDefault, HeartbeatIncrement, HeartbeatMin, HeartbeatMax) plus the
/// two knobs our <see cref="AdaptiveHeartbeat"/> adds, bound from <c>"Heartbeat": { … }</c> of an IP outstation
/// (docs/ip-outstations.md). Defaults are seed 001's example figures scaled for carrier NATs: start at 8 min, never
/// below 8 or above 28 min, 5 min steps.
/// </summary>
public sealed class HeartbeatOptions
{
    /// <summary>Seed 001 HeartbeatDefault: "The heartbeat interval starts with number of seconds identified as the HeartbeatDefault".</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "1.00:00:00")]
    public TimeSpan Default { get; set; } = TimeSpan.FromMinutes(8);

    /// <summary>Seed 001 HeartbeatIncrement: "the maximum amount that the interval can be increased or decreased".</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "12:00:00")]
    public TimeSpan Increment { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Seed 001 HeartbeatMin.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "1.00:00:00")]
    public TimeSpan Min { get; set; } = TimeSpan.FromMinutes(8);

    /// <summary>Seed 001 HeartbeatMax (the Exchange server's own default cap is 45 min).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "1.00:00:00")]
    public TimeSpan Max { get; set; } = TimeSpan.FromMinutes(28);

    /// <summary>
    /// Seed 001: "The device waits for successive round trips before attempting to adjust the heartbeat interval."
    /// Successful heartbeats in a row at one interval before it is raised.
    /// </summary>
    [Range(1, 100)]
    public int SuccessesBeforeRaise { get; set; } = 2;

    /// <summary>
    /// Once the interval has settled just below the remembered failure, how many successful heartbeats in a row before
    /// it tries the remembered failed interval once more (the NAT may have become more generous). <c>null</c> = never
    /// re-probe: the interval then only ever adapts downwards after it has settled.
    /// </summary>
    [Range(1, 100_000)]
    public int? ReprobeAfterSuccesses { get; set; } = 30;

    /// <summary>Every invalid value, each named by its JSON path under <paramref name="path"/> (e.g. "Outstations[2].Heartbeat").</summary>
    public IReadOnlyList<ConfigError> Validate(string path = "Heartbeat")
    {
        var errors = new List<ConfigError>();
        errors.AddRange(ConfigError.FromAnnotations(this, path));

        if (Max < Min)
            errors.Add(new(ConfigError.Join(path, nameof(Max)), $"must be ≥ Min ({Format(Min)})"));
        else if (Default < Min || Default > Max)
            errors.Add(new(ConfigError.Join(path, nameof(Default)), $"must be between Min ({Format(Min)}) and Max ({Format(Max)})"));
        return errors;
    }

    private static string Format(TimeSpan t) => t.ToString("c", CultureInfo.InvariantCulture);
}

/// <summary><c>.ValidateOnStart()</c> validator with "JSON.path: message" failures, like <see cref="BackoffOptionsValidator"/>.</summary>
public sealed class HeartbeatOptionsValidator(string sectionPath = "Heartbeat") : IValidateOptions<HeartbeatOptions>
{
    public ValidateOptionsResult Validate(string? name, HeartbeatOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate(sectionPath);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors.Select(e => e.ToString()));
    }
}
