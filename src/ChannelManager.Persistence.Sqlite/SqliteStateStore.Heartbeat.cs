using System.Globalization;
using ChannelManager.Core.Persistence;

namespace ChannelManager.Persistence.Sqlite;

/// <summary>
/// <see cref="IHeartbeatStore"/> in the same file (issue 7 item 2): one row per always-connected outstation with the
/// learned heartbeat interval and the remembered failed interval, in ticks (exact round trip of a TimeSpan).
/// </summary>
public sealed partial class SqliteStateStore : IHeartbeatStore
{
    /// <summary>Schema version 2 (issue 7).</summary>
    private const string HeartbeatMigration =
        """
        CREATE TABLE heartbeat (
            outstation TEXT PRIMARY KEY,
            interval_ticks INTEGER NOT NULL,
            last_failed_ticks INTEGER,
            updated_at TEXT NOT NULL);
        """;

    public Task<LearnedHeartbeat?> LoadHeartbeatAsync(string outstation, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(outstation);
        return RunAsync<LearnedHeartbeat?>(async ct =>
        {
            await using var cmd = Command("SELECT interval_ticks, last_failed_ticks, updated_at FROM heartbeat WHERE outstation = $outstation;");
            cmd.Parameters.AddWithValue("$outstation", outstation);
            await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            if (!await reader.ReadAsync(ct).ConfigureAwait(false))
                return null;
            var what = $"heartbeat of {outstation}";
            var interval = reader.GetInt64(0);
            long? failed = reader.IsDBNull(1) ? null : reader.GetInt64(1);
            if (interval <= 0 || failed <= 0)
                throw new StateStoreException(StateStoreFault.Corrupt, Path, $"{what}: interval {interval} / last failed {failed} ticks is not a positive time");
            return new LearnedHeartbeat(
                TimeSpan.FromTicks(interval),
                failed is { } f ? TimeSpan.FromTicks(f) : null,
                ParseTime(reader.GetString(2), what));
        }, cancellationToken);
    }

    public Task SaveHeartbeatAsync(string outstation, LearnedHeartbeat heartbeat, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(outstation);
        ArgumentNullException.ThrowIfNull(heartbeat);
        return RunAsync(async ct =>
        {
            await using var cmd = Command(
                """
                INSERT INTO heartbeat (outstation, interval_ticks, last_failed_ticks, updated_at) VALUES ($outstation, $interval, $failed, $updated)
                ON CONFLICT (outstation) DO UPDATE SET interval_ticks = excluded.interval_ticks,
                    last_failed_ticks = excluded.last_failed_ticks, updated_at = excluded.updated_at;
                """);
            cmd.Parameters.AddWithValue("$outstation", outstation);
            cmd.Parameters.AddWithValue("$interval", heartbeat.Interval.Ticks);
            cmd.Parameters.AddWithValue("$failed", heartbeat.LastFailed is { } f ? f.Ticks : DBNull.Value);
            cmd.Parameters.AddWithValue("$updated", heartbeat.UpdatedAt.ToString("O", CultureInfo.InvariantCulture));
            await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }, cancellationToken);
    }
}
