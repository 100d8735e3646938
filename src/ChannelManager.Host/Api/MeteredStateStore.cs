using ChannelManager.Core.Persistence;
using ChannelManager.Core.Scheduling;

namespace ChannelManager.Host.Api;

/// <summary>
/// An <see cref="IStateStore"/> that counts every transaction it persists in <see cref="ChannelManagerMetrics"/>:
/// the scheduler appends exactly one record per poll (guard refusals and queue timeouts included), so observing
/// the store sees every outcome without a hook in Core.
/// </summary>
public sealed class MeteredStateStore(IStateStore inner, ChannelManagerMetrics metrics, bool ownsInner = false) : IStateStore
{
    /// <summary>The decorated store.</summary>
    public IStateStore Inner { get; } = inner ?? throw new ArgumentNullException(nameof(inner));

    public async Task AppendTransactionAsync(TransactionRecord record, CancellationToken cancellationToken)
    {
        await Inner.AppendTransactionAsync(record, cancellationToken).ConfigureAwait(false);
        // Counted only once durable, so /metrics never shows a call the event log does not have.
        metrics.RecordTransaction(record);
    }

    public Task<IReadOnlyList<NumberLedger>> LoadLedgersAsync(CancellationToken cancellationToken) => Inner.LoadLedgersAsync(cancellationToken);

    public Task SaveLedgerAsync(LedgerUpdate update, CancellationToken cancellationToken) => Inner.SaveLedgerAsync(update, cancellationToken);

    public Task<IReadOnlyDictionary<string, RetrySchedule>> LoadRetrySchedulesAsync(CancellationToken cancellationToken) => Inner.LoadRetrySchedulesAsync(cancellationToken);

    public Task SaveRetryScheduleAsync(string outstation, RetrySchedule schedule, CancellationToken cancellationToken) => Inner.SaveRetryScheduleAsync(outstation, schedule, cancellationToken);

    public Task<IReadOnlyList<TransactionRecord>> ReadTransactionsAsync(int max, string? outstation, CancellationToken cancellationToken) => Inner.ReadTransactionsAsync(max, outstation, cancellationToken);

    public Task<IReadOnlyList<LedgerEvent>> ReadLedgerEventsAsync(int max, string? number, CancellationToken cancellationToken) => Inner.ReadLedgerEventsAsync(max, number, cancellationToken);

    public ValueTask DisposeAsync() => ownsInner ? Inner.DisposeAsync() : ValueTask.CompletedTask;
}
