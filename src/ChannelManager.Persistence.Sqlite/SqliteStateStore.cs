using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using ChannelManager.Core;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Scheduling;
using Microsoft.Data.Sqlite;

namespace ChannelManager.Persistence.Sqlite;

/// <summary>
/// <see cref="IStateStore"/> in one SQLite file on disk: WAL journal, synchronous=FULL (a recorded
/// "attempt started" must survive a power cut, or a restart could redial too soon), numbered schema
/// migrations in <c>PRAGMA user_version</c>. One connection, one writer at a time.
/// </summary>
public sealed partial class SqliteStateStore : IStateStore
{
    /// <summary>Schema migrations, applied in order; index + 1 is the schema version. Never edit a shipped one: append.</summary>
    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE ledger (
            number TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            next_allowed_at TEXT,
            updated_at TEXT NOT NULL,
            body TEXT NOT NULL);
        CREATE TABLE ledger_event (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            number TEXT NOT NULL,
            kind TEXT NOT NULL,
            detail TEXT NOT NULL,
            operator TEXT,
            modem TEXT);
        CREATE INDEX ix_ledger_event_number ON ledger_event (number, id);
        CREATE TABLE retry_schedule (
            outstation TEXT PRIMARY KEY,
            next_due TEXT,
            failed_attempts INTEGER NOT NULL,
            last_access TEXT,
            last_success TEXT,
            last_failure TEXT,
            body TEXT NOT NULL);
        CREATE TABLE transaction_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            started_at TEXT NOT NULL,
            ended_at TEXT NOT NULL,
            outstation TEXT NOT NULL,
            number TEXT NOT NULL,
            code TEXT NOT NULL,
            category TEXT NOT NULL,
            modem TEXT,
            modems_tried TEXT NOT NULL,
            raw_reply TEXT NOT NULL);
        CREATE INDEX ix_transaction_log_outstation ON transaction_log (outstation, id);
        """,
        HeartbeatMigration,
    ];

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.General)
    {
        Converters = { new JsonStringEnumConverter() },
    };

    private readonly SqliteConnection _connection;
    private readonly SemaphoreSlim _gate = new(1, 1);

    private SqliteStateStore(SqliteConnection connection, string path)
    {
        _connection = connection;
        Path = path;
    }

    public string Path { get; }

    public static int SchemaVersion => Migrations.Length;

    /// <summary>Opens (creating if absent) and migrates the store; checks the file's integrity first.</summary>
    public static async Task<SqliteStateStore> OpenAsync(SqliteStateStoreOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var path = System.IO.Path.GetFullPath(options.Path);
        try
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!); // a full path always has a directory
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new StateStoreException(StateStoreFault.Unavailable, path, $"cannot create its directory: {ex.Message}", ex);
        }

        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
            DefaultTimeout = (int)Math.Ceiling(options.BusyTimeout.TotalSeconds),
        }.ToString());
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(connection, $"PRAGMA busy_timeout = {(int)options.BusyTimeout.TotalMilliseconds};", cancellationToken).ConfigureAwait(false);
            var check = await ScalarAsync(connection, "PRAGMA quick_check;", cancellationToken).ConfigureAwait(false);
            if (!string.Equals(check, "ok", StringComparison.Ordinal))
            {
                throw new StateStoreException(StateStoreFault.Corrupt, path, $"integrity check failed: {check}");
            }

            var version = int.Parse(await ScalarAsync(connection, "PRAGMA user_version;", cancellationToken).ConfigureAwait(false) ?? "0", CultureInfo.InvariantCulture);
            if (version > Migrations.Length)
            {
                throw new StateStoreException(StateStoreFault.NewerSchema, path, $"schema version {version} is newer than this build knows ({Migrations.Length}); the file was left untouched");
            }

            await ExecuteAsync(connection, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;", cancellationToken).ConfigureAwait(false);
            for (var v = version; v < Migrations.Length; v++)
            {
                using var tx = connection.BeginTransaction();
                await ExecuteAsync(connection, Migrations[v] + $"\nPRAGMA user_version = {v + 1};", cancellationToken, tx).ConfigureAwait(false);
                tx.Commit();
            }

            return new SqliteStateStore(connection, path);
        }
        catch (SqliteException ex)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw Map(ex, path);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public Task<IReadOnlyList<NumberLedger>> LoadLedgersAsync(CancellationToken cancellationToken) => RunAsync<IReadOnlyList<NumberLedger>>(async ct =>
    {
        var result = new List<NumberLedger>();
        await using var cmd = Command("SELECT number, body FROM ledger ORDER BY number;");
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            result.Add(Deserialize<NumberLedger>(reader.GetString(1), $"ledger of {reader.GetString(0)}"));
        }

        return result;
    }, cancellationToken);

    public Task SaveLedgerAsync(LedgerUpdate update, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(update);
        return RunAsync(async ct =>
        {
            using var tx = _connection.BeginTransaction();
            var ledger = update.Ledger;
            await using (var cmd = Command(
                """
                INSERT INTO ledger (number, state, next_allowed_at, updated_at, body) VALUES ($number, $state, $next, $updated, $body)
                ON CONFLICT (number) DO UPDATE SET state = excluded.state, next_allowed_at = excluded.next_allowed_at,
                    updated_at = excluded.updated_at, body = excluded.body;
                """, tx))
            {
                cmd.Parameters.AddWithValue("$number", ledger.Number);
                cmd.Parameters.AddWithValue("$state", ledger.State.ToString());
                cmd.Parameters.AddWithValue("$next", Time(ledger.NextAllowedAt));
                cmd.Parameters.AddWithValue("$updated", Time(update.Events.Length > 0 ? update.Events[^1].At : ledger.LastOnHook ?? ledger.LastOffHook ?? DateTimeOffset.MinValue));
                cmd.Parameters.AddWithValue("$body", JsonSerializer.Serialize(ledger, Json));
                await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }

            foreach (var e in update.Events)
            {
                await using var cmd = Command("INSERT INTO ledger_event (at, number, kind, detail, operator, modem) VALUES ($at, $number, $kind, $detail, $operator, $modem);", tx);
                cmd.Parameters.AddWithValue("$at", Time(e.At));
                cmd.Parameters.AddWithValue("$number", e.Number);
                cmd.Parameters.AddWithValue("$kind", e.Kind.ToString());
                cmd.Parameters.AddWithValue("$detail", e.Detail);
                cmd.Parameters.AddWithValue("$operator", (object?)e.Operator ?? DBNull.Value);
                cmd.Parameters.AddWithValue("$modem", (object?)e.Modem ?? DBNull.Value);
                await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }

            tx.Commit();
        }, cancellationToken);
    }

    public Task<IReadOnlyDictionary<string, RetrySchedule>> LoadRetrySchedulesAsync(CancellationToken cancellationToken) => RunAsync<IReadOnlyDictionary<string, RetrySchedule>>(async ct =>
    {
        var result = new Dictionary<string, RetrySchedule>(StringComparer.Ordinal);
        await using var cmd = Command("SELECT outstation, body FROM retry_schedule ORDER BY outstation;");
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            result[reader.GetString(0)] = Deserialize<RetrySchedule>(reader.GetString(1), $"retry schedule of {reader.GetString(0)}");
        }

        return result;
    }, cancellationToken);

    public Task SaveRetryScheduleAsync(string outstation, RetrySchedule schedule, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(outstation);
        ArgumentNullException.ThrowIfNull(schedule);
        return RunAsync(async ct =>
        {
            await using var cmd = Command(
                """
                INSERT INTO retry_schedule (outstation, next_due, failed_attempts, last_access, last_success, last_failure, body)
                VALUES ($outstation, $next, $failed, $access, $success, $failure, $body)
                ON CONFLICT (outstation) DO UPDATE SET next_due = excluded.next_due, failed_attempts = excluded.failed_attempts,
                    last_access = excluded.last_access, last_success = excluded.last_success, last_failure = excluded.last_failure, body = excluded.body;
                """);
            cmd.Parameters.AddWithValue("$outstation", outstation);
            cmd.Parameters.AddWithValue("$next", Time(schedule.NextDue));
            cmd.Parameters.AddWithValue("$failed", schedule.FailedAttempts);
            cmd.Parameters.AddWithValue("$access", Time(schedule.LastAccess));
            cmd.Parameters.AddWithValue("$success", Time(schedule.LastSuccess));
            cmd.Parameters.AddWithValue("$failure", Time(schedule.LastFailure));
            cmd.Parameters.AddWithValue("$body", JsonSerializer.Serialize(schedule, Json));
            await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }, cancellationToken);
    }

    public Task AppendTransactionAsync(TransactionRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        return RunAsync(async ct =>
        {
            await using var cmd = Command(
                """
                INSERT INTO transaction_log (started_at, ended_at, outstation, number, code, category, modem, modems_tried, raw_reply)
                VALUES ($started, $ended, $outstation, $number, $code, $category, $modem, $tried, $raw);
                """);
            cmd.Parameters.AddWithValue("$started", Time(record.StartedAt));
            cmd.Parameters.AddWithValue("$ended", Time(record.EndedAt));
            cmd.Parameters.AddWithValue("$outstation", record.Outstation);
            cmd.Parameters.AddWithValue("$number", record.Number);
            cmd.Parameters.AddWithValue("$code", record.Code.ToString());
            cmd.Parameters.AddWithValue("$category", record.Category.ToString());
            cmd.Parameters.AddWithValue("$modem", (object?)record.Modem ?? DBNull.Value);
            cmd.Parameters.AddWithValue("$tried", JsonSerializer.Serialize(record.ModemsTried, Json));
            cmd.Parameters.AddWithValue("$raw", record.RawReply);
            await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }, cancellationToken);
    }

    public Task<IReadOnlyList<TransactionRecord>> ReadTransactionsAsync(int max, string? outstation, CancellationToken cancellationToken) => RunAsync<IReadOnlyList<TransactionRecord>>(async ct =>
    {
        await using var cmd = Command(
            """
            SELECT started_at, ended_at, outstation, number, code, modem, modems_tried, raw_reply FROM transaction_log
            WHERE $outstation IS NULL OR outstation = $outstation ORDER BY id DESC LIMIT $max;
            """);
        cmd.Parameters.AddWithValue("$outstation", (object?)outstation ?? DBNull.Value);
        cmd.Parameters.AddWithValue("$max", Math.Max(0, max));
        var result = new List<TransactionRecord>();
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            var what = $"transaction of {reader.GetString(2)} at {reader.GetString(0)}";
            result.Add(new TransactionRecord(
                ParseTime(reader.GetString(0), what),
                ParseTime(reader.GetString(1), what),
                reader.GetString(2),
                reader.GetString(3),
                ParseEnum<OutcomeCode>(reader.GetString(4), what),
                reader.IsDBNull(5) ? null : reader.GetString(5),
                Deserialize<string[]>(reader.GetString(6), what),
                reader.GetString(7)));
        }

        return result;
    }, cancellationToken);

    public Task<IReadOnlyList<LedgerEvent>> ReadLedgerEventsAsync(int max, string? number, CancellationToken cancellationToken) => RunAsync<IReadOnlyList<LedgerEvent>>(async ct =>
    {
        await using var cmd = Command("SELECT at, number, kind, detail, operator, modem FROM ledger_event WHERE $number IS NULL OR number = $number ORDER BY id DESC LIMIT $max;");
        cmd.Parameters.AddWithValue("$number", (object?)number ?? DBNull.Value);
        cmd.Parameters.AddWithValue("$max", Math.Max(0, max));
        var result = new List<LedgerEvent>();
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            var what = $"ledger event of {reader.GetString(1)} at {reader.GetString(0)}";
            result.Add(new LedgerEvent(ParseTime(reader.GetString(0), what), reader.GetString(1), ParseEnum<LedgerEventKind>(reader.GetString(2), what), reader.GetString(3))
            {
                Operator = reader.IsDBNull(4) ? null : reader.GetString(4),
                Modem = reader.IsDBNull(5) ? null : reader.GetString(5),
            });
        }

        return result;
    }, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _connection.DisposeAsync().ConfigureAwait(false);
        _gate.Dispose();
    }

    private async Task RunAsync(Func<CancellationToken, Task> work, CancellationToken cancellationToken) =>
        await RunAsync<bool>(async ct =>
        {
            await work(ct).ConfigureAwait(false);
            return true;
        }, cancellationToken).ConfigureAwait(false);

    private async Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await work(cancellationToken).ConfigureAwait(false);
        }
        catch (SqliteException ex)
        {
            throw Map(ex, Path);
        }
        finally
        {
            _gate.Release();
        }
    }

    private SqliteCommand Command(string sql, SqliteTransaction? tx = null)
    {
        var cmd = _connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = tx;
        return cmd;
    }

    private static async Task ExecuteAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken, SqliteTransaction? tx = null)
    {
        await using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = tx;
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task<string?> ScalarAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        return Convert.ToString(await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
    }

    /// <summary>SQLite result codes (sqlite.org/rescode.html) to what an operator must do about them.</summary>
    private static StateStoreException Map(SqliteException ex, string path) => ex.SqliteErrorCode switch
    {
        5 or 6 => new StateStoreException(StateStoreFault.Locked, path, $"database is locked by another process ({ex.Message})", ex),
        11 or 26 => new StateStoreException(StateStoreFault.Corrupt, path, $"not a valid ChannelManager database ({ex.Message}); the file was left untouched", ex),
        // SQLITE_FULL: the disk (or a size limit) is full. The failed statement was rolled back; after space is freed
        // the same write can simply be retried (docs/reliability.md "Disk full").
        13 => new StateStoreException(StateStoreFault.Unavailable, path, $"no space left for the database (disk full); free space, then retry ({ex.Message})", ex),
        _ => new StateStoreException(StateStoreFault.Unavailable, path, ex.Message, ex),
    };

    private T Deserialize<T>(string json, string what)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(json, Json) ?? throw new JsonException("null");
        }
        catch (JsonException ex)
        {
            throw new StateStoreException(StateStoreFault.Corrupt, Path, $"{what} cannot be read: {ex.Message}", ex);
        }
    }

    private DateTimeOffset ParseTime(string text, string what) =>
        DateTimeOffset.TryParseExact(text, "O", CultureInfo.InvariantCulture, DateTimeStyles.None, out var t)
            ? t
            : throw new StateStoreException(StateStoreFault.Corrupt, Path, $"{what}: '{text}' is not a timestamp");

    private TEnum ParseEnum<TEnum>(string text, string what)
        where TEnum : struct, Enum =>
        Enum.TryParse<TEnum>(text, out var value)
            ? value
            : throw new StateStoreException(StateStoreFault.Corrupt, Path, $"{what}: '{text}' is not a {typeof(TEnum).Name}");

    private static object Time(DateTimeOffset? time) => time is { } t ? t.ToString("O", CultureInfo.InvariantCulture) : DBNull.Value;
}

/// <summary>Where the state lives (design.md §6 "Storage").</summary>
public sealed class SqliteStateStoreOptions
{
    [System.ComponentModel.DataAnnotations.Required]
    public string Path { get; set; } = "state/channelmanager.db";

    /// <summary>How long a write waits for another process's lock before failing with <see cref="StateStoreFault.Locked"/>.</summary>
    [System.ComponentModel.DataAnnotations.Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan BusyTimeout { get; set; } = TimeSpan.FromSeconds(5);
}
