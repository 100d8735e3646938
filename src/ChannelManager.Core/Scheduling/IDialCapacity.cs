using ChannelManager.Core.Channels;

namespace ChannelManager.Core.Scheduling;

/// <summary>
/// How many polls the scheduler may have on the line at once per modem pool (issue 6 item 1: "dispatch with as much
/// concurrency as there are usable modems"). Follows modems going out of and back into service.
/// </summary>
public interface IDialCapacity
{
    /// <summary>Raised when the count may have changed (modem released, faulted, recovered, taken out of or returned to service).</summary>
    event EventHandler? Changed;

    /// <summary>Usable dial-out modems of <paramref name="pool"/> (null = default pool) now; <paramref name="changesAt"/> = when it may rise without <see cref="Changed"/> (a quarantine ending).</summary>
    int UsableModemCount(string? pool, out DateTimeOffset? changesAt);
}

/// <summary>The <see cref="ModemChannelManager"/>'s usable modems as the scheduler's capacity.</summary>
public sealed class ChannelManagerCapacity(ModemChannelManager channels) : IDialCapacity
{
    public event EventHandler? Changed
    {
        add => channels.UsableModemsChanged += value;
        remove => channels.UsableModemsChanged -= value;
    }

    public int UsableModemCount(string? pool, out DateTimeOffset? changesAt) => channels.UsableModemCount(pool, out changesAt);
}
