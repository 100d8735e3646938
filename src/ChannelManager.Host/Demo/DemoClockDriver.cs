using ChannelManager.Core.Scheduling;

namespace ChannelManager.Host.Demo;

/// <summary>
/// Decides when the demo's <see cref="SkipAheadTimeProvider"/> may jump: only when the whole system is idle —
/// no poll running or queued on demand, no call open on the exchange, no operator request outstanding — and
/// then only to the earliest moment something is due (a scheduled poll or retry, a scripted operator action,
/// or the end of the run). Skipping to exactly that moment fires the scheduler's own timer, so the scheduler
/// still decides everything; the clock merely does not sit through the idle gap in real time.
/// </summary>
internal static class DemoClockDriver
{
    /// <summary>Where to skip to now, or null when something is in progress or due already (let real time run).</summary>
    public static DateTimeOffset? NextSkip(DateTimeOffset now, IReadOnlyList<OutstationStatus> outstations, bool busyElsewhere, IEnumerable<DateTimeOffset> pending, DateTimeOffset end)
    {
        ArgumentNullException.ThrowIfNull(outstations);
        ArgumentNullException.ThrowIfNull(pending);
        if (busyElsewhere || outstations.Any(o => o.Running || o.QueuedOnDemand > 0))
            return null;
        var target = end;
        foreach (var due in outstations.Select(o => o.NextDue).OfType<DateTimeOffset>().Concat(pending))
        {
            if (due < target)
                target = due;
        }

        return target > now ? target : null;
    }
}
