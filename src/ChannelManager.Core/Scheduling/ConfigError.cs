namespace ChannelManager.Core.Scheduling;

/// <summary>
/// One invalid configuration value, named by its JSON path (design.md §5 <c>check-config</c>:
/// "validates and prints every error with its JSON path"), e.g.
/// <c>Outstations[3].Backoff.Max: must be ≥ Initial (00:00:30)</c>.
/// </summary>
public readonly record struct ConfigError(string Path, string Message)
{
    public override string ToString() => $"{Path}: {Message}";

    internal static string Join(string prefix, string member) =>
        string.IsNullOrEmpty(prefix) ? member : $"{prefix}.{member}";

    /// <summary>
    /// The <see cref="System.ComponentModel.DataAnnotations"/> rules (<c>[Range]</c>, <c>[Required]</c>, …) of
    /// <paramref name="options"/>, each named by its JSON path under <paramref name="path"/>; a rule that names no
    /// member is reported at <paramref name="path"/> itself.
    /// </summary>
    public static IEnumerable<ConfigError> FromAnnotations(object options, string path)
    {
        ArgumentNullException.ThrowIfNull(options);
        var results = new List<System.ComponentModel.DataAnnotations.ValidationResult>();
        System.ComponentModel.DataAnnotations.Validator.TryValidateObject(options, new System.ComponentModel.DataAnnotations.ValidationContext(options), results, validateAllProperties: true);
        return results.SelectMany(r => r.MemberNames.DefaultIfEmpty(string.Empty)
            .Select(member => new ConfigError(string.IsNullOrEmpty(member) ? path : Join(path, member), r.ErrorMessage ?? "is invalid")));
    }
}
