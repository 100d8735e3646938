using System.Globalization;
using ChannelManager.Core.Scheduling;
using ChannelManager.HardwareSim.Exchange;

namespace ChannelManager.Benchmarks.Scale;

/// <summary>
/// An independent check of the exchange's call log against a repeat-call profile (research/repeat-call-rules.md):
/// per number, after the nth consecutive failed call that reached the line the next one may start only
/// <see cref="CountryProfile.GapAfter"/> after it ended, and after the profile's maximum (lock, no auto-release
/// elapsed) no further call may go out. A connected call resets the sequence. It sees only what the exchange saw, so
/// it is weaker than the ledger (a connected call whose Modbus exchange failed still counts for the ledger) — a
/// violation here is a real one.
/// </summary>
internal static class RepeatCallOracle
{
    public static IReadOnlyList<string> Check(IEnumerable<CallRecord> log, CountryProfile profile)
    {
        var violations = new List<string>();
        foreach (var calls in log.Where(c => c.ReachedLine).GroupBy(c => c.Number))
        {
            var failures = 0;
            DateTimeOffset? lastEnd = null;
            DateTimeOffset? lockedAt = null;
            foreach (var c in calls.OrderBy(c => c.At))
            {
                if (lastEnd is { } ended && failures > 0)
                {
                    var allowed = ended + profile.GapAfter(failures);
                    if (c.At < allowed)
                        violations.Add(F($"{c.Number}: call at {c.At:O} on {c.ModemName} only {(c.At - ended).TotalSeconds:F0} s after failure {failures} (needs {profile.GapAfter(failures).TotalSeconds:F0} s)"));
                }

                if (lockedAt is { } locked && (profile.AutoRelease is not { } release || c.At < locked + release))
                    violations.Add(F($"{c.Number}: call at {c.At:O} after {failures} failures locked the number at {locked:O}"));

                if (c.Result == CallResult.Connected)
                {
                    failures = 0;
                    lockedAt = null;
                }
                else
                {
                    failures++;
                    if (lockedAt is { } l && profile.AutoRelease is { } ar && c.At >= l + ar)
                        (failures, lockedAt) = (1, null);
                    if (profile.AfterMax == LockKind.Locked && failures >= profile.MaxAttempts)
                        lockedAt ??= c.EndedAt ?? c.At;
                }

                lastEnd = c.EndedAt ?? c.At;
            }
        }

        return violations;
    }

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
