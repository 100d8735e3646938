using System.Text.Json;
using System.Text.Json.Serialization;
using ChannelManager.Core;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Scheduling;

namespace ChannelManager.Tests.Persistence;

/// <summary>
/// What every <see cref="IStateStore"/> + <see cref="IHeartbeatStore"/> must do, whatever it stores in (issue 6 item 4,
/// issue 7 item 2, issue 11 item 1). Each store's test class derives from this one: the SQLite store here, the PostgreSQL
/// store in the integration tests (this file is linked there), so both pass the same contract.
/// </summary>
public abstract class StateStoreContractTests
{
    protected static readonly DateTimeOffset T0 = new(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);
    private static readonly JsonSerializerOptions Json = new() { Converters = { new JsonStringEnumConverter() } };

    /// <summary>Opens the store under test; every call opens the same storage again (a second call is a restart).</summary>
    protected abstract Task<IStateStore> OpenStoreAsync();

    /// <summary>Marks the storage as written by a newer build (schema version <paramref name="version"/>), behind the store's back.</summary>
    protected abstract Task SetSchemaVersionAsync(int version);

    /// <summary>The storage's schema version as the store recorded it.</summary>
    protected abstract Task<int> ReadSchemaVersionAsync();

    /// <summary>The schema version this build of the store writes.</summary>
    protected abstract int CurrentSchemaVersion { get; }

    /// <summary>Drives the UK profile to Locked: four failed attempts at the profile's gaps (research §3.5).</summary>
    protected static List<LedgerUpdate> LockUnderUkProfile(string number)
    {
        var profile = CountryProfiles.UK;
        var ledger = new NumberLedger(number);
        var updates = new List<LedgerUpdate>();
        var t = T0;
        foreach (var code in new[] { OutcomeCode.Busy, OutcomeCode.NoAnswer, OutcomeCode.NoCarrier, OutcomeCode.Busy })
        {
            var started = RepeatCallGuard.RecordAttemptStarted(ledger, profile, t, "M1");
            updates.Add(started);
            var ended = RepeatCallGuard.RecordOutcome(started.Ledger, profile, new AttemptResult(code, t + TimeSpan.FromSeconds(5)) { Modem = "M1", RawReply = code.ToString() });
            updates.Add(ended);
            ledger = ended.Ledger;
            t = ledger.NextAllowedAt ?? t + TimeSpan.FromMinutes(10);
        }

        return updates;
    }

    [Fact]
    public async Task SaveLedgerAsync_LockedNumber_SurvivesReopenAndStillRefused()
    {
        var updates = LockUnderUkProfile("01632960002");
        Assert.Equal(LedgerState.Locked, updates[^1].Ledger.State);
        await using (var store = await OpenStoreAsync())
        {
            foreach (var u in updates)
            {
                await store.SaveLedgerAsync(u, CancellationToken.None);
            }
        }

        await using var reopened = await OpenStoreAsync();
        var loaded = Assert.Single(await reopened.LoadLedgersAsync(CancellationToken.None));

        Assert.Equal(JsonSerializer.Serialize(updates[^1].Ledger, Json), JsonSerializer.Serialize(loaded, Json));
        var decision = RepeatCallGuard.Check(loaded, CountryProfiles.UK, T0 + TimeSpan.FromDays(1));
        Assert.False(decision.Allowed);
        Assert.Equal(GuardRefusal.Locked, decision.Refusal);
    }

    [Fact]
    public async Task SaveLedgerAsync_AttemptStartedThenReopened_RecoveredAsFailedAttempt()
    {
        // research §3.1: "On restart an attempt with no on-hook record counts as failed."
        var started = RepeatCallGuard.RecordAttemptStarted(new NumberLedger("0100"), CountryProfiles.UK, T0, "M2");
        await using (var store = await OpenStoreAsync())
        {
            await store.SaveLedgerAsync(started, CancellationToken.None);
        }

        await using var reopened = await OpenStoreAsync();
        var loaded = Assert.Single(await reopened.LoadLedgersAsync(CancellationToken.None));
        Assert.NotNull(loaded.InProgress);
        var recovered = RepeatCallGuard.RecoverAfterRestart(loaded, CountryProfiles.UK, T0 + TimeSpan.FromSeconds(30)).Ledger;
        Assert.Equal(1, recovered.AttemptsInSequence);
        Assert.Null(recovered.InProgress);
        Assert.False(RepeatCallGuard.Check(recovered, CountryProfiles.UK, T0 + TimeSpan.FromSeconds(31)).Allowed);
    }

