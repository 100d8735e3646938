using ChannelManager.Core;
using ChannelManager.Core.Scheduling;
using ChannelManager.Persistence.Postgres;
using Microsoft.Extensions.Time.Testing;

namespace ChannelManager.IntegrationTests.Persistence;

/// <summary>
/// The shared guard's "now" is the database's clock (docs/scale-out.md §6 item 5): host B's TimeProvider runs a day
/// ahead (a skewed host taking over), yet it cannot dial a number host A has just tried. The control, with each host's
/// own clock, shows the same skew does shorten the gap — so the test can fail.
/// </summary>
public sealed class PostgresLedgerClockTests : PostgresDatabaseTest
{
    private static readonly TimeSpan Skew = TimeSpan.FromDays(1);
    private static readonly TimeSpan DialLasted = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task TryBeginAttemptAsync_PeerClockADayAhead_DatabaseClockKeepsTheGap()
    {
        var (first, second, stored) = await DialTwiceAsync(PostgresLedgerClock.Database);

        Assert.True(first.Allowed);
        Assert.False(second.Allowed, $"the skewed host was allowed to dial: {second}");
        // Stamped by the server (the same machine's clock here), not by the skewed host.
        var now = TimeProvider.System.GetUtcNow();
        Assert.NotNull(stored.LastOffHook);
        Assert.NotNull(stored.LastOnHook);
        Assert.InRange(stored.LastOffHook.Value, now.AddMinutes(-1), now.AddMinutes(1));
        Assert.InRange(stored.LastOnHook.Value, stored.LastOffHook.Value, now.AddMinutes(1));
    }

    [Fact]
    public async Task TryBeginAttemptAsync_PeerClockADayAheadWithHostClocks_SkewShortensTheGap()
    {
        var (first, second, _) = await DialTwiceAsync(PostgresLedgerClock.Host);

        Assert.True(first.Allowed);
        Assert.True(second.Allowed, "control: with each host's own clock the skewed host dials at once");
    }

    [Fact]
    public async Task LoadAsync_TakeoverByAHostADayBehind_RecoveredAttemptEndsOnTheDatabaseClock()
    {
        var profile = CountryProfiles.UK;
        await using var a = await PostgresTestServer.OpenStoreAsync(Database, "host-a", ledgerClock: PostgresLedgerClock.Database);
        await using var b = await PostgresTestServer.OpenStoreAsync(Database, "host-b", ledgerClock: PostgresLedgerClock.Database);
        var bookA = new RepeatCallBook(profile, a);
        Assert.True((await bookA.TryBeginAttemptAsync("0800", TimeProvider.System.GetUtcNow(), "A1", CancellationToken.None)).Allowed);

        // host-a dies mid-dial and the dial goes on for a while; host-b, whose clock runs a day behind, then takes over
        // and closes the attempt as failed.
        await Task.Delay(DialLasted, TimeProvider.System);
        var timeB = new FakeTimeProvider(TimeProvider.System.GetUtcNow() - Skew);
        var bookB = new RepeatCallBook(profile, b);
        bookB.AdoptAttemptsOf("host-a");
        var recovered = Assert.Single(await bookB.LoadAsync(timeB.GetUtcNow(), CancellationToken.None));

        // On-hook = the takeover on the database's clock, so after the dial's real length. The skewed clock would date it
        // a day before the off-hook (the guard then takes the off-hook itself), and the gap would start that much too early.
        var now = TimeProvider.System.GetUtcNow();
        Assert.Null(recovered.Ledger.InProgress);
        Assert.NotNull(recovered.Ledger.LastOnHook);
        Assert.InRange(recovered.Ledger.LastOnHook.Value, recovered.Ledger.LastOffHook!.Value + DialLasted, now.AddMinutes(1));
        Assert.False((await bookA.TryBeginAttemptAsync("0800", now, "A1", CancellationToken.None)).Allowed);
    }

    /// <summary>A dials (busy) on a correct clock; then B, whose clock runs <see cref="Skew"/> ahead, asks for the same number.</summary>
    private async Task<(GuardDecision First, GuardDecision Second, NumberLedger Stored)> DialTwiceAsync(PostgresLedgerClock clock)
    {
        var profile = CountryProfiles.UK;
        await using var a = await PostgresTestServer.OpenStoreAsync(Database, "host-a", ledgerClock: clock);
        await using var b = await PostgresTestServer.OpenStoreAsync(Database, "host-b", ledgerClock: clock);
        var timeA = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        var timeB = new FakeTimeProvider(TimeProvider.System.GetUtcNow() + Skew);
        var bookA = new RepeatCallBook(profile, a);
        var bookB = new RepeatCallBook(profile, b);

        var first = await bookA.TryBeginAttemptAsync("0700", timeA.GetUtcNow(), "A1", CancellationToken.None);
        timeA.Advance(TimeSpan.FromSeconds(20));
        await bookA.CompleteAsync("0700", new AttemptResult(OutcomeCode.Busy, timeA.GetUtcNow()));
        var second = await bookB.TryBeginAttemptAsync("0700", timeB.GetUtcNow(), "B1", CancellationToken.None);
        var stored = (await a.LoadLedgersAsync(CancellationToken.None)).Single(l => l.Number == "0700");
        return (first, second, stored);
    }
}
