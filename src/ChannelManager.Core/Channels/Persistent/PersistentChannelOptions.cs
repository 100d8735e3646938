using System.ComponentModel.DataAnnotations;
using ChannelManager.Core.Scheduling;
using Microsoft.Extensions.Options;

namespace ChannelManager.Core.Channels.Persistent;

/// <summary>
/// One always-connected IP outstation's channel settings (docs/ip-outstations.md): the adaptive heartbeat (seed 001),
/// the reconnect strategy (seed 002, as a <see cref="BackoffOptions"/> so the scheduler's strategy objects are reused),
/// and how long a poll may wait for the link.
/// </summary>
public sealed class PersistentChannelOptions
{
    /// <summary>The outstation's name: the key of its learned heartbeat and the name in logs and events.</summary>
    [Required]
    public string Name { get; set; } = string.Empty;

    public HeartbeatOptions Heartbeat { get; set; } = new();

    /// <summary>
    /// Seed 002 CM_TIME_BASED_AUTO_RECONNECT_ALGORITHM: <c>None</c> (CMTR_NONE: only events — a lost link, a poll —
    /// trigger a connect), <c>Linear</c> or <c>ExponentialRandomized</c>; reset on a successful connect. The first
    /// reconnect after a lost link is immediate (the loss is the event); the strategy paces the failures after it.
    /// </summary>
    public BackoffOptions Reconnect { get; set; } = new()
    {
        Strategy = BackoffStrategyKind.ExponentialRandomized,
        Delay = TimeSpan.FromSeconds(5),
        Attempts = 6,
        AttemptsExceededDelay = TimeSpan.FromMinutes(5),
    };

    /// <summary>How long a poll waits for a connection (or for the polls ahead of it) before it returns a typed outcome.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan MaxPollWait { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// How many times a poll whose link dropped under it is run again on the new connection. Only polls that read
    /// (FC01-04) are re-run: a write whose reply was lost may have been done, so it returns its outcome instead.
    /// </summary>
    [Range(0, 5)]
    public int PollRetriesAfterReconnect { get; set; } = 1;

    /// <summary>Every invalid value, named by its JSON path (e.g. "Outstations[2]").</summary>
    public IReadOnlyList<ConfigError> Validate(string path = "")
    {
        var errors = new List<ConfigError>();
        errors.AddRange(ConfigError.FromAnnotations(this, path));

        if (Heartbeat is null)
            errors.Add(new(ConfigError.Join(path, nameof(Heartbeat)), "is required"));
        else
            errors.AddRange(Heartbeat.Validate(ConfigError.Join(path, nameof(Heartbeat))));

        var reconnectPath = ConfigError.Join(path, nameof(Reconnect));
        if (Reconnect is null)
        {
            errors.Add(new(reconnectPath, "is required"));
        }
        else
        {
            if (Reconnect.Strategy is not (BackoffStrategyKind.None or BackoffStrategyKind.Linear or BackoffStrategyKind.ExponentialRandomized))
                errors.Add(new(ConfigError.Join(reconnectPath, nameof(BackoffOptions.Strategy)), "must be None, Linear or ExponentialRandomized (seed 002's reconnect algorithms)"));
            if (Reconnect.PerCategory is { Count: > 0 })
                errors.Add(new(ConfigError.Join(reconnectPath, nameof(BackoffOptions.PerCategory)), "is not used for reconnects (every connect failure is a TransportFailure)"));
            errors.AddRange(Reconnect.Validate(reconnectPath));
        }

        return errors;
    }
}

/// <summary><c>.ValidateOnStart()</c> validator with "JSON.path: message" failures.</summary>
public sealed class PersistentChannelOptionsValidator(string sectionPath = "") : IValidateOptions<PersistentChannelOptions>
{
    public ValidateOptionsResult Validate(string? name, PersistentChannelOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate(sectionPath);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors.Select(e => e.ToString()));
    }
}
