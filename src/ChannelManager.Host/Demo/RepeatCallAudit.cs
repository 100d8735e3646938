using System.Globalization;
using ChannelManager.Core.Scheduling;
using ChannelManager.HardwareSim.Exchange;

namespace ChannelManager.Host.Demo;

/// <summary>
/// Checks the simulated exchange's call log against a repeat-call profile, independently of the ledger that
/// enforced it: what the network saw is the evidence (research/repeat-call-rules.md §3.3).
/// </summary>
/// <remarks>
/// The exchange only knows whether a call was answered, not whether the protocol then succeeded, so it audits
/// the unanswered dials: per number, a run of consecutive dials that reached the line and were not answered
/// (a connected call ends the run) may hold at most <see cref="CountryProfile.MaxAttempts"/> dials, and dial k+1
/// must start at least <see cref="CountryProfile.GapAfter"/>(k) after dial k went on-hook. The ledger is
/// stricter (it also counts answered calls whose protocol failed), so a correct system always passes.
/// Dials the modem refused itself (NO DIALTONE, BLACKLISTED, DELAYED) never reached the line and are skipped.
/// </remarks>
internal static class RepeatCallAudit
{
    public static IReadOnlyList<string> Check(IReadOnlyList<CallRecord> callLog, CountryProfile profile)
    {
        ArgumentNullException.ThrowIfNull(callLog);
        ArgumentNullException.ThrowIfNull(profile);
        var violations = new List<string>();
        foreach (var number in callLog.Where(c => c.ReachedLine).GroupBy(c => c.Number, StringComparer.Ordinal))
        {
            var run = 0;
            DateTimeOffset? lastOnHook = null;
            foreach (var call in number.OrderBy(c => c.At))
            {
                if (call.Result == CallResult.Connected)
                {
                    run = 0;
                    lastOnHook = null;
                    continue;
                }

                if (run >= profile.MaxAttempts)
                    violations.Add($"{T(call.At)} {call.Number} on {call.ModemName}: unanswered dial {run + 1} in a row ({profile.Name} allows {profile.MaxAttempts})");
                else if (run > 0 && lastOnHook is { } onHook && call.At - onHook < profile.GapAfter(run))
                    violations.Add($"{T(call.At)} {call.Number} on {call.ModemName}: {(call.At - onHook).TotalSeconds:0.#} s after the previous unanswered dial ({profile.Name} needs {profile.GapAfter(run).TotalSeconds:0} s after failure {run})");
                run++;
                lastOnHook = call.EndedAt ?? call.At;
            }
        }

        return violations;
    }

    private static string T(DateTimeOffset at) => at.ToString("HH:mm:ss", CultureInfo.InvariantCulture);
}
