using ChannelManager.Core.Scheduling;

namespace ChannelManager.Core.Persistence;

/// <summary>
/// A state store that several hosts use at once (issue 11 item 3: "the guard's check-and-record is one transaction in
/// the database, so two hosts can never together exceed a number's limits"). An <see cref="IStateStore"/> that also
/// implements this makes <see cref="RepeatCallBook"/> read, decide and write each number's ledger inside ONE database
/// transaction that holds the number's row locked, instead of deciding on its in-memory copy: the other host's latest
/// attempt is always seen. A single-host store (SQLite) does not implement it; the book's own gate is enough there.
/// </summary>
public interface ISharedLedgerStore
{
    /// <summary>The name this host writes into the ledgers it changes (whose attempt is in progress).</summary>
    string HostId { get; }

    /// <summary>
    /// Atomically: locks the ledger row of <paramref name="number"/> (creating it if absent), reads it, calls
    /// <paramref name="change"/> with it (a fresh ledger if the number was never dialled), saves the returned update
    /// with its events, and commits. A null update writes nothing. Returns the ledger as stored when the call returns.
    /// </summary>
    /// <remarks>
    /// <paramref name="change"/> must be a pure decision (the guard's values): the store may call it again when the
    /// database asks for a retry (serialization failure or deadlock), and only the last call's result is stored.
    /// </remarks>
    Task<NumberLedger> UpdateLedgerAsync(string number, Func<NumberLedger, LedgerUpdate?> change, CancellationToken cancellationToken);

    /// <summary>
    /// As <see cref="UpdateLedgerAsync(string, Func{NumberLedger, LedgerUpdate?}, CancellationToken)"/>, but
    /// <paramref name="change"/> also gets the time to decide and record at (docs/scale-out.md §3.1, §6 item 5): the
    /// database's clock read inside the transaction, after the row lock — so every host decides on ONE clock and a host
    /// whose own clock is skewed cannot shorten a gap — unless the store is configured to use the caller's
    /// <paramref name="hostNow"/> (tests that drive a fake clock).
    /// </summary>
    Task<NumberLedger> UpdateLedgerAsync(string number, DateTimeOffset hostNow, Func<NumberLedger, DateTimeOffset, LedgerUpdate?> change, CancellationToken cancellationToken);

    /// <summary>
    /// Closes, each in its own transaction, the attempts left in progress by host <paramref name="hostId"/> (this host
    /// after a crash, or a dead peer once its lease has expired) with <paramref name="recover"/> — research §3.1: an
    /// attempt with no on-hook record counts as failed. Attempts in progress on other hosts are not touched: they may
    /// still be dialling. Returns the updates made. <paramref name="recover"/> gets the on-hook time to record, chosen
    /// as in <see cref="UpdateLedgerAsync(string, DateTimeOffset, Func{NumberLedger, DateTimeOffset, LedgerUpdate?}, CancellationToken)"/>
    /// (the database's clock, or <paramref name="hostNow"/>): a takeover by a host whose clock runs behind must not
    /// date the dead host's attempt earlier than it ended.
    /// </summary>
    Task<IReadOnlyList<LedgerUpdate>> RecoverAttemptsOfHostAsync(string hostId, DateTimeOffset hostNow, Func<NumberLedger, DateTimeOffset, LedgerUpdate> recover, CancellationToken cancellationToken);

    /// <summary>
    /// Fences this host's writes with the epoch of the <see cref="ActiveLease.Resource"/> lease it became active with
    /// (docs/scale-out.md §3.2, §6 item 1). From then on every ledger and retry-schedule write checks, inside its own
    /// transaction, that the lease still has <paramref name="epoch"/>; when another host has taken the lease over (a
    /// higher epoch) the write is refused with <see cref="StateStoreFault.Fenced"/> and changes nothing. Closes the
    /// window of a host that lost the lease but has not noticed yet (a paused VM) — it can no longer write over the new
    /// active host. A store never fenced (a standby, or before the lease is taken) writes as before.
    /// </summary>
    void Fence(long epoch);
}
