using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using ChannelManager.Core.Persistence;

namespace ChannelManager.Core.Scheduling;

/// <summary>
/// The pool-wide repeat-call ledger (research/repeat-call-rules.md §3.1): one <see cref="NumberLedger"/> per
/// dialled number, whichever modem dials it. Check-and-record is atomic (one gate for the book), so two
/// concurrent requests for one number cannot both pass the guard. With an <see cref="IStateStore"/> every
/// change is saved before the call returns — in particular "attempt started" is durable before ATD is written
/// (research §3.1), so a crash can never make a restart forget a dial.
/// <para>
/// With a store that other hosts share (<see cref="ISharedLedgerStore"/>, issue 11 item 3) the in-memory ledgers are only
/// this host's cache: every check-and-record reads, decides and writes the number's ledger inside one database
/// transaction holding its row, so two hosts together never exceed a number's limits. The read-only
/// <see cref="Check"/> answers from the cache (a hint for the scheduler); the decision that lets a dial start is
/// always <see cref="TryBeginAttemptAsync"/>'s.
/// </para>
/// </summary>
[SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "SemaphoreSlim needs disposing only when its AvailableWaitHandle is used, which it never is here.")]
public sealed class RepeatCallBook(CountryProfile profile, IStateStore? store = null)
{
    private readonly ConcurrentDictionary<string, NumberLedger> _ledgers = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<LedgerEvent> _events = new();
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly ISharedLedgerStore? _shared = store as ISharedLedgerStore;

    /// <summary>Dead peers whose open attempts this host took over (<see cref="AdoptAttemptsOf"/>); closed by the next <see cref="LoadAsync"/>.</summary>
    private readonly ConcurrentQueue<string> _adopted = new();

    /// <summary>The attempt this host began on each number (shared store only): its outcome is recorded only onto that attempt.</summary>
    private readonly ConcurrentDictionary<string, AttemptRecord> _mine = new(StringComparer.Ordinal);

    public CountryProfile Profile { get; } = profile;

    /// <summary>True when check-and-record runs in the shared database's transaction (several hosts, issue 11).</summary>
    public bool IsShared => _shared is not null;

    /// <summary>Every ledger event since this book was created (attempts, locks, alarms, resets), oldest first.</summary>
    public IReadOnlyCollection<LedgerEvent> Events => _events;

    public IReadOnlyDictionary<string, NumberLedger> Ledgers => _ledgers;

