using System.Collections.Concurrent;
using ChannelManager.Core;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Scheduling;
using ChannelManager.Persistence.Postgres;

namespace ChannelManager.IntegrationTests.Persistence;

/// <summary>
/// Issue 11 acceptance: "a concurrency test hammering the guard from both hosts at once finds no violation". Two hosts =
/// two <see cref="PostgresStateStore"/>s, each with its own NpgsqlDataSource (own connection pool), each under its own
/// <see cref="RepeatCallBook"/>, against the real server. Time is fake: rounds 30 s apart; in each round every task of
/// both hosts asks to dial every number at once, and a dial that is allowed fails (NO ANSWER) 20 s later. Every allowed
/// dial is then replayed, in time order, through the pure guard with the profile's rules: each must be one the guard
/// allows, and there must be exactly as many as one caller alone would get (the rules are reached, not just obeyed).
/// </summary>
public sealed class SharedRepeatCallLedgerTests : PostgresDatabaseTest
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Round = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan CallLength = TimeSpan.FromSeconds(20);
    private static readonly string[] Numbers = ["01632960101", "01632960102", "01632960103"];

    private sealed record Dial(string Number, DateTimeOffset At, string Host, string Modem);

    [Theory]
    [InlineData("UK", 40)]   // 4 attempts, gaps 120/240/360 s, then locked (operator reset only)
    [InlineData("DE", 40)]   // 12 attempts 30 s apart, then locked
    public async Task TryBeginAttemptAsync_TwoHostsHammerTheSameNumbers_NeverMoreDialsThanTheProfileAllows(string profileName, int rounds)
    {
        var profile = CountryProfiles.Get(profileName);
        await using var storeA = await PostgresTestServer.OpenStoreAsync(Database, "host-a");
        await using var storeB = await PostgresTestServer.OpenStoreAsync(Database, "host-b");
        var books = new[] { ("host-a", new RepeatCallBook(profile, storeA)), ("host-b", new RepeatCallBook(profile, storeB)) };

        var dials = await HammerAsync(books, rounds, tasksPerHost: 6).WaitAsync(TimeSpan.FromMinutes(3));

        foreach (var number in Numbers)
        {
            var mine = dials.Where(d => d.Number == number).OrderBy(d => d.At).ToList();
            Assert.Empty(Violations(mine, profile));
            Assert.Equal(ReferenceDialCount(profile, rounds), mine.Count);
            Assert.True(mine.Count <= profile.MaxAttempts, $"{number}: {mine.Count} dials > {profile.MaxAttempts}");
        }

        // Both hosts really took part (the row lock, not one host winning every race, is what was tested).
        Assert.Equal(2, dials.Select(d => d.Host).Distinct().Count());
        var persisted = (await storeA.LoadLedgersAsync(CancellationToken.None)).ToDictionary(l => l.Number);
        Assert.All(Numbers, n => Assert.Equal(dials.Count(d => d.Number == n), persisted[n].Recent.Count(r => r.Counted)));
    }

    /// <summary>
    /// The detector above can fail: the same hammer on the same database through a store that hides
    /// <see cref="ISharedLedgerStore"/> (each host decides on its own in-memory copy, as a single-host store does) dials
    /// more often than the profile allows.
    /// </summary>
    [Fact]
    public async Task TryBeginAttemptAsync_TwoHostsWithoutTheSharedLedger_ExceedTheProfile()
    {
        var profile = CountryProfiles.UK;
        await using var storeA = await PostgresTestServer.OpenStoreAsync(Database, "host-a");
        await using var storeB = await PostgresTestServer.OpenStoreAsync(Database, "host-b");
        var books = new[] { ("host-a", new RepeatCallBook(profile, new LocalOnly(storeA))), ("host-b", new RepeatCallBook(profile, new LocalOnly(storeB))) };

        var dials = await HammerAsync(books, rounds: 40, tasksPerHost: 6).WaitAsync(TimeSpan.FromMinutes(3));

        Assert.All(Numbers, n => Assert.NotEmpty(Violations(dials.Where(d => d.Number == n).OrderBy(d => d.At).ToList(), profile)));
    }

    [Fact]
    public async Task LoadAsync_HostRestartsWithItsOwnAndAPeersAttemptOpen_OnlyItsOwnIsCountedAsFailed()
    {
        var profile = CountryProfiles.UK;
        await using var storeA = await PostgresTestServer.OpenStoreAsync(Database, "host-a");
        await using var storeB = await PostgresTestServer.OpenStoreAsync(Database, "host-b");
        Assert.True((await new RepeatCallBook(profile, storeA).TryBeginAttemptAsync(Numbers[0], T0, "A1", CancellationToken.None)).Allowed);
        var peer = new RepeatCallBook(profile, storeB);
        Assert.True((await peer.TryBeginAttemptAsync(Numbers[1], T0, "B1", CancellationToken.None)).Allowed);

        // host-a crashed mid-dial and starts again.
        await using var restartedStore = await PostgresTestServer.OpenStoreAsync(Database, "host-a");
        var restarted = new RepeatCallBook(profile, restartedStore);
        var recovered = await restarted.LoadAsync(T0.AddMinutes(1), CancellationToken.None);

        Assert.Equal(Numbers[0], Assert.Single(recovered).Ledger.Number);
        Assert.Null(restarted.LedgerOf(Numbers[0]).InProgress);
        Assert.Equal(1, restarted.LedgerOf(Numbers[0]).AttemptsInSequence);
        Assert.NotNull(restarted.LedgerOf(Numbers[1]).InProgress);
        // The peer's dial is still its own: it records the outcome, and host-a may not dial that number meanwhile.
        Assert.Equal(GuardRefusal.AttemptInProgress, (await restarted.TryBeginAttemptAsync(Numbers[1], T0.AddMinutes(1), "A1", CancellationToken.None)).Refusal);
        var done = await peer.CompleteAsync(Numbers[1], new AttemptResult(OutcomeCode.Success, T0.AddMinutes(2)) { Modem = "B1" });
        Assert.Null(done.Ledger.InProgress);
        Assert.Equal(OutcomeCode.Success, done.Ledger.LastOutcome);
    }

    [Fact]
    public async Task CompleteAsync_PeerClosedTheAttemptAsFailedMeanwhile_ConservativeRecordStands()
    {
        var profile = CountryProfiles.UK;
        await using var storeA = await PostgresTestServer.OpenStoreAsync(Database, "host-a");
        await using var storeB = await PostgresTestServer.OpenStoreAsync(Database, "host-b");
        var a = new RepeatCallBook(profile, storeA);
        Assert.True((await a.TryBeginAttemptAsync(Numbers[0], T0, "A1", CancellationToken.None)).Allowed);

        // host-b took host-a for dead and closed its attempt (research §3.1: counted as failed).
        await storeB.RecoverAttemptsOfHostAsync("host-a", T0.AddSeconds(40), (l, at) => RepeatCallGuard.RecoverAfterRestart(l, profile, at), CancellationToken.None);
        var late = await a.CompleteAsync(Numbers[0], new AttemptResult(OutcomeCode.Success, T0.AddSeconds(50)) { Modem = "A1" });

        Assert.Empty(late.Events);
        var stored = Assert.Single(await storeB.LoadLedgersAsync(CancellationToken.None));
        Assert.Equal(1, stored.AttemptsInSequence);
        Assert.NotEqual(OutcomeCode.Success, stored.LastOutcome);
    }

    private static async Task<List<Dial>> HammerAsync((string Host, RepeatCallBook Book)[] books, int rounds, int tasksPerHost)
    {
        var dials = new ConcurrentBag<Dial>();
        for (var r = 0; r < rounds; r++)
        {
            var now = T0 + (Round * r);
            var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var tasks = new List<Task>();
            foreach (var (host, book) in books)
            {
                for (var t = 0; t < tasksPerHost; t++)
                {
                    var modem = $"{host}-M{t}";
                    var offset = t;
                    tasks.Add(Task.Run(async () =>
                    {
                        await start.Task;
                        for (var i = 0; i < Numbers.Length; i++)
                        {
                            var number = Numbers[(i + offset) % Numbers.Length];
                            var decision = await book.TryBeginAttemptAsync(number, now, modem, CancellationToken.None);
                            if (!decision.Allowed)
                                continue;
                            dials.Add(new Dial(number, now, host, modem));
                            await book.CompleteAsync(number, new AttemptResult(OutcomeCode.NoAnswer, now + CallLength) { Modem = modem, RawReply = "NO ANSWER" });
                        }
                    }));
                }
            }

            start.SetResult();
            await Task.WhenAll(tasks);
        }

        return [.. dials];
    }

    /// <summary>Replays the dials through the pure guard in time order; returns each dial the profile's rules refuse.</summary>
    private static List<string> Violations(IReadOnlyList<Dial> dials, CountryProfile profile)
    {
        var violations = new List<string>();
        var ledger = dials.Count > 0 ? new NumberLedger(dials[0].Number) : null;
        foreach (var d in dials)
        {
            // ! : set above when there is at least one dial.
            var check = RepeatCallGuard.Check(ledger!, profile, d.At, d.Modem);
            if (!check.Allowed)
            {
                // The replay ledger keeps only lawful dials: the next dial is judged against what the rules allowed.
                violations.Add($"{d.Number} at {d.At:T} by {d.Host}/{d.Modem}: {check.Refusal}");
                continue;
            }

            var started = RepeatCallGuard.RecordAttemptStarted(ledger!, profile, d.At, d.Modem).Ledger;
            ledger = RepeatCallGuard.RecordOutcome(started, profile, new AttemptResult(OutcomeCode.NoAnswer, d.At + CallLength)).Ledger;
        }

        return violations;
    }

    /// <summary>How many dials one lone caller asking every round gets under the profile (the same rounds, the same calls).</summary>
    private static int ReferenceDialCount(CountryProfile profile, int rounds)
    {
        var ledger = new NumberLedger("reference");
        var count = 0;
        for (var r = 0; r < rounds; r++)
        {
            var now = T0 + (Round * r);
            if (!RepeatCallGuard.Check(ledger, profile, now).Allowed)
                continue;
            count++;
            var started = RepeatCallGuard.RecordAttemptStarted(ledger, profile, now).Ledger;
            ledger = RepeatCallGuard.RecordOutcome(started, profile, new AttemptResult(OutcomeCode.NoAnswer, now + CallLength)).Ledger;
        }

        return count;
    }

    /// <summary>The same database, but without <see cref="ISharedLedgerStore"/>: the book decides on its own copy.</summary>
    private sealed class LocalOnly(IStateStore inner) : IStateStore
    {
        public Task<IReadOnlyList<NumberLedger>> LoadLedgersAsync(CancellationToken cancellationToken) => inner.LoadLedgersAsync(cancellationToken);

        public Task SaveLedgerAsync(LedgerUpdate update, CancellationToken cancellationToken) => inner.SaveLedgerAsync(update, cancellationToken);

        public Task<IReadOnlyDictionary<string, RetrySchedule>> LoadRetrySchedulesAsync(CancellationToken cancellationToken) => inner.LoadRetrySchedulesAsync(cancellationToken);

        public Task SaveRetryScheduleAsync(string outstation, RetrySchedule schedule, CancellationToken cancellationToken) => inner.SaveRetryScheduleAsync(outstation, schedule, cancellationToken);

        public Task AppendTransactionAsync(TransactionRecord record, CancellationToken cancellationToken) => inner.AppendTransactionAsync(record, cancellationToken);

        public Task<IReadOnlyList<TransactionRecord>> ReadTransactionsAsync(int max, string? outstation, CancellationToken cancellationToken) => inner.ReadTransactionsAsync(max, outstation, cancellationToken);

        public Task<IReadOnlyList<LedgerEvent>> ReadLedgerEventsAsync(int max, string? number, CancellationToken cancellationToken) => inner.ReadLedgerEventsAsync(max, number, cancellationToken);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
