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
}
