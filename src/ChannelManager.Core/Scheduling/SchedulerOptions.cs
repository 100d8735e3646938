using System.ComponentModel.DataAnnotations;
using ChannelManager.Core.Protocols;
using Microsoft.Extensions.Options;

namespace ChannelManager.Core.Scheduling;

/// <summary>The poll scheduler's own settings (issue 6 item 1), bound from <c>"Scheduler": { … }</c>.</summary>
public sealed class SchedulerOptions
{
    /// <summary>
    /// Cap on polls running at once. With an <see cref="IDialCapacity"/> (<see cref="PollScheduler.Capacity"/>) the
    /// scheduler runs as many polls per pool as that pool has usable modems, never more than this cap (null = no cap);
    /// without one, this is the limit (null = 1).
    /// </summary>
    [Range(1, 1024)]
    public int? MaxConcurrency { get; set; }

    /// <summary>How long a due poll may wait for a free slot before it ends as <see cref="OutcomeCode.QueueTimeout"/> and is rescheduled.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan MaxQueueTime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Every invalid value as "path: message" (design.md §5 check-config).</summary>
    public IReadOnlyList<ConfigError> Validate(string path = "Scheduler")
    {
        return [.. ConfigError.FromAnnotations(this, path)];
    }
}

/// <summary><c>IValidateOptions</c> for <c>.ValidateOnStart()</c>, with the same "path: message" failures.</summary>
public sealed class SchedulerOptionsValidator(string sectionPath = "Scheduler") : IValidateOptions<SchedulerOptions>
{
    public ValidateOptionsResult Validate(string? name, SchedulerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate(sectionPath);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors.Select(e => e.ToString()));
    }
}

/// <summary>
/// A daily time window [Start, End) in the scheduler's time zone (<see cref="TimeProvider.LocalTimeZone"/>) outside
/// which no scheduled poll or retry is dialled — e.g. cheap-rate hours. Start after End crosses midnight.
/// On-demand polls ignore it: the operator asked for this call now.
/// </summary>
public sealed record DailyWindow(TimeOnly Start, TimeOnly End)
{
    public bool Contains(TimeOnly time) => Start < End ? time >= Start && time < End : time >= Start || time < End;

    /// <summary>The earliest instant at or after <paramref name="at"/> that lies inside the window.</summary>
    public DateTimeOffset NextOpening(DateTimeOffset at, TimeZoneInfo zone)
    {
        ArgumentNullException.ThrowIfNull(zone);
        var local = TimeZoneInfo.ConvertTime(at, zone);
        var time = TimeOnly.FromTimeSpan(local.TimeOfDay);
        if (Contains(time))
            return at;
        var day = local.Date;
        var opening = time < Start ? day + Start.ToTimeSpan() : day.AddDays(1) + Start.ToTimeSpan();
        return new DateTimeOffset(opening, zone.GetUtcOffset(opening));
    }
}

/// <summary>
/// How one outstation is polled (issue 6 item 1): every <see cref="Interval"/>, at <see cref="Priority"/> (higher
/// runs first when modems are short), optionally only inside <see cref="Window"/>; after a failure
/// <see cref="Backoff"/> says when to retry, and the repeat-call guard may only move that later.
/// </summary>
public sealed record OutstationSchedule(string Name, string Number, IProtocolDriver Driver, IReadOnlyList<ProtocolCommand> Commands, TimeSpan Interval, BackoffPolicy Backoff)
{
    /// <summary>Higher runs first; on-demand requests run before any scheduled poll.</summary>
    public int Priority { get; init; }

    /// <summary>The modem pool to dial from; null = the default pool.</summary>
    public string? Pool { get; init; }

    public DailyWindow? Window { get; init; }

    internal PollRequest ToRequest() => new(Name, Number, Driver, Commands, Pool);

    internal IEnumerable<ConfigError> Validate(string path)
    {
        if (string.IsNullOrWhiteSpace(Name))
            yield return new(ConfigError.Join(path, nameof(Name)), "is required");
        // Issue 10 item 3: the number goes into ATD, so only dial characters (one rule: DialString).
        if (Modems.DialString.Validate(Number) is { } badNumber)
            yield return new(ConfigError.Join(path, nameof(Number)), badNumber);
        if (Interval < TimeSpan.FromSeconds(1) || Interval > TimeSpan.FromDays(7))
            yield return new(ConfigError.Join(path, nameof(Interval)), $"must be between 00:00:01 and 7.00:00:00 (is {Interval})");
        if (Window is { } w && w.Start == w.End)
            yield return new(ConfigError.Join(path, nameof(Window)), "Start and End are equal: leave the window out to poll all day");
        if (Driver is null)
            yield return new(ConfigError.Join(path, nameof(Driver)), "is required");
        if (Backoff is null)
            yield return new(ConfigError.Join(path, nameof(Backoff)), "is required");
    }
}

/// <summary>Why an operator is alarmed (seed 000: "a message to the user's Inbox with the session results").</summary>
public enum AlarmKind : byte
{
    /// <summary>The outstation's back-off gave up: no automatic retries until a success or an operator action.</summary>
    RetriesExhausted = 1,

    /// <summary>The repeat-call guard locked the number (research §3.4): operator reset or the profile's auto-release.</summary>
    NumberLocked = 2,

    /// <summary>A modem refused the number itself (BLACKLISTED, DELAYED, call barred).</summary>
    ModemBlocked = 3,
}

/// <summary>One operator alarm, for the API and the host's log (issue 6 item 5).</summary>
public sealed record OperatorAlarm(DateTimeOffset At, AlarmKind Kind, string Outstation, string Number, string Cause)
{
    /// <summary>True when the alarm was raised before a restart and is reported again from the persisted ledger.</summary>
    public bool Restored { get; init; }
}

/// <summary>One outstation as the scheduler sees it (seed 003's last access/success/failure times included).</summary>
public sealed record OutstationStatus(
    string Name,
    string Number,
    int Priority,
    DateTimeOffset? NextDue,
    bool Running,
    int QueuedOnDemand,
    DateTimeOffset? PendingRetry,
    int FailedAttempts,
    bool Exhausted,
    DateTimeOffset? LastAccess,
    DateTimeOffset? LastSuccess,
    DateTimeOffset? LastFailure,
    OutcomeCode? LastOutcome,
    LedgerState NumberState);
