using System.Data;
using ChannelManager.Core.Persistence;
using Npgsql;

namespace ChannelManager.Persistence.Postgres;

/// <summary>
/// <see cref="ILeaseStore"/> (issue 11 item 2): one row per leased resource. Expiry is compared with the server's
/// <c>clock_timestamp()</c>, so hosts with skewed clocks agree. A release only expires the row (it is not deleted), so
/// the epoch — the fencing token — never goes back when a resource changes hands.
/// </summary>
public sealed partial class PostgresStateStore : ILeaseStore
{
    /// <summary>Schema version 2 (issue 11 item 2).</summary>
    private const string LeaseMigration =
        """
        CREATE TABLE lease (
            resource text PRIMARY KEY,
            holder text NOT NULL,
            epoch bigint NOT NULL,
            expires_at timestamptz NOT NULL);
        """;

    public Task<LeaseGrant?> TryAcquireLeaseAsync(string resource, string holder, TimeSpan duration, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(resource);
        ArgumentException.ThrowIfNullOrWhiteSpace(holder);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(duration, TimeSpan.Zero);
        return RunAsync<LeaseGrant?>(async (connection, ct) =>
        {
            await using var tx = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, ct).ConfigureAwait(false);
            // A free resource: the INSERT wins for exactly one of any hosts racing for it (the primary key decides).
            await using (var insert = new NpgsqlCommand(
                "INSERT INTO lease (resource, holder, epoch, expires_at) VALUES (@resource, @holder, 1, clock_timestamp() + @duration) ON CONFLICT (resource) DO NOTHING RETURNING expires_at;",
                connection,
                tx))
            {
                insert.Parameters.AddWithValue("resource", resource);
                insert.Parameters.AddWithValue("holder", holder);
                insert.Parameters.AddWithValue("duration", duration);
                if (await insert.ExecuteScalarAsync(ct).ConfigureAwait(false) is DateTime created)
                {
                    await tx.CommitAsync(ct).ConfigureAwait(false);
                    return new LeaseGrant(resource, holder, 1, new DateTimeOffset(created, TimeSpan.Zero), null);
                }
            }

            string current;
            long epoch;
            bool expired;
            await using (var select = new NpgsqlCommand("SELECT holder, epoch, expires_at <= clock_timestamp() FROM lease WHERE resource = @resource FOR UPDATE;", connection, tx))
            {
                select.Parameters.AddWithValue("resource", resource);
                await using var reader = await select.ExecuteReaderAsync(ct).ConfigureAwait(false);
                if (!await reader.ReadAsync(ct).ConfigureAwait(false))
                    throw new StateStoreException(StateStoreFault.Corrupt, Path, $"lease {resource} vanished inside its own transaction");
                current = reader.GetString(0);
                epoch = reader.GetInt64(1);
                expired = reader.GetBoolean(2);
            }

            var renewal = string.Equals(current, holder, StringComparison.Ordinal);
            if (!renewal && !expired)
            {
                await tx.RollbackAsync(ct).ConfigureAwait(false);
                return null;
            }

            var newEpoch = renewal ? epoch : epoch + 1;
            await using var update = new NpgsqlCommand("UPDATE lease SET holder = @holder, epoch = @epoch, expires_at = clock_timestamp() + @duration WHERE resource = @resource RETURNING expires_at;", connection, tx);
            update.Parameters.AddWithValue("resource", resource);
            update.Parameters.AddWithValue("holder", holder);
            update.Parameters.AddWithValue("epoch", newEpoch);
            update.Parameters.AddWithValue("duration", duration);
            var expires = (DateTime)(await update.ExecuteScalarAsync(ct).ConfigureAwait(false))!; // the row is locked: it exists
            await tx.CommitAsync(ct).ConfigureAwait(false);
            return new LeaseGrant(resource, holder, newEpoch, new DateTimeOffset(expires, TimeSpan.Zero), renewal ? null : current);
        }, cancellationToken);
    }

    public Task<bool> ReleaseLeaseAsync(string resource, string holder, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(resource);
        ArgumentException.ThrowIfNullOrWhiteSpace(holder);
        return RunAsync(async (connection, ct) =>
        {
            await using var cmd = new NpgsqlCommand("UPDATE lease SET expires_at = clock_timestamp() WHERE resource = @resource AND holder = @holder AND expires_at > clock_timestamp();", connection);
            cmd.Parameters.AddWithValue("resource", resource);
            cmd.Parameters.AddWithValue("holder", holder);
            return await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false) == 1;
        }, cancellationToken);
    }

    public Task<LeaseSnapshot> ReadLeasesAsync(CancellationToken cancellationToken) => RunAsync(async (connection, ct) =>
    {
        await using var tx = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, ct).ConfigureAwait(false);
        DateTimeOffset now;
        await using (var clock = new NpgsqlCommand("SELECT clock_timestamp();", connection, tx))
        {
            now = new DateTimeOffset((DateTime)(await clock.ExecuteScalarAsync(ct).ConfigureAwait(false))!, TimeSpan.Zero);
        }

        var leases = new List<LeaseRecord>();
        await using (var cmd = new NpgsqlCommand("SELECT resource, holder, epoch, expires_at FROM lease ORDER BY resource;", connection, tx))
        {
            await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                leases.Add(new LeaseRecord(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetFieldValue<DateTimeOffset>(3)));
            }
        }

        await tx.CommitAsync(ct).ConfigureAwait(false);
        return new LeaseSnapshot(now, leases);
    }, cancellationToken);
}
