using ChannelManager.Core.Persistence;
using Npgsql;

namespace ChannelManager.Persistence.Postgres;

/// <summary>
/// Fencing on writes (docs/scale-out.md §3.2, §6 item 1): once this host is active with lease epoch E, its ledger and
/// retry-schedule writes are refused inside their own transaction when <c>cluster:active</c> no longer has epoch E.
/// </summary>
public sealed partial class PostgresStateStore
{
    /// <summary>The epoch this host became active with; 0 = not fenced (epochs start at 1), i.e. write as before.</summary>
    private long _fenceEpoch;

    public void Fence(long epoch)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(epoch, 1);
        Interlocked.Exchange(ref _fenceEpoch, epoch);
    }

    /// <summary>
    /// Run inside a write transaction, right before its writes. <c>FOR SHARE</c> holds the lease row until the write
    /// commits, so a takeover (<c>SELECT … FOR UPDATE</c> and UPDATE of the epoch) waits for it: every fenced write is
    /// either committed before the new epoch exists — and then seen by the new active host, which reads the ledger and
    /// the schedules after it took the lease — or refused. Taken last (after the ledger row), and only for the few
    /// statements up to the commit, so a lease renewal never waits behind a ledger row lock of another host.
    /// </summary>
    private async Task CheckFenceAsync(NpgsqlConnection connection, NpgsqlTransaction tx, CancellationToken cancellationToken)
    {
        var fence = Interlocked.Read(ref _fenceEpoch);
        if (fence == 0)
            return;
        await using var cmd = new NpgsqlCommand("SELECT holder, epoch FROM lease WHERE resource = @resource FOR SHARE;", connection, tx);
        cmd.Parameters.AddWithValue("resource", ActiveLease.Resource);
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            throw new StateStoreException(StateStoreFault.Fenced, Path, $"host {HostId} was active with lease epoch {fence}, but there is no {ActiveLease.Resource} lease any more; the write was refused (nothing written)");
        var holder = reader.GetString(0);
        var epoch = reader.GetInt64(1);
        if (epoch != fence)
        {
            throw new StateStoreException(
                StateStoreFault.Fenced,
                Path,
                $"host {HostId} was active with lease epoch {fence}, but {ActiveLease.Resource} is at epoch {epoch} held by {holder}: another host took over; the write was refused (nothing written) and this host must stop");
        }
    }
}
