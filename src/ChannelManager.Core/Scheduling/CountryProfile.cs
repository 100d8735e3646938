using System.Collections.Immutable;

namespace ChannelManager.Core.Scheduling;

/// <summary>What a profile does once a number's attempts reach <see cref="CountryProfile.MaxAttempts"/> (research/repeat-call-rules.md §3.3 "After max").</summary>
public enum LockKind
{
    /// <summary>No automatic dialling until an operator reset, or <see cref="CountryProfile.AutoRelease"/> where the regime allows it.</summary>
    Locked,

    /// <summary>Rolling window (NZ PTC 200: ≤ 10 calls in any 30 min): the number waits until the oldest attempt leaves the window.</summary>
    Waiting,
}

/// <summary>The instant an auto-release timer starts from.</summary>
public enum ReleaseAnchor
{
    /// <summary>On-hook of the last attempt (DE Wahlsperre "120 min with no dial attempt"; US 68.318 "60 min after the 2nd or 15th attempt").</summary>
    LastOnHook,

    /// <summary>On-hook of the first failure of the sequence (IT: "120 min timer started when the number enters the delay list").</summary>
    FirstFailure,
}

/// <summary>
/// One regime's automatic repeat-call limits as data (research/repeat-call-rules.md §1, §3.3). Attempts count
/// dials that reached the line, including the initial call; gap k = on-hook of failure k to off-hook of the
/// next attempt; the last gap repeats.
/// </summary>
public sealed record CountryProfile
{
    public required string Name { get; init; }

    /// <summary>Attempts per sequence including the initial one (for <see cref="LockKind.Waiting"/>: per <see cref="RollingWindow"/>).</summary>
    public required int MaxAttempts { get; init; }

    /// <summary>Minimum on-hook-to-off-hook gap after failure k (index k−1); the last entry repeats. Empty = no per-number gap.</summary>
    public required ImmutableArray<TimeSpan> Gaps { get; init; }

    public LockKind AfterMax { get; init; } = LockKind.Locked;

    /// <summary><c>null</c> = only an operator (or a success on a call we did not place automatically) clears the lock.</summary>
    public TimeSpan? AutoRelease { get; init; }

    public ReleaseAnchor ReleaseFrom { get; init; } = ReleaseAnchor.LastOnHook;

    /// <summary>NZ: the window <see cref="MaxAttempts"/> applies to.</summary>
    public TimeSpan? RollingWindow { get; init; }

    /// <summary>US 47 CFR 68.318(b)(1): 15 attempts instead of 2 when every failure of the sequence was BUSY (or reorder).</summary>
    public int? AllBusyMaxAttempts { get; init; }

    /// <summary>
    /// Line rule for the Channel Manager, not per number: after any on-hook the same modem stays on-hook at least
    /// this long (research §3.3: CH 5 s, AU 5 s, Citect ModemRetryDelay 10 s, VTScada DialResetTime 10 s).
    /// </summary>
    public TimeSpan MinModemOnHook { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Where the numbers come from and whether they were verified (research §1 "Source (status)").</summary>
    public string Source { get; init; } = "";

    /// <summary>The gap after failure <paramref name="failure"/> (1-based).</summary>
    public TimeSpan GapAfter(int failure)
    {
        if (Gaps.IsDefaultOrEmpty || failure < 1)
            return TimeSpan.Zero;
        return Gaps[Math.Min(failure, Gaps.Length) - 1];
    }

    /// <summary>
    /// The stricter of two profiles, value by value (research §1 GSM row: "added to the PSTN profile in use";
    /// §1 Switzerland: "they disagree: use the stricter"). A Locked lock beats a window; no auto-release beats any.
    /// </summary>
    public CountryProfile StricterWith(CountryProfile other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var length = Math.Max(Math.Max(Gaps.Length, other.Gaps.Length), 1);
        var gaps = Enumerable.Range(1, length).Select(k => Max(GapAfter(k), other.GapAfter(k))).ToImmutableArray();
        var locked = AfterMax == LockKind.Locked || other.AfterMax == LockKind.Locked;
        var maxAttempts = Math.Min(MaxAttempts, other.MaxAttempts);
        // The all-BUSY allowance survives only as far as both profiles allow it.
        var allBusy = Math.Min(AllBusyMaxAttempts ?? MaxAttempts, other.AllBusyMaxAttempts ?? other.MaxAttempts);
        return new CountryProfile
        {
            Name = $"{Name}+{other.Name}",
            MaxAttempts = maxAttempts,
            Gaps = gaps,
            AfterMax = locked ? LockKind.Locked : LockKind.Waiting,
            AutoRelease = AutoRelease is null || other.AutoRelease is null ? null : Max(AutoRelease.Value, other.AutoRelease.Value),
            // Both anchors: take the later one by preferring LastOnHook (it is never earlier than the first failure).
            ReleaseFrom = ReleaseAnchor.LastOnHook,
            RollingWindow = locked ? null : Max(RollingWindow ?? TimeSpan.Zero, other.RollingWindow ?? TimeSpan.Zero),
            AllBusyMaxAttempts = allBusy > maxAttempts ? allBusy : null,
            MinModemOnHook = Max(MinModemOnHook, other.MinModemOnHook),
            Source = $"stricter of [{Source}] and [{other.Source}]",
        };
    }

    /// <summary>Structural checks (for custom profiles built from config); each error names its path.</summary>
    public IReadOnlyList<ConfigError> Validate(string path)
    {
        var errors = new List<ConfigError>();
        if (string.IsNullOrWhiteSpace(Name))
            errors.Add(new(ConfigError.Join(path, nameof(Name)), "must not be empty"));
        if (MaxAttempts is < 1 or > 100)
            errors.Add(new(ConfigError.Join(path, nameof(MaxAttempts)), "must be between 1 and 100"));
        if (MaxAttempts > NumberLedger.RingCapacity && AfterMax == LockKind.Waiting)
            errors.Add(new(ConfigError.Join(path, nameof(MaxAttempts)), $"a rolling window can track at most {NumberLedger.RingCapacity} attempts"));
        if (Gaps.IsDefault)
            errors.Add(new(ConfigError.Join(path, nameof(Gaps)), "must be set (may be empty)"));
        else
        {
            for (var i = 0; i < Gaps.Length; i++)
            {
                if (Gaps[i] < TimeSpan.Zero)
                    errors.Add(new($"{ConfigError.Join(path, nameof(Gaps))}[{i}]", "must not be negative"));
            }
        }
        if (AutoRelease is { } r && r <= TimeSpan.Zero)
            errors.Add(new(ConfigError.Join(path, nameof(AutoRelease)), "must be > 00:00:00 (null = operator only)"));
        if (AfterMax == LockKind.Waiting && RollingWindow is not { } w)
            errors.Add(new(ConfigError.Join(path, nameof(RollingWindow)), "is required when AfterMax is Waiting"));
        else if (RollingWindow is { } window && window <= TimeSpan.Zero)
            errors.Add(new(ConfigError.Join(path, nameof(RollingWindow)), "must be > 00:00:00"));
        if (AllBusyMaxAttempts is { } busy && (busy < MaxAttempts || busy > NumberLedger.RingCapacity))
            errors.Add(new(ConfigError.Join(path, nameof(AllBusyMaxAttempts)), $"must be between MaxAttempts ({MaxAttempts}) and {NumberLedger.RingCapacity}"));
        if (MinModemOnHook < TimeSpan.Zero)
            errors.Add(new(ConfigError.Join(path, nameof(MinModemOnHook)), "must not be negative"));
        return errors;
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
