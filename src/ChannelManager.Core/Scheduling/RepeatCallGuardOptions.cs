using System.ComponentModel.DataAnnotations;

namespace ChannelManager.Core.Scheduling;

/// <summary>
/// <c>"RepeatCallGuard": { "Profile": "UK" }</c> (design.md §6). Profile names are those of
/// <see cref="CountryProfiles"/>; "UK+GSM" adds the GSM rules to a PSTN profile (the stricter value wins).
/// </summary>
public sealed class RepeatCallGuardOptions
{
    [Required]
    public string Profile { get; set; } = CountryProfiles.Default.Name;

    public CountryProfile ResolveProfile() => CountryProfiles.Get(Profile);

    public IReadOnlyList<ConfigError> Validate(string path = "RepeatCallGuard")
    {
        var errors = new List<ConfigError>();
        var profilePath = ConfigError.Join(path, nameof(Profile));
        if (string.IsNullOrWhiteSpace(Profile))
            errors.Add(new(profilePath, "is required (e.g. \"UK\")"));
        else if (CountryProfiles.Find(Profile) is null)
            errors.Add(new(profilePath, $"unknown profile '{Profile}'; known: {string.Join(", ", CountryProfiles.All.Keys.Order(StringComparer.Ordinal))} (combine with '+')"));
        return errors;
    }
}