    [Fact]
    public async Task ReadLedgerEventsAsync_AfterLock_NewestFirstWithAlarmOnce()
    {
        await using var store = await OpenStoreAsync();
        var updates = LockUnderUkProfile("0200");
        foreach (var u in updates)
        {
            await store.SaveLedgerAsync(u, CancellationToken.None);
        }

        var events = await store.ReadLedgerEventsAsync(100, "0200", CancellationToken.None);

        Assert.Equal(updates.Sum(u => u.Events.Length), events.Count);
        Assert.True(events[0].At >= events[^1].At);
        Assert.Single(events, e => e.Kind == LedgerEventKind.AlarmRaised);
        Assert.Contains(events, e => e.Kind == LedgerEventKind.Locked);
        Assert.Empty(await store.ReadLedgerEventsAsync(100, "0999", CancellationToken.None));
        Assert.Equal(2, (await store.ReadLedgerEventsAsync(2, null, CancellationToken.None)).Count);
    }

    [Fact]
    public async Task SaveRetryScheduleAsync_RoundTripsSeed003Times()
    {
        var policy = BackoffPolicy.From(new BackoffOptions { Strategy = BackoffStrategyKind.Exponential, Initial = TimeSpan.FromSeconds(30), Max = TimeSpan.FromSeconds(120), MaxAttempts = 3 });
        var schedule = RetrySchedule.Initial
            .OnOutcome(policy, OutcomeCode.Success, T0, () => 0.5)
            .OnOutcome(policy, OutcomeCode.NoAnswer, T0 + TimeSpan.FromHours(1), () => 0.5);
        await using (var store = await OpenStoreAsync())
        {
            await store.SaveRetryScheduleAsync("RTU-17", schedule, CancellationToken.None);
            await store.SaveRetryScheduleAsync("RTU-18", RetrySchedule.Initial, CancellationToken.None);
        }

        await using var reopened = await OpenStoreAsync();
        var loaded = await reopened.LoadRetrySchedulesAsync(CancellationToken.None);

        Assert.Equal(2, loaded.Count);
        var rtu17 = loaded["RTU-17"];
        Assert.Equal(schedule.NextDue, rtu17.NextDue);
        Assert.Equal(T0 + TimeSpan.FromHours(1) + TimeSpan.FromSeconds(30), rtu17.NextDue);
        Assert.Equal(schedule.LastSuccess, rtu17.LastSuccess);
        Assert.Equal(schedule.LastFailure, rtu17.LastFailure);
        Assert.Equal(schedule.LastAccess, rtu17.LastAccess);
        Assert.Equal(1, rtu17.FailedAttempts);
        Assert.Null(loaded["RTU-18"].NextDue);
    }

    [Fact]
    public async Task AppendTransactionAsync_ReadBackNewestFirstAndFiltered()
    {
        await using var store = await OpenStoreAsync();
        for (var i = 0; i < 5; i++)
        {
            await store.AppendTransactionAsync(new TransactionRecord(T0.AddMinutes(i), T0.AddMinutes(i).AddSeconds(20), i % 2 == 0 ? "RTU-A" : "RTU-B", "0100", i == 4 ? OutcomeCode.Busy : OutcomeCode.Success, "M1", ["M2", "M1"], i == 4 ? "BUSY" : "CONNECT 33600"), CancellationToken.None);
        }

        var all = await store.ReadTransactionsAsync(10, null, CancellationToken.None);
        var rtuA = await store.ReadTransactionsAsync(2, "RTU-A", CancellationToken.None);

        Assert.Equal(5, all.Count);
        Assert.Equal(OutcomeCode.Busy, all[0].Code);
        Assert.Equal(["M2", "M1"], all[0].ModemsTried);
        Assert.Equal("BUSY", all[0].RawReply);
        Assert.Equal(T0.AddMinutes(4).AddSeconds(20), all[0].EndedAt);
        Assert.Equal(FaultAttribution.Outstation, all[0].CountedAgainst);
        Assert.Equal([T0.AddMinutes(4), T0.AddMinutes(2)], rtuA.Select(t => t.StartedAt));
    }

