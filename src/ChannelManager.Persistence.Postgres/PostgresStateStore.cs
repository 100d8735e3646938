using System.Data;
using System.Text.Json;
using System.Text.Json.Serialization;
using ChannelManager.Core;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Scheduling;
using Npgsql;
using NpgsqlTypes;

namespace ChannelManager.Persistence.Postgres;

/// <summary>
/// <see cref="IStateStore"/> in one PostgreSQL database that redundant hosts share (issue 11 item 1). Numbered schema
/// migrations are recorded in <c>schema_version</c>; a database written by a newer build is refused untouched, as the
/// SQLite store refuses a newer file. Every call takes a pooled connection of its own (no connection is held between
/// calls, so a database fail-over or a restarted server costs one failed call, not the store). As
/// <see cref="ISharedLedgerStore"/> it does the repeat-call guard's check-and-record in one transaction that holds the
/// number's ledger row (<c>SELECT … FOR UPDATE</c>), so two hosts can never both pass the guard on one ledger state.
/// </summary>
/// <remarks>
/// Times are stored as <c>timestamptz</c> (microseconds, UTC); the ledger and retry schedules are stored whole as JSON
/// (exact), with their queryable fields beside them as columns, like the SQLite store.
/// </remarks>
public sealed partial class PostgresStateStore : IStateStore, ISharedLedgerStore
{
    /// <summary>Schema migrations, applied in order; index + 1 is the schema version. Never edit a shipped one: append.</summary>
    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE ledger (
            number text PRIMARY KEY,
            state text NOT NULL,
            next_allowed_at timestamptz,
            updated_at timestamptz NOT NULL,
            in_progress_host text,
            body jsonb NOT NULL);
        CREATE INDEX ix_ledger_in_progress_host ON ledger (in_progress_host) WHERE in_progress_host IS NOT NULL;
        CREATE TABLE ledger_event (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at timestamptz NOT NULL,
            number text NOT NULL,
            kind text NOT NULL,
            detail text NOT NULL,
            operator text,
            modem text,
            host text NOT NULL);
        CREATE INDEX ix_ledger_event_number ON ledger_event (number, id);
        CREATE TABLE retry_schedule (
            outstation text PRIMARY KEY,
            next_due timestamptz,
            failed_attempts integer NOT NULL,
            last_access timestamptz,
            last_success timestamptz,
            last_failure timestamptz,
            body jsonb NOT NULL);
        CREATE TABLE transaction_log (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            started_at timestamptz NOT NULL,
            ended_at timestamptz NOT NULL,
            outstation text NOT NULL,
            number text NOT NULL,
            code text NOT NULL,
            category text NOT NULL,
            modem text,
            modems_tried jsonb NOT NULL,
            raw_reply text NOT NULL,
            host text NOT NULL);
        CREATE INDEX ix_transaction_log_outstation ON transaction_log (outstation, id);
        CREATE TABLE heartbeat (
            outstation text PRIMARY KEY,
            interval_ticks bigint NOT NULL,
            last_failed_ticks bigint,
            updated_at timestamptz NOT NULL);
        """,
        LeaseMigration,
    ];

    /// <summary>pg_advisory_xact_lock key ("CMSCHEMA"): two hosts starting at once migrate one after the other.</summary>
    private const long MigrationLockKey = 0x434D_5343_4845_4D41;

    /// <summary>How often a transaction the server aborted as a serialization failure or deadlock is tried again.</summary>
    private const int MaxTransactionTries = 5;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.General)
    {
        Converters = { new JsonStringEnumConverter() },
    };

    private readonly NpgsqlDataSource _dataSource;

    private readonly PostgresLedgerClock _ledgerClock;

    private PostgresStateStore(NpgsqlDataSource dataSource, string path, string hostId, PostgresLedgerClock ledgerClock)
    {
        _dataSource = dataSource;
        Path = path;
        HostId = hostId;
        _ledgerClock = ledgerClock;
    }

    /// <summary>Where the store is, for messages: <c>postgres://host:port/database</c> (never the password).</summary>
    public string Path { get; }

    public string HostId { get; }

    public static int SchemaVersion => Migrations.Length;

    /// <summary>Connects, checks the schema version and migrates (one host at a time); the database must exist.</summary>
    public static async Task<PostgresStateStore> OpenAsync(PostgresStateStoreOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.HostId);
        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(options.ConnectionString) { CommandTimeout = (int)Math.Ceiling(options.CommandTimeout.TotalSeconds) };
        }
        catch (ArgumentException ex)
        {
            // Bad config is an exception (project rules); the message names the key, never echoes the whole string.
            throw new ArgumentException($"Storage.ConnectionString is not a valid PostgreSQL connection string: {ex.Message}", nameof(options), ex);
        }

        var path = Describe(builder);
        var dataSource = NpgsqlDataSource.Create(builder);
        try
        {
            await MigrateAsync(dataSource, path, cancellationToken).ConfigureAwait(false);
            return new PostgresStateStore(dataSource, path, options.HostId, options.LedgerClock);
        }
        catch (NpgsqlException ex)
        {
            await dataSource.DisposeAsync().ConfigureAwait(false);
            throw Map(ex, path);
        }
        catch
        {
            await dataSource.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task MigrateAsync(NpgsqlDataSource dataSource, string path, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);
        await using (var lockCmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock(@key);", connection, tx))
        {
            lockCmd.Parameters.AddWithValue("key", MigrationLockKey);
            await lockCmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await using (var create = new NpgsqlCommand("CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());", connection, tx))
        {
            await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        int version;
        await using (var read = new NpgsqlCommand("SELECT coalesce(max(version), 0) FROM schema_version;", connection, tx))
        {
            version = Convert.ToInt32(await read.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
        }

        if (version > Migrations.Length)
        {
            await tx.RollbackAsync(cancellationToken).ConfigureAwait(false);
            throw new StateStoreException(StateStoreFault.NewerSchema, path, $"schema version {version} is newer than this build knows ({Migrations.Length}); the database was left untouched");
        }

        for (var v = version; v < Migrations.Length; v++)
        {
            await using var migrate = new NpgsqlCommand(Migrations[v], connection, tx);
            await migrate.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            await using var record = new NpgsqlCommand("INSERT INTO schema_version (version) VALUES (@v);", connection, tx);
            record.Parameters.AddWithValue("v", v + 1);
            await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task<IReadOnlyList<NumberLedger>> LoadLedgersAsync(CancellationToken cancellationToken) => RunAsync<IReadOnlyList<NumberLedger>>(async (connection, ct) =>
    {
        var result = new List<NumberLedger>();
        await using var cmd = new NpgsqlCommand("SELECT number, body::text FROM ledger ORDER BY number;", connection);
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
        return RunAsync(async (connection, ct) =>
        {
            await using var tx = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, ct).ConfigureAwait(false);
            await WriteLedgerAsync(connection, tx, update, ct).ConfigureAwait(false);
            await tx.CommitAsync(ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);
    }

    public Task<NumberLedger> UpdateLedgerAsync(string number, Func<NumberLedger, LedgerUpdate?> change, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(number);
        ArgumentNullException.ThrowIfNull(change);
        return UpdateCoreAsync(number, null, (ledger, _, _) => change(ledger), cancellationToken);
    }

    public Task<NumberLedger> UpdateLedgerAsync(string number, DateTimeOffset hostNow, Func<NumberLedger, DateTimeOffset, LedgerUpdate?> change, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(number);
        ArgumentNullException.ThrowIfNull(change);
        return UpdateCoreAsync(number, hostNow, (ledger, _, at) => change(ledger, at), cancellationToken);
    }

    public Task<IReadOnlyList<LedgerUpdate>> RecoverAttemptsOfHostAsync(string hostId, DateTimeOffset hostNow, Func<NumberLedger, DateTimeOffset, LedgerUpdate> recover, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(hostId);
        ArgumentNullException.ThrowIfNull(recover);
        return RunAsync<IReadOnlyList<LedgerUpdate>>(async (connection, ct) =>
        {
            var numbers = new List<string>();
            await using (var cmd = new NpgsqlCommand("SELECT number FROM ledger WHERE in_progress_host = @host ORDER BY number;", connection))
            {
                cmd.Parameters.AddWithValue("host", hostId);
                await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    numbers.Add(reader.GetString(0));
                }
            }

            var updates = new List<LedgerUpdate>();
            foreach (var number in numbers)
            {
                LedgerUpdate? made = null;
                // Checked again under the row lock: the attempt may have ended, or another host may have recovered it, since the SELECT above.
                await UpdateCoreAsync(number, hostNow, (ledger, host, at) => made = ledger.InProgress is not null && string.Equals(host, hostId, StringComparison.Ordinal) ? recover(ledger, at) : null, ct).ConfigureAwait(false);
                if (made is not null)
                    updates.Add(made);
            }

            return updates;
        }, cancellationToken);
    }

    /// <summary>
    /// One number's read-decide-write in one transaction. READ COMMITTED with the row locked FOR UPDATE: a second host's
    /// transaction on the same number waits at the SELECT and then reads the first one's committed ledger (PostgreSQL
    /// re-reads the newest row version for a locking read), so each decision is made on the latest state.
    /// </summary>
    /// <param name="hostNow">
    /// Null: the change needs no time. Otherwise the time the change is given — the database's <c>clock_timestamp()</c>
    /// read after the row lock (<see cref="PostgresLedgerClock.Database"/>: one clock for every host, scale-out §6 item 5),
    /// or this value (<see cref="PostgresLedgerClock.Host"/>).
    /// </param>
    private async Task<NumberLedger> UpdateCoreAsync(string number, DateTimeOffset? hostNow, Func<NumberLedger, string?, DateTimeOffset, LedgerUpdate?> change, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await RunAsync(async (connection, ct) =>
                {
                    await using var tx = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, ct).ConfigureAwait(false);
                    // Make sure there is a row to lock (a never-dialled number); rolled back below if nothing changes.
                    await using (var insert = new NpgsqlCommand("INSERT INTO ledger (number, state, updated_at, body) VALUES (@number, @state, now(), @body) ON CONFLICT (number) DO NOTHING;", connection, tx))
                    {
                        var fresh = new NumberLedger(number);
                        insert.Parameters.AddWithValue("number", number);
                        insert.Parameters.AddWithValue("state", fresh.State.ToString());
                        insert.Parameters.AddWithValue("body", NpgsqlDbType.Jsonb, JsonSerializer.Serialize(fresh, Json));
                        await insert.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                    }

                    NumberLedger current;
                    string? host;
                    await using (var select = new NpgsqlCommand("SELECT body::text, in_progress_host FROM ledger WHERE number = @number FOR UPDATE;", connection, tx))
                    {
                        select.Parameters.AddWithValue("number", number);
                        await using var reader = await select.ExecuteReaderAsync(ct).ConfigureAwait(false);
                        if (!await reader.ReadAsync(ct).ConfigureAwait(false))
                            throw new StateStoreException(StateStoreFault.Corrupt, Path, $"ledger of {number} vanished inside its own transaction");
                        current = Deserialize<NumberLedger>(reader.GetString(0), $"ledger of {number}");
                        host = reader.IsDBNull(1) ? null : reader.GetString(1);
                    }

                    var at = hostNow ?? default;
                    if (hostNow is not null && _ledgerClock == PostgresLedgerClock.Database)
                    {
                        // Read after the lock wait, so the time is not older than the row it is compared with.
                        await using var clock = new NpgsqlCommand("SELECT clock_timestamp();", connection, tx);
                        await using var reader = await clock.ExecuteReaderAsync(ct).ConfigureAwait(false);
                        await reader.ReadAsync(ct).ConfigureAwait(false);
                        at = reader.GetFieldValue<DateTimeOffset>(0);
                    }

                    var update = change(current, host, at);
                    if (update is null)
                    {
                        await tx.RollbackAsync(ct).ConfigureAwait(false);
                        return current;
                    }

                    if (!string.Equals(update.Ledger.Number, number, StringComparison.Ordinal))
                        throw new InvalidOperationException($"The change of {number}'s ledger returned the ledger of {update.Ledger.Number}.");
                    await WriteLedgerAsync(connection, tx, update, ct).ConfigureAwait(false);
                    await tx.CommitAsync(ct).ConfigureAwait(false);
                    return update.Ledger;
                }, cancellationToken).ConfigureAwait(false);
            }
            catch (StateStoreException ex) when (attempt < MaxTransactionTries && ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected })
            {
                // The server rolled the whole transaction back; deciding again on the newest row is safe (the change is pure).
            }
        }
    }

    private async Task WriteLedgerAsync(NpgsqlConnection connection, NpgsqlTransaction tx, LedgerUpdate update, CancellationToken cancellationToken)
    {
        await CheckFenceAsync(connection, tx, cancellationToken).ConfigureAwait(false);
        var ledger = update.Ledger;
        await using (var cmd = new NpgsqlCommand(
            """
            INSERT INTO ledger (number, state, next_allowed_at, updated_at, in_progress_host, body) VALUES (@number, @state, @next, coalesce(@updated, now()), @host, @body)
            ON CONFLICT (number) DO UPDATE SET state = excluded.state, next_allowed_at = excluded.next_allowed_at,
                updated_at = excluded.updated_at, in_progress_host = excluded.in_progress_host, body = excluded.body;
            """, connection, tx))
        {
            cmd.Parameters.AddWithValue("number", ledger.Number);
            cmd.Parameters.AddWithValue("state", ledger.State.ToString());
            cmd.Parameters.Add(Time("next", ledger.NextAllowedAt));
            cmd.Parameters.Add(Time("updated", update.Events.Length > 0 ? update.Events[^1].At : ledger.LastOnHook ?? ledger.LastOffHook));
            cmd.Parameters.Add(new NpgsqlParameter<string?>("host", NpgsqlDbType.Text) { TypedValue = ledger.InProgress is null ? null : HostId });
            cmd.Parameters.AddWithValue("body", NpgsqlDbType.Jsonb, JsonSerializer.Serialize(ledger, Json));
            await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        foreach (var e in update.Events)
        {
            await using var cmd = new NpgsqlCommand("INSERT INTO ledger_event (at, number, kind, detail, operator, modem, host) VALUES (@at, @number, @kind, @detail, @operator, @modem, @host);", connection, tx);
            cmd.Parameters.Add(Time("at", e.At));
            cmd.Parameters.AddWithValue("number", e.Number);
            cmd.Parameters.AddWithValue("kind", e.Kind.ToString());
            cmd.Parameters.AddWithValue("detail", e.Detail);
            cmd.Parameters.Add(Text("operator", e.Operator));
            cmd.Parameters.Add(Text("modem", e.Modem));
            cmd.Parameters.AddWithValue("host", HostId);
            await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public Task<IReadOnlyDictionary<string, RetrySchedule>> LoadRetrySchedulesAsync(CancellationToken cancellationToken) => RunAsync<IReadOnlyDictionary<string, RetrySchedule>>(async (connection, ct) =>
    {
        var result = new Dictionary<string, RetrySchedule>(StringComparer.Ordinal);
        await using var cmd = new NpgsqlCommand("SELECT outstation, body::text FROM retry_schedule ORDER BY outstation;", connection);
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
        return RunAsync(async (connection, ct) =>
        {
            await using var tx = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, ct).ConfigureAwait(false);
            await CheckFenceAsync(connection, tx, ct).ConfigureAwait(false);
            await using var cmd = new NpgsqlCommand(
                """
                INSERT INTO retry_schedule (outstation, next_due, failed_attempts, last_access, last_success, last_failure, body)
                VALUES (@outstation, @next, @failed, @access, @success, @failure, @body)
                ON CONFLICT (outstation) DO UPDATE SET next_due = excluded.next_due, failed_attempts = excluded.failed_attempts,
                    last_access = excluded.last_access, last_success = excluded.last_success, last_failure = excluded.last_failure, body = excluded.body;
                """, connection, tx);
            cmd.Parameters.AddWithValue("outstation", outstation);
            cmd.Parameters.Add(Time("next", schedule.NextDue));
            cmd.Parameters.AddWithValue("failed", schedule.FailedAttempts);
            cmd.Parameters.Add(Time("access", schedule.LastAccess));
            cmd.Parameters.Add(Time("success", schedule.LastSuccess));
            cmd.Parameters.Add(Time("failure", schedule.LastFailure));
            cmd.Parameters.AddWithValue("body", NpgsqlDbType.Jsonb, JsonSerializer.Serialize(schedule, Json));
            await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            await tx.CommitAsync(ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);
    }

    public Task AppendTransactionAsync(TransactionRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        return RunAsync(async (connection, ct) =>
        {
            await using var cmd = new NpgsqlCommand(
                """
                INSERT INTO transaction_log (started_at, ended_at, outstation, number, code, category, modem, modems_tried, raw_reply, host)
                VALUES (@started, @ended, @outstation, @number, @code, @category, @modem, @tried, @raw, @host);
                """, connection);
            cmd.Parameters.Add(Time("started", record.StartedAt));
            cmd.Parameters.Add(Time("ended", record.EndedAt));
            cmd.Parameters.AddWithValue("outstation", record.Outstation);
            cmd.Parameters.AddWithValue("number", record.Number);
            cmd.Parameters.AddWithValue("code", record.Code.ToString());
            cmd.Parameters.AddWithValue("category", record.Category.ToString());
            cmd.Parameters.Add(Text("modem", record.Modem));
            cmd.Parameters.AddWithValue("tried", NpgsqlDbType.Jsonb, JsonSerializer.Serialize(record.ModemsTried, Json));
            cmd.Parameters.AddWithValue("raw", record.RawReply);
            cmd.Parameters.AddWithValue("host", HostId);
            await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);
    }

    public Task<IReadOnlyList<TransactionRecord>> ReadTransactionsAsync(int max, string? outstation, CancellationToken cancellationToken) => RunAsync<IReadOnlyList<TransactionRecord>>(async (connection, ct) =>
    {
        await using var cmd = new NpgsqlCommand(
            """
            SELECT started_at, ended_at, outstation, number, code, modem, modems_tried::text, raw_reply FROM transaction_log
            WHERE @outstation::text IS NULL OR outstation = @outstation ORDER BY id DESC LIMIT @max;
            """, connection);
        cmd.Parameters.Add(Text("outstation", outstation));
        cmd.Parameters.AddWithValue("max", Math.Max(0, max));
        var result = new List<TransactionRecord>();
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            var started = reader.GetFieldValue<DateTimeOffset>(0);
            var what = $"transaction of {reader.GetString(2)} at {started:O}";
            result.Add(new TransactionRecord(
                started,
                reader.GetFieldValue<DateTimeOffset>(1),
                reader.GetString(2),
                reader.GetString(3),
                ParseEnum<OutcomeCode>(reader.GetString(4), what),
                reader.IsDBNull(5) ? null : reader.GetString(5),
                Deserialize<string[]>(reader.GetString(6), what),
                reader.GetString(7)));
        }

        return result;
    }, cancellationToken);

    public Task<IReadOnlyList<LedgerEvent>> ReadLedgerEventsAsync(int max, string? number, CancellationToken cancellationToken) => RunAsync<IReadOnlyList<LedgerEvent>>(async (connection, ct) =>
    {
        await using var cmd = new NpgsqlCommand("SELECT at, number, kind, detail, operator, modem FROM ledger_event WHERE @number::text IS NULL OR number = @number ORDER BY id DESC LIMIT @max;", connection);
        cmd.Parameters.Add(Text("number", number));
        cmd.Parameters.AddWithValue("max", Math.Max(0, max));
        var result = new List<LedgerEvent>();
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            var at = reader.GetFieldValue<DateTimeOffset>(0);
            var what = $"ledger event of {reader.GetString(1)} at {at:O}";
            result.Add(new LedgerEvent(at, reader.GetString(1), ParseEnum<LedgerEventKind>(reader.GetString(2), what), reader.GetString(3))
            {
                Operator = reader.IsDBNull(4) ? null : reader.GetString(4),
                Modem = reader.IsDBNull(5) ? null : reader.GetString(5),
            });
        }

        return result;
    }, cancellationToken);

    public async ValueTask DisposeAsync() => await _dataSource.DisposeAsync().ConfigureAwait(false);

    private async Task<T> RunAsync<T>(Func<NpgsqlConnection, CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            return await work(connection, cancellationToken).ConfigureAwait(false);
        }
        catch (NpgsqlException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw Map(ex, Path);
        }
    }

    /// <summary>PostgreSQL SQLSTATEs (postgresql.org/docs/current/errcodes-appendix.html) to what an operator must do about them.</summary>
    internal static StateStoreException Map(NpgsqlException ex, string path) => ex switch
    {
        PostgresException { SqlState: PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.LockNotAvailable or PostgresErrorCodes.QueryCanceled } pg =>
            new StateStoreException(StateStoreFault.Locked, path, $"another host holds the rows locked ({pg.SqlState}: {pg.MessageText})", ex),
        PostgresException { SqlState: PostgresErrorCodes.DiskFull } pg =>
            new StateStoreException(StateStoreFault.Unavailable, path, $"no space left for the database (disk full); free space, then retry ({pg.MessageText})", ex),
        PostgresException { SqlState: PostgresErrorCodes.DataCorrupted or PostgresErrorCodes.IndexCorrupted } pg =>
            new StateStoreException(StateStoreFault.Corrupt, path, $"the database reports corrupt data ({pg.SqlState}: {pg.MessageText})", ex),
        PostgresException pg =>
            new StateStoreException(StateStoreFault.Unavailable, path, $"{pg.SqlState}: {pg.MessageText}", ex),
        // CommandTimeout: Npgsql cancels the statement and reports the timeout. Almost always a row another host holds
        // (the guard's FOR UPDATE) — "beyond the busy timeout", as SQLite's SQLITE_BUSY.
        { InnerException: TimeoutException } =>
            new StateStoreException(StateStoreFault.Locked, path, $"a statement timed out: rows locked by another host, or the server is overloaded ({ex.Message})", ex),
        _ => new StateStoreException(StateStoreFault.Unavailable, path, $"cannot reach the database server ({ex.Message})", ex),
    };

    private static string Describe(NpgsqlConnectionStringBuilder builder) =>
        $"postgres://{builder.Host}:{builder.Port}/{builder.Database ?? builder.Username}";

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

    private TEnum ParseEnum<TEnum>(string text, string what)
        where TEnum : struct, Enum =>
        Enum.TryParse<TEnum>(text, out var value)
            ? value
            : throw new StateStoreException(StateStoreFault.Corrupt, Path, $"{what}: '{text}' is not a {typeof(TEnum).Name}");

    /// <summary>timestamptz takes UTC only (Npgsql refuses other offsets); the instant is what is stored.</summary>
    private static NpgsqlParameter<DateTimeOffset?> Time(string name, DateTimeOffset? time) =>
        new(name, NpgsqlDbType.TimestampTz) { TypedValue = time?.ToUniversalTime() };

    private static NpgsqlParameter<string?> Text(string name, string? value) =>
        new(name, NpgsqlDbType.Text) { TypedValue = value };
}

/// <summary>Where the shared state lives (issue 11: <c>Storage: { Provider: "Postgres", ConnectionString: … }</c>).</summary>
public sealed class PostgresStateStoreOptions
{
    /// <summary>An Npgsql connection string; the database must exist (the store creates its tables, not the database).</summary>
    [System.ComponentModel.DataAnnotations.Required]
    public string ConnectionString { get; set; } = string.Empty;

    /// <summary>This host's name in the shared tables (whose attempt is in progress, who wrote an event). Unique per host.</summary>
    [System.ComponentModel.DataAnnotations.Required]
    public string HostId { get; set; } = Environment.MachineName;

    /// <summary>How long one statement may wait (for a row another host holds, or a slow server) before failing.</summary>
    [System.ComponentModel.DataAnnotations.Range(typeof(TimeSpan), "00:00:01", "00:05:00")]
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Whose clock the shared repeat-call guard decides and records attempts on (docs/scale-out.md §3.1).</summary>
    public PostgresLedgerClock LedgerClock { get; set; } = PostgresLedgerClock.Database;
}

/// <summary>The clock of the shared guard's check-and-record (<see cref="ISharedLedgerStore"/>).</summary>
public enum PostgresLedgerClock
{
    /// <summary>
    /// The database's <c>clock_timestamp()</c> inside the transaction: every host decides on one clock, so a host whose
    /// clock is skewed cannot shorten a gap at a takeover (scale-out §6 item 5). The default.
    /// </summary>
    Database,
    /// <summary>The caller's time (the host's TimeProvider): for tests that drive the guard with a fake clock.</summary>
    Host,
}