    /// <summary>
    /// Loads the persisted ledgers (the ledger is never reset by a restart, issue 6 item 4) and closes every
    /// attempt that has no on-hook record as failed with on-hook = <paramref name="now"/> (research §3.1).
    /// Returns the updates made by that recovery (one per interrupted attempt).
    /// </summary>
    public async Task<IReadOnlyList<LedgerUpdate>> LoadAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (store is null)
            return [];
        var recovered = new List<LedgerUpdate>();
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_shared is not null)
            {
                // Shared: an attempt in progress may be a live peer's dial. Only this host's own interrupted attempts are
                // closed here; a dead peer's are closed by whoever takes over its work (docs/scale-out.md).
                var own = new List<LedgerUpdate>();
                foreach (var host in _adopted.Prepend(_shared.HostId).Distinct(StringComparer.Ordinal))
                {
                    own.AddRange(await _shared.RecoverAttemptsOfHostAsync(host, now, RecoverAfterRestart, cancellationToken).ConfigureAwait(false));
                }

                _adopted.Clear();
                foreach (var update in own)
                {
                    Publish(update);
                }

                foreach (var ledger in await store.LoadLedgersAsync(cancellationToken).ConfigureAwait(false))
                {
                    _ledgers[ledger.Number] = ledger;
                }

                return own;
            }

            foreach (var ledger in await store.LoadLedgersAsync(cancellationToken).ConfigureAwait(false))
            {
                var current = ledger;
                if (ledger.InProgress is not null)
                {
                    var update = RecoverAfterRestart(ledger, now);
                    await store.SaveLedgerAsync(update, cancellationToken).ConfigureAwait(false);
                    Publish(update);
                    recovered.Add(update);
                    current = update.Ledger;
                }

                _ledgers[current.Number] = current;
            }
        }
        finally
        {
            _gate.Release();
        }

        return recovered;
    }

    /// <summary>
    /// Shared store: this host has taken over the work of dead host <paramref name="hostId"/> (its lease expired). The
    /// next <see cref="LoadAsync"/> closes that host's open attempts as failed too (research §3.1), and returns them
    /// with this host's own, so the scheduler backs off from them exactly as after its own crash.
    /// </summary>
    public void AdoptAttemptsOf(string hostId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(hostId);
        _adopted.Enqueue(hostId);
    }

    /// <summary>
    /// Active/active (docs/scale-out.md §6): closes NOW, as failed (research §3.1), the attempts dead host
    /// <paramref name="hostId"/> left open — the running scheduler's counterpart of <see cref="AdoptAttemptsOf"/>, which
    /// waits for the next <see cref="LoadAsync"/>. Nothing on a single-host store.
    /// </summary>
    public async Task<IReadOnlyList<LedgerUpdate>> AdoptAttemptsNowAsync(string hostId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(hostId);
        if (_shared is null)
            return [];
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var updates = await _shared.RecoverAttemptsOfHostAsync(hostId, now, RecoverAfterRestart, cancellationToken).ConfigureAwait(false);
            foreach (var update in updates)
            {
                _ledgers[update.Ledger.Number] = update.Ledger;
                Publish(update);
            }

            return updates;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Shared store: re-reads every ledger into the cache (a host that just took outstations over plans their polls on
    /// what the peer dialled, not on its stale copy; the database still decides each dial).
    /// </summary>
    public async Task ReloadAsync(CancellationToken cancellationToken)
    {
        if (_shared is null || store is null)
            return;
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var ledger in await store.LoadLedgersAsync(cancellationToken).ConfigureAwait(false))
            {
                _ledgers[ledger.Number] = ledger;
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>What the guard would answer now, without recording anything (the scheduler asks before it queues a poll).</summary>
    public GuardDecision Check(string number, DateTimeOffset now, string? modem = null) =>
        RepeatCallGuard.Check(_ledgers.TryGetValue(number, out var l) ? l : new NumberLedger(number), Profile, now, modem);

    /// <summary>
    /// Would the ledger allow one MORE attempt at <paramref name="number"/> now, on top of the one in progress? Asked
    /// when a modem refused the dial itself with BLACKLISTED / DELAYED (<see cref="OutcomeCode.CallBarredByModem"/>)
    /// before the same attempt goes to another modem (<see cref="Channels.CallRequest.MayTryNextModem"/>): the modem's
    /// own counter says the number has been dialled too often, so the refused dial is treated as if it had reached the
    /// line (a counted failure, on-hook now) and the guard is asked about the next one — spacing, attempt limit, lock,
    /// and a block by <paramref name="modem"/>. Conservative by design: the modem may know of dials the ledger missed.
    /// Records nothing (the real outcome is recorded by <see cref="CompleteAsync"/>); with no attempt in progress it is
    /// <see cref="Check"/>.
    /// </summary>
    public GuardDecision CheckAnotherAttempt(string number, DateTimeOffset now, string? modem = null)
    {
        var current = LedgerOf(number);
        if (current.InProgress is null)
            return RepeatCallGuard.Check(current, Profile, now, modem);
        var ifCounted = RepeatCallGuard.RecordOutcome(current, Profile, new AttemptResult(OutcomeCode.DialTimeout, now) { RawReply = "(hypothetical: modem refused the dial)" }).Ledger;
        return RepeatCallGuard.Check(ifCounted, Profile, now, modem);
    }

    /// <summary>The ledger of <paramref name="number"/>, or a fresh one if it was never dialled.</summary>
    public NumberLedger LedgerOf(string number) => _ledgers.TryGetValue(number, out var l) ? l : new NumberLedger(number);

    /// <summary>Asks the guard; when allowed, records "attempt started" and persists it before returning (before ATD).</summary>
    public async Task<GuardDecision> TryBeginAttemptAsync(string number, DateTimeOffset now, string? modem, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_shared is not null)
                return await TryBeginSharedAsync(_shared, number, now, modem, cancellationToken).ConfigureAwait(false);
            var current = LedgerOf(number);
            var decision = RepeatCallGuard.Check(current, Profile, now, modem);
            if (!decision.Allowed)
                return decision;
            var update = RepeatCallGuard.RecordAttemptStarted(current, Profile, now, modem);
            await SaveAsync(update, cancellationToken).ConfigureAwait(false);
            return decision;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Records the on-hook and outcome of the attempt begun by <see cref="TryBeginAttemptAsync"/>. Not cancellable:
    /// the dial is over, and leaving it open would block the number until a restart.
    /// </summary>
    public async Task<LedgerUpdate> CompleteAsync(string number, AttemptResult result)
    {
        await _gate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            if (_shared is not null)
                return await CompleteSharedAsync(_shared, number, result).ConfigureAwait(false);
            var update = RepeatCallGuard.RecordOutcome(_ledgers[number], Profile, result);
            await SaveAsync(update, CancellationToken.None).ConfigureAwait(false);
            return update;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Appends an event that changes no ledger field (the scheduler's "retries exhausted" operator alarm) to the
    /// number's event log, saving the current ledger with it in one transaction.
    /// </summary>
    public async Task AppendEventAsync(LedgerEvent e, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(e);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_shared is not null)
                await UpdateSharedAsync(_shared, e.Number, current => new LedgerUpdate(current, [e]), cancellationToken).ConfigureAwait(false);
            else
                await SaveAsync(new LedgerUpdate(LedgerOf(e.Number), [e]), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Operator reset of one number (research §3.4.2), persisted with its audit event.</summary>
    public async Task<LedgerUpdate> OperatorResetAsync(string number, string operatorName, string reason, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_shared is not null)
                return await UpdateSharedAsync(_shared, number, current => RepeatCallGuard.OperatorReset(current, operatorName, reason, now), cancellationToken).ConfigureAwait(false)
                    ?? throw new InvalidOperationException("An operator reset always changes the ledger.");
            var update = RepeatCallGuard.OperatorReset(LedgerOf(number), operatorName, reason, now);
            await SaveAsync(update, cancellationToken).ConfigureAwait(false);
            return update;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Check and record in ONE database transaction, on the ledger as the database holds it now (issue 11 item 3).</summary>
    private async Task<GuardDecision> TryBeginSharedAsync(ISharedLedgerStore shared, string number, DateTimeOffset now, string? modem, CancellationToken cancellationToken)
    {
        GuardDecision? decision = null;
        // "now" is the shared store's clock (the database's, scale-out §6 item 5): a host with a skewed clock cannot shorten a gap.
        var update = await UpdateSharedAsync(shared, number, now, (current, at) =>
        {
            var check = RepeatCallGuard.Check(current, Profile, at, modem);
            decision = check;
            return check.Allowed ? RepeatCallGuard.RecordAttemptStarted(current, Profile, at, modem) : null;
        }, cancellationToken).ConfigureAwait(false);
        if (update?.Ledger.InProgress is { } started)
            _mine[number] = started;
        return decision ?? throw new InvalidOperationException("The shared store did not run the guard.");
    }

    /// <summary>
    /// Records the outcome onto the attempt this host began, if the database still holds it open. If it does not, a
    /// peer that took this host for dead has already closed it as a failed attempt (research §3.1) — the conservative
    /// record stands, and nothing is written over a newer attempt.
    /// </summary>
    private async Task<LedgerUpdate> CompleteSharedAsync(ISharedLedgerStore shared, string number, AttemptResult result)
    {
        _mine.TryRemove(number, out var mine);
        // On-hook on the same clock as the off-hook and the next check (the store's): stamped when recorded, just after the
        // hang-up, so the gap to the next attempt is measured from no earlier than the real on-hook.
        var update = await UpdateSharedAsync(shared, number, result.OnHookAt, (current, at) =>
            current.InProgress is { } open && mine is not null && open.OffHook == mine.OffHook && string.Equals(open.Modem, mine.Modem, StringComparison.Ordinal)
                ? RepeatCallGuard.RecordOutcome(current, Profile, result with { OnHookAt = at })
                : null, CancellationToken.None).ConfigureAwait(false);
        return update ?? new LedgerUpdate(LedgerOf(number), []);
    }

    /// <summary>Runs one pure change of a number's ledger inside the shared store's transaction; refreshes the cache either way.</summary>
    private async Task<LedgerUpdate?> UpdateSharedAsync(ISharedLedgerStore shared, string number, Func<NumberLedger, LedgerUpdate?> change, CancellationToken cancellationToken)
    {
        LedgerUpdate? made = null;
        // The store may run the change more than once (a retried transaction): only the last run's update is the stored one.
        var stored = await shared.UpdateLedgerAsync(number, current => made = change(current), cancellationToken).ConfigureAwait(false);
        _ledgers[number] = stored;
        if (made is not null)
            Publish(made);
        return made;
    }

    /// <summary>As above, with the time (the store's clock, or <paramref name="hostNow"/>) the change decides at.</summary>
    private async Task<LedgerUpdate?> UpdateSharedAsync(ISharedLedgerStore shared, string number, DateTimeOffset hostNow, Func<NumberLedger, DateTimeOffset, LedgerUpdate?> change, CancellationToken cancellationToken)
    {
        LedgerUpdate? made = null;
        var stored = await shared.UpdateLedgerAsync(number, hostNow, (current, at) => made = change(current, at), cancellationToken).ConfigureAwait(false);
        _ledgers[number] = stored;
        if (made is not null)
            Publish(made);
        return made;
    }

    private async Task SaveAsync(LedgerUpdate update, CancellationToken cancellationToken)
    {
        // Persist first: if the store fails, the in-memory ledger must not claim a state the file does not have.
        if (store is not null)
            await store.SaveLedgerAsync(update, cancellationToken).ConfigureAwait(false);
        _ledgers[update.Ledger.Number] = update.Ledger;
        Publish(update);
    }

    /// <summary>
    /// An attempt left open by a host that stopped (this one before a restart, or a dead peer) counts as failed with
    /// on-hook = now (research §3.1, <see cref="RepeatCallGuard.RecoverAfterRestart"/>): one rule for a restart and an adoption.
    /// </summary>
    private LedgerUpdate RecoverAfterRestart(NumberLedger ledger, DateTimeOffset now) => RepeatCallGuard.RecoverAfterRestart(ledger, Profile, now);

    private void Publish(LedgerUpdate update)
    {
        foreach (var e in update.Events)
        {
            _events.Enqueue(e);
        }
    }
}