    [Fact]
    public async Task OpenAsync_NewerSchema_RefusedAndLeftUntouched()
    {
        await (await OpenStoreAsync()).DisposeAsync();
        await SetSchemaVersionAsync(99);

        var ex = await Assert.ThrowsAsync<StateStoreException>(OpenStoreAsync);

        Assert.Equal(StateStoreFault.NewerSchema, ex.Fault);
        Assert.Contains("99", ex.Message, StringComparison.Ordinal);
        Assert.Equal(99, await ReadSchemaVersionAsync());
    }

    [Fact]
    public async Task OpenAsync_Twice_MigratesOnceAndKeepsData()
    {
        await using (var store = await OpenStoreAsync())
        {
            await store.SaveRetryScheduleAsync("RTU-1", RetrySchedule.Initial, CancellationToken.None);
        }

        await using var again = await OpenStoreAsync();
        Assert.Single(await again.LoadRetrySchedulesAsync(CancellationToken.None));
        Assert.Equal(CurrentSchemaVersion, await ReadSchemaVersionAsync());
    }

    [Fact]
    public async Task SaveHeartbeatAsync_LearnedValue_SurvivesReopenAndRestoresTheSameState()
    {
        var limits = HeartbeatLimits.From(new HeartbeatOptions());
        var learned = AdaptiveHeartbeat.Start(limits).AfterSuccess().AfterSuccess().AfterTimeout();   // 8 min, failed 13
        await using (var store = await OpenStoreAsync())
        {
            var heartbeats = Assert.IsAssignableFrom<IHeartbeatStore>(store);
            await heartbeats.SaveHeartbeatAsync("RTU-IP-1", new LearnedHeartbeat(learned.Interval, learned.LastFailed, T0), CancellationToken.None);
            await heartbeats.SaveHeartbeatAsync("RTU-IP-2", new LearnedHeartbeat(TimeSpan.FromMinutes(18), null, T0), CancellationToken.None);
        }

        await using var reopened = await OpenStoreAsync();
        var again = Assert.IsAssignableFrom<IHeartbeatStore>(reopened);
        var one = await again.LoadHeartbeatAsync("RTU-IP-1", CancellationToken.None);
        var two = await again.LoadHeartbeatAsync("RTU-IP-2", CancellationToken.None);
        var none = await again.LoadHeartbeatAsync("RTU-IP-3", CancellationToken.None);

        Assert.Equal(new LearnedHeartbeat(TimeSpan.FromMinutes(8), TimeSpan.FromMinutes(13), T0), one);
        Assert.Equal(new LearnedHeartbeat(TimeSpan.FromMinutes(18), null, T0), two);
        Assert.Null(none);
        // ! : asserted non-null above.
        var restored = AdaptiveHeartbeat.Restore(limits, one!.Interval, one.LastFailed);
        Assert.True(restored.IsSettled);
        Assert.Equal(learned.Interval, restored.Interval);
    }

    [Fact]
    public async Task SaveHeartbeatAsync_SecondSave_ReplacesTheRow()
    {
        await using var store = await OpenStoreAsync();
        var heartbeats = Assert.IsAssignableFrom<IHeartbeatStore>(store);
        await heartbeats.SaveHeartbeatAsync("A", new LearnedHeartbeat(TimeSpan.FromSeconds(90), TimeSpan.FromSeconds(120), T0), CancellationToken.None);
        await heartbeats.SaveHeartbeatAsync("A", new LearnedHeartbeat(TimeSpan.FromSeconds(60), null, T0.AddHours(1)), CancellationToken.None);

        Assert.Equal(new LearnedHeartbeat(TimeSpan.FromSeconds(60), null, T0.AddHours(1)), await heartbeats.LoadHeartbeatAsync("A", CancellationToken.None));
    }
}
