using ChannelManager.Core.Scheduling;

namespace ChannelManager.Core.Persistence;

/// <summary>
/// Everything that must survive a restart (issue 6 item 4): the repeat-call ledger (never reset by a
/// restart), each outstation's retry schedule with seed 003's last access/success/failure times, and the
/// event log of transactions and ledger changes. Writes are durable when the call returns: the guard
/// records "attempt started" here before ATD is written (research/repeat-call-rules.md §3.1).
/// </summary>
/// <remarks>
/// A store that cannot read or write its file throws <see cref="StateStoreException"/> naming the file
/// and the cause; it never answers with empty state, which would silently reset the ledger.
/// </remarks>
public interface IStateStore : IAsyncDisposable
{
    Task<IReadOnlyList<NumberLedger>> LoadLedgersAsync(CancellationToken cancellationToken);

    /// <summary>Saves the new ledger and appends its events in one transaction.</summary>
    Task SaveLedgerAsync(LedgerUpdate update, CancellationToken cancellationToken);

    Task<IReadOnlyDictionary<string, RetrySchedule>> LoadRetrySchedulesAsync(CancellationToken cancellationToken);

    /// <summary>Saves an outstation's schedule; one with no <see cref="RetrySchedule.NextDue"/> has no pending retry (seed 003: the retry task is deleted on success).</summary>
    Task SaveRetryScheduleAsync(string outstation, RetrySchedule schedule, CancellationToken cancellationToken);

    Task AppendTransactionAsync(TransactionRecord record, CancellationToken cancellationToken);

    /// <summary>The newest transactions first, optionally for one outstation.</summary>
    Task<IReadOnlyList<TransactionRecord>> ReadTransactionsAsync(int max, string? outstation, CancellationToken cancellationToken);

    /// <summary>The newest ledger events first, optionally for one number.</summary>
    Task<IReadOnlyList<LedgerEvent>> ReadLedgerEventsAsync(int max, string? number, CancellationToken cancellationToken);
}

/// <summary>One transaction in the event log (seed 003's event log; design.md §3's outcome fields).</summary>
public sealed record TransactionRecord(
    DateTimeOffset StartedAt,
    DateTimeOffset EndedAt,
    string Outstation,
    string Number,
    OutcomeCode Code,
    string? Modem,
    IReadOnlyList<string> ModemsTried,
    string RawReply)
{
    public OutcomeCategory Category => Code.Category();

    public FaultAttribution CountedAgainst => Code.CountedAgainst();
}

/// <summary>Why the state store failed.</summary>
public enum StateStoreFault
{
    /// <summary>The file is not a database or fails its integrity check.</summary>
    Corrupt,
    /// <summary>Another process holds the database locked beyond the busy timeout.</summary>
    Locked,
    /// <summary>The file cannot be opened or written (missing directory, permissions, disk full).</summary>
    Unavailable,
    /// <summary>The file was written by a newer version of ChannelManager; it is not touched.</summary>
    NewerSchema,
    /// <summary>
    /// A shared store only: this host was active with a lease epoch that is no longer the database's
    /// (<see cref="ISharedLedgerStore.Fence"/>): another host has taken over, so this one must stop (exit 3). Nothing was
    /// written; the new active host owns the ledger and the retry schedules now.
    /// </summary>
    Fenced,
}

/// <summary>The state store cannot do its job. Never swallowed: running on without the ledger could break repeat-call rules.</summary>
public sealed class StateStoreException : Exception
{
    public StateStoreException(StateStoreFault fault, string path, string message, Exception? innerException = null)
        : base($"state store {path}: {message}", innerException)
    {
        Fault = fault;
        Path = path;
    }

    public StateStoreException()
    {
        Path = string.Empty;
    }

    public StateStoreException(string message)
        : base(message)
    {
        Path = string.Empty;
    }

    public StateStoreException(string message, Exception innerException)
        : base(message, innerException)
    {
        Path = string.Empty;
    }

    public StateStoreFault Fault { get; }

    public string Path { get; }
}
