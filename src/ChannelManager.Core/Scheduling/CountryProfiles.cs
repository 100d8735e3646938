using System.Collections.Immutable;

namespace ChannelManager.Core.Scheduling;

/// <summary>
/// The built-in repeat-call profiles of research/repeat-call-rules.md §3.3. UK (conservative) is the default:
/// it meets every regime in §1 except the US 2-attempt rule (which ships its own profile). Secondary-source
/// figures are marked in <see cref="CountryProfile.Source"/>; re-verify before claiming approval.
/// </summary>
public static class CountryProfiles
{
    private static TimeSpan S(int seconds) => TimeSpan.FromSeconds(seconds);

    private static TimeSpan M(int minutes) => TimeSpan.FromMinutes(minutes);

    /// <summary>UK-default: 4 attempts, gaps 2/4/6 min (the FR pattern), permanent lock until a logged operator reset.</summary>
    public static CountryProfile UK { get; } = new()
    {
        Name = "UK", MaxAttempts = 4, Gaps = [M(2), M(4), M(6)], AfterMax = LockKind.Locked, AutoRelease = null,
        Source = "research §3.3 UK-default (conservative; no numeric UK limit found in BS 6789)",
    };

    /// <summary>Germany (BZT/BAPT Wahlsperre): 12 attempts, 30 s Wahlpause, locked 120 min after the last attempt.</summary>
    public static CountryProfile DE { get; } = new()
    {
        Name = "DE", MaxAttempts = 12, Gaps = [S(30)], AfterMax = LockKind.Locked, AutoRelease = M(120), ReleaseFrom = ReleaseAnchor.LastOnHook,
        Source = "de.wikipedia Wahlsperre; ELSA MicroLink manuals (secondary)",
    };

    /// <summary>France: 6 attempts (5 retries), gap 2k min after failure k, permanent lock.</summary>
    public static CountryProfile FR { get; } = new()
    {
        Name = "FR", MaxAttempts = 6, Gaps = [M(2), M(4), M(6), M(8), M(10)], AfterMax = LockKind.Locked,
        Source = "MultiTech V.25bis country appendix (secondary)",
    };

    /// <summary>
    /// USA 47 CFR 68.318(b): 2 successive attempts, or 15 if every failure was busy/reorder; no minimum gap;
    /// locked 60 min. (b)(4)'s "one more answered call" is implied: an answered-incompatible failure is not BUSY,
    /// so the 2-attempt limit applies.
    /// </summary>
    public static CountryProfile US { get; } = new()
    {
        Name = "US", MaxAttempts = 2, AllBusyMaxAttempts = 15, Gaps = [], AfterMax = LockKind.Locked, AutoRelease = M(60),
        Source = "47 CFR 68.318(b) (verified)",
    };

    /// <summary>Australia AS/CA S002:2010 cl. 5.3.5.5: 15 including the initial call, ≥ 5 s off-line, no automatic re-initiation.</summary>
    public static CountryProfile AU { get; } = new()
    {
        Name = "AU", MaxAttempts = 15, Gaps = [S(5)], AfterMax = LockKind.Locked, MinModemOnHook = S(10),
        Source = "AS/CA S002:2010 cl. 5.3.5.5 (verified)",
    };

    /// <summary>New Zealand Telepermit PTC 200 cl. 8.1: ≤ 10 calls to a number in any 30 min, ≥ 30 s on-hook between attempts.</summary>
    public static CountryProfile NZ { get; } = new()
    {
        Name = "NZ", MaxAttempts = 10, Gaps = [S(30)], AfterMax = LockKind.Waiting, RollingWindow = M(30),
        Source = "Telepermit PTC 200 cl. 8.1 (numbers secondary)",
    };

    /// <summary>EU fallback: 15 attempts, 5 s (Dialogic's "most European countries"); not found in ETSI text, so lock until operator.</summary>
    public static CountryProfile EU { get; } = new()
    {
        Name = "EU", MaxAttempts = 15, Gaps = [S(5)], AfterMax = LockKind.Locked,
        Source = "Dialogic NaturalAccess NCC manual (secondary, unverified against ETSI)",
    };

    /// <summary>Belgium: 5 attempts, 60 s, locked 60 min.</summary>
    public static CountryProfile BE { get; } = new()
    {
        Name = "BE", MaxAttempts = 5, Gaps = [S(60)], AfterMax = LockKind.Locked, AutoRelease = M(60),
        Source = "MultiTech V.25bis country appendix (secondary)",
    };

    /// <summary>Switzerland: 5 attempts, 120 s, 5 s on-hook after every call, permanent lock (the stricter of MultiTech/ELSA).</summary>
    public static CountryProfile CH { get; } = new()
    {
        Name = "CH", MaxAttempts = 5, Gaps = [S(120)], AfterMax = LockKind.Locked,
        Source = "MultiTech MultiModemBL p.152; ELSA manuals (secondary)",
    };

    /// <summary>Italy (and Singapore): 10 attempts, 5 immediate then 2 min, locked 120 min from the first failure.</summary>
    public static CountryProfile IT { get; } = new()
    {
        Name = "IT", MaxAttempts = 10, Gaps = [S(0), S(0), S(0), S(0), S(0), M(2)], AfterMax = LockKind.Locked,
        AutoRelease = M(120), ReleaseFrom = ReleaseAnchor.FirstFailure,
        Source = "MultiTech V.25bis country appendix (secondary)",
    };

    /// <summary>
    /// GSM/UMTS 3GPP TS 22.001 Annex E, categories 1/2: 10 repeats (11 attempts); 1st repeat ≥ 5 s (busy) or
    /// ≥ 1 min — we use 1 min for both (stricter) — 2nd–3rd ≥ 1 min, 4th–10th ≥ 3 min; blacklisted until cleared.
    /// Category 3 (single repeat) needs 24.008 cause values our outcomes do not carry. Use
    /// <c>Get("UK+GSM")</c> to add it to the PSTN profile in use.
    /// </summary>
    public static CountryProfile GSM { get; } = new()
    {
        Name = "GSM", MaxAttempts = 11, Gaps = [M(1), M(1), M(1), M(3)], AfterMax = LockKind.Locked,
        Source = "GSM 02.07 Annex A cause lists (verified); intervals from a phone manual (secondary, verify against 22.001)",
    };

    public static CountryProfile Default => UK;

    public static IReadOnlyDictionary<string, CountryProfile> All { get; } =
        new[] { UK, DE, FR, US, AU, NZ, EU, BE, CH, IT, GSM }.ToImmutableDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);

    /// <summary>A profile by name, case-insensitive; "A+B" combines two with <see cref="CountryProfile.StricterWith"/>. Null if unknown.</summary>
    public static CountryProfile? Find(string? name)
    {
        if (string.IsNullOrWhiteSpace(name))
            return null;
        var parts = name.Split('+', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        CountryProfile? result = null;
        foreach (var part in parts)
        {
            if (!All.TryGetValue(part, out var p))
                return null;
            result = result is null ? p : result.StricterWith(p);
        }
        return result;
    }

    /// <summary>Like <see cref="Find"/>, but an unknown name is a configuration error.</summary>
    public static CountryProfile Get(string name) =>
        Find(name) ?? throw new ArgumentException($"Unknown repeat-call profile '{name}'. Known: {string.Join(", ", All.Keys.Order(StringComparer.Ordinal))}; combine with '+'.", nameof(name));
}
