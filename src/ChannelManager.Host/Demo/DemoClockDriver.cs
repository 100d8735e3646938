using ChannelManager.Core.Scheduling;

namespace ChannelManager.Host.Demo;

/// <summary>
/// Decides when the demo's <see cref="SkipAheadTimeProvider"/> may jump: only when the whole system is idle —
/// no poll running or queued on demand, no call open on the exchange, no operator request outstanding — and
/// the scheduler has parked, and then only to the earliest moment something is due (the scheduler's own timer,
/// a scripted operator action, or the end of the run). Firing the scheduler's own timer means the scheduler
/// still decides everything; the clock merely does not sit through the idle gap in real time.
/// </summary>
/// <remarks>
/// "Parked" matters: the scheduler reads the clock, plans, then arms <c>Task.Delay(wakeAt − now)</c>. A jump between
/// the read and the arming would push its timer late by the jump. It is parked once a clock timer due at its next
/// due time (within <see cref="TimerRounding"/> before and <see cref="ArmingSlack"/> after: the real time between
/// the read and the arming) exists. If that is
/// never seen (the scheduler waits for something else), <paramref name="patienceExpired"/> falls back to jumping to
/// the earliest pending timer — plain discrete-event simulation — so the run always progresses.
/// </remarks>
internal static class DemoClockDriver
{
    /// <summary>How much later than the scheduler's next due time its timer may be due (the real time its loop took to arm it).</summary>
    public static readonly TimeSpan ArmingSlack = TimeSpan.FromSeconds(2);

    /// <summary>Task.Delay rounds its delay to whole milliseconds, so the scheduler's timer may be due a hair before its due time.</summary>
    public static readonly TimeSpan TimerRounding = TimeSpan.FromMilliseconds(2);

    /// <summary>Where to skip to now, or null when something is in progress, due already, or the scheduler has not parked yet.</summary>
    public static DateTimeOffset? NextSkip(
        DateTimeOffset now,
        IReadOnlyList<OutstationStatus> outstations,
        bool busyElsewhere,
        IEnumerable<DateTimeOffset> pending,
        DateTimeOffset end,
        IReadOnlyCollection<DateTimeOffset> timers,
        bool patienceExpired)
    {
        ArgumentNullException.ThrowIfNull(outstations);
        ArgumentNullException.ThrowIfNull(pending);
        ArgumentNullException.ThrowIfNull(timers);
        if (busyElsewhere || outstations.Any(o => o.Running || o.QueuedOnDemand > 0))
            return null;
        var target = pending.Append(end).Min();
        if (outstations.Select(o => o.NextDue).OfType<DateTimeOffset>().DefaultIfEmpty(DateTimeOffset.MaxValue).Min() is var nextDue && nextDue != DateTimeOffset.MaxValue)
        {
            if (nextDue <= now)
                return null; // Due now: the scheduler is about to dispatch it.
            var armed = timers.Where(t => t >= nextDue - TimerRounding && t <= nextDue + ArmingSlack).DefaultIfEmpty(DateTimeOffset.MaxValue).Min();
            if (armed != DateTimeOffset.MaxValue)
                target = Min(target, armed);
            else if (patienceExpired)
                target = Min(target, timers.Where(t => t > now).DefaultIfEmpty(nextDue).Min());
            else
                return null; // The scheduler has not armed its timer yet.
        }

        return target > now ? target : null;
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;
}
