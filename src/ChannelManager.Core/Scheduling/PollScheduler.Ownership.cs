namespace ChannelManager.Core.Scheduling;

/// <summary>
/// Active/active (issue 11 item 2, docs/scale-out.md §6): the scheduler polls only the outstations its
/// <see cref="Ownership"/> says this host owns; the host's ownership service hands outstations back with
/// <see cref="ResumeOwnedAsync"/> (their retry state re-read from the shared store, so a peer's pending retries resume
/// here) and asks <see cref="AnyRunning"/> before it gives a lease up.
/// </summary>
public sealed partial class PollScheduler
{
    private readonly TaskCompletionSource _loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private IPollOwnership? _ownership;

    /// <summary>
    /// Which outstations this host may poll now; null = all (a single host, or the active host of a hot-standby pair).
    /// Set once, before <see cref="RunAsync"/> (the host's ownership service sets it when it is created, so the
    /// composition of the scheduler does not need to know about active/active).
    /// </summary>
    public IPollOwnership? Ownership
    {
        get => _ownership;
        set
        {
            if (Volatile.Read(ref _started) == 1)
                throw new InvalidOperationException("Ownership must be set before the scheduler runs.");
            _ownership = value;
        }
    }

    /// <summary>True while a poll of an outstation matching <paramref name="match"/> is on the line (or being recorded).</summary>
    public bool AnyRunning(Func<string, bool> match)
    {
        ArgumentNullException.ThrowIfNull(match);
        lock (_gate)
        {
            return _order.Any(e => e.Running && match(e.Config.Name));
        }
    }

    /// <summary>
    /// <paramref name="outstations"/> are this host's now (their lease was just taken): re-read the ledgers and their
    /// retry schedules from the shared store — the previous owner saved both after each poll — and put them back on the
    /// timeline, so a pending retry resumes at its time and the regular cadence continues from the last access (never
    /// polled twice, never lost).
    /// </summary>
    public async Task ResumeOwnedAsync(IReadOnlyCollection<string> outstations, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(outstations);
        if (outstations.Count == 0)
            return;

        // A running scheduler's start-up load must not land after (and over) this fresher read: wait for it first. A
        // scheduler not started yet will load everything itself, later than this.
        if (Volatile.Read(ref _started) == 1)
            await _loaded.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        await _book.ReloadAsync(cancellationToken).ConfigureAwait(false);
        var schedules = _store is null
            ? new Dictionary<string, RetrySchedule>()
            : await _store.LoadRetrySchedulesAsync(cancellationToken).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            foreach (var name in outstations)
            {
                if (!_entries.TryGetValue(name, out var e) || e.Running)
                    continue;
                e.Retry = schedules.TryGetValue(name, out var r) ? r : RetrySchedule.Initial;
                e.RegularDue = e.Retry.LastAccess is { } last ? last + e.Config.Interval : now;
                e.NotBefore = null;
                e.Foreign = false;
                if (!e.Touched)
                    Reindex(e);
            }

            _wake.TrySetResult();
        }
    }

    /// <summary>
    /// A dead peer's open dials (its presence and every lease of it expired): closes them as failed attempts in the
    /// shared ledger (research §3.1) and backs off from them for the outstations this host owns, as after its own crash.
    /// Returns how many attempts were closed.
    /// </summary>
    public async Task<int> AdoptAttemptsOfAsync(string hostId, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var recovered = await _book.AdoptAttemptsNowAsync(hostId, now, cancellationToken).ConfigureAwait(false);
        foreach (var update in recovered)
        {
            var attempt = update.Ledger.Recent[^1];
            List<Entry> mine;
            lock (_gate)
            {
                mine = [.. _order.Where(e => e.Config.Number == update.Ledger.Number && !e.Running && !e.Foreign && (Ownership?.Owns(e.Config.Name) ?? true))];
            }

            foreach (var e in mine)
            {
                Log.RecoveredAttempt(_logger, e.Config.Name, e.Config.Number);
                var outcome = new PollOutcome(e.Config.Name, e.Config.Number, OutcomeCode.DialTimeout, attempt.Modem, [], attempt.RawReply ?? string.Empty, null, attempt.OffHook, now, update.Ledger.NextAllowedAt);
                await AfterPollAsync(e, outcome, cancellationToken).ConfigureAwait(false);
            }
        }

        return recovered.Count;
    }

    /// <summary>Not this host's (any more): off the timeline, its waiters refused naming the owner; nothing is dialled.</summary>
    private Disposition Disown(Entry e, List<OnDemand> waiters, DateTimeOffset now, List<Func<Task>> actions, CancellationToken stop)
    {
        e.Foreign = true;
        e.Waiters.Clear();
        if (waiters.Count > 0)
        {
            var outcome = Refused(e, OutcomeCode.Cancelled, $"owned by host {Ownership?.OwnerOf(e.Config.Name) ?? "(unknown)"}", now, null);
            actions.Add(() => FinishWithoutDialAsync(outcome, waiters, stop));
        }

        Touch(e);
        return Disposition.Deferred;
    }
}
