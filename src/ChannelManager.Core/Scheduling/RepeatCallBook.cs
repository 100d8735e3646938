using System.Collections.Concurrent;

namespace ChannelManager.Core.Scheduling;

/// <summary>
/// The pool-wide repeat-call ledger (research/repeat-call-rules.md §3.1): one <see cref="NumberLedger"/> per
/// dialled number, whichever modem dials it. Check-and-record is atomic per number, so two concurrent
/// requests for one number cannot both pass the guard. In memory; the persisted store is the
/// Persistence layer's (issue 6), and it must record "attempt started" before ATD.
/// </summary>
public sealed class RepeatCallBook(CountryProfile profile)
{
    private readonly ConcurrentDictionary<string, NumberLedger> _ledgers = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<LedgerEvent> _events = new();

    public CountryProfile Profile { get; } = profile;

    /// <summary>Every ledger event so far (attempts, locks, alarms, resets), oldest first.</summary>
    public IReadOnlyCollection<LedgerEvent> Events => _events;

    public IReadOnlyDictionary<string, NumberLedger> Ledgers => _ledgers;

    /// <summary>Asks the guard; when allowed, records "attempt started" in the same step.</summary>
    public GuardDecision TryBeginAttempt(string number, DateTimeOffset now, string? modem = null)
    {
        while (true)
        {
            var current = _ledgers.GetOrAdd(number, n => new NumberLedger(n));
            var decision = RepeatCallGuard.Check(current, Profile, now, modem);
            if (!decision.Allowed)
            {
                return decision;
            }

            var update = RepeatCallGuard.RecordAttemptStarted(current, Profile, now, modem);
            if (_ledgers.TryUpdate(number, update.Ledger, current))
            {
                Publish(update);
                return decision;
            }
        }
    }

    /// <summary>Records the on-hook and outcome of the attempt begun by <see cref="TryBeginAttempt"/>.</summary>
    public void Complete(string number, AttemptResult result)
    {
        while (true)
        {
            var current = _ledgers[number];
            var update = RepeatCallGuard.RecordOutcome(current, Profile, result);
            if (_ledgers.TryUpdate(number, update.Ledger, current))
            {
                Publish(update);
                return;
            }
        }
    }

    private void Publish(LedgerUpdate update)
    {
        foreach (var e in update.Events)
        {
            _events.Enqueue(e);
        }
    }
}
