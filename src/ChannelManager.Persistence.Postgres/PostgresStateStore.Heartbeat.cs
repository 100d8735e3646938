using ChannelManager.Core.Persistence;
using Npgsql;

namespace ChannelManager.Persistence.Postgres;

/// <summary>
/// <see cref="IHeartbeatStore"/> (issue 7 item 2) in the shared database: one row per always-connected outstation, the
/// learned interval and the remembered failed interval in ticks (exact round trip of a TimeSpan), like the SQLite store.
/// </summary>
public sealed partial class PostgresStateStore : IHeartbeatStore
{
    public Task<LearnedHeartbeat?> LoadHeartbeatAsync(string outstation, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(outstation);
        return RunAsync<LearnedHeartbeat?>(async (connection, ct) =>
        {
            await using var cmd = new NpgsqlCommand("SELECT interval_ticks, last_failed_ticks, updated_at FROM heartbeat WHERE outstation = @outstation;", connection);
            cmd.Parameters.AddWithValue("outstation", outstation);
            await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            if (!await reader.ReadAsync(ct).ConfigureAwait(false))
                return null;
            var interval = reader.GetInt64(0);
            long? failed = reader.IsDBNull(1) ? null : reader.GetInt64(1);
            if (interval <= 0 || failed <= 0)
                throw new StateStoreException(StateStoreFault.Corrupt, Path, $"heartbeat of {outstation}: interval {interval} / last failed {failed} ticks is not a positive time");
            return new LearnedHeartbeat(
                TimeSpan.FromTicks(interval),
                failed is { } f ? TimeSpan.FromTicks(f) : null,
                reader.GetFieldValue<DateTimeOffset>(2));
        }, cancellationToken);
    }

    public Task SaveHeartbeatAsync(string outstation, LearnedHeartbeat heartbeat, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(outstation);
        ArgumentNullException.ThrowIfNull(heartbeat);
        return RunAsync(async (connection, ct) =>
        {
            await using var cmd = new NpgsqlCommand(
                """
                INSERT INTO heartbeat (outstation, interval_ticks, last_failed_ticks, updated_at) VALUES (@outstation, @interval, @failed, @updated)
                ON CONFLICT (outstation) DO UPDATE SET interval_ticks = excluded.interval_ticks,
                    last_failed_ticks = excluded.last_failed_ticks, updated_at = excluded.updated_at;
                """, connection);
            cmd.Parameters.AddWithValue("outstation", outstation);
            cmd.Parameters.AddWithValue("interval", heartbeat.Interval.Ticks);
            cmd.Parameters.Add(new NpgsqlParameter<long?>("failed", NpgsqlTypes.NpgsqlDbType.Bigint) { TypedValue = heartbeat.LastFailed?.Ticks });
            cmd.Parameters.Add(Time("updated", heartbeat.UpdatedAt));
            await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);
    }
}
