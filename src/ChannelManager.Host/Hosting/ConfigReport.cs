using ChannelManager.Core.Scheduling;

namespace ChannelManager.Host.Hosting;

/// <summary>How configuration errors are printed: one "JSON.path: message" line each, every one of them.</summary>
internal static class ConfigReport
{
    public static async Task WriteErrorsAsync(TextWriter writer, string configPath, IReadOnlyList<ConfigError> errors)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(errors);
        await writer.WriteLineAsync($"{configPath}: {errors.Count} configuration error(s):").ConfigureAwait(false);
        foreach (var e in errors)
        {
            await writer.WriteLineAsync($"  {e.Path}: {e.Message}").ConfigureAwait(false);
        }
    }

    /// <summary>Back from an options-validation failure string ("path: message").</summary>
    public static ConfigError Parse(string failure)
    {
        ArgumentNullException.ThrowIfNull(failure);
        var colon = failure.IndexOf(": ", StringComparison.Ordinal);
        return colon < 0 ? new ConfigError("$", failure) : new ConfigError(failure[..colon], failure[(colon + 2)..]);
    }
}
