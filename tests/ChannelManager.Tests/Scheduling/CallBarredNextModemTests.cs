using ChannelManager.Core;
using ChannelManager.Core.Channels;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Scheduling;
using ChannelManager.Core.Transport;
using ChannelManager.Tests.Channels;
using Microsoft.Extensions.Time.Testing;

namespace ChannelManager.Tests.Scheduling;

/// <summary>A driver that answers every command at once (the modem side is what these tests are about).</summary>
internal sealed class InstantDriver : IProtocolDriver
{
    public int Calls { get; private set; }

    public Task<ProtocolResult> ExecuteAsync(IChannelTransport link, IReadOnlyList<ProtocolCommand> commands, CancellationToken cancellationToken)
    {
        Calls++;
        return Task.FromResult(new ProtocolResult(OutcomeCode.Success, [.. commands.Select(c => new CommandResult(c, OutcomeCode.Success, 1))]));
    }
}

/// <summary>
/// <see cref="RepeatCallBook.CheckAnotherAttempt"/> (non-consuming) and its use by <see cref="PollTransaction"/> as
/// <see cref="CallRequest.MayTryNextModem"/>: after BLACKLISTED / DELAYED on one modem, the same number goes to another
/// modem only if the pool-wide ledger would allow one more attempt now.
/// </summary>
public sealed class CallBarredNextModemTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 5, 9, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(T0);

    [Fact]
    public async Task CheckAnotherAttempt_UkFirstAttemptInProgress_RefusedUntilTwoMinuteGapAndNothingRecorded()
    {
        var book = new RepeatCallBook(CountryProfiles.UK);
        Assert.True((await book.TryBeginAttemptAsync("0111", T0, null, CancellationToken.None)).Allowed);
        var before = book.LedgerOf("0111");
        var events = book.Events.Count;

        var decision = book.CheckAnotherAttempt("0111", T0.AddSeconds(20));
        var again = book.CheckAnotherAttempt("0111", T0.AddSeconds(20));

        // UK: a failed first attempt needs 2 minutes before the next (research §2.1), counted from on-hook.
        Assert.False(decision.Allowed);
        Assert.Equal(GuardRefusal.Waiting, decision.Refusal);
        Assert.Equal(T0.AddSeconds(20) + TimeSpan.FromMinutes(2), decision.NextAllowedAt);
        Assert.Equal(decision, again);
        Assert.Same(before, book.LedgerOf("0111"));
        Assert.Equal(1, book.LedgerOf("0111").AttemptsInSequence);
        Assert.NotNull(book.LedgerOf("0111").InProgress);
        Assert.Equal(events, book.Events.Count);
    }

    [Fact]
    public async Task CheckAnotherAttempt_UkFourthAttemptInProgress_RefusedAsLocked()
    {
        var book = new RepeatCallBook(CountryProfiles.UK);
        var t = T0;
        foreach (var gap in new[] { 2, 4, 6 })
        {
            Assert.True((await book.TryBeginAttemptAsync("0222", t, null, CancellationToken.None)).Allowed);
            await book.CompleteAsync("0222", new AttemptResult(OutcomeCode.NoAnswer, t.AddSeconds(30)));
            t = t.AddSeconds(30).AddMinutes(gap);
        }

        Assert.True((await book.TryBeginAttemptAsync("0222", t, null, CancellationToken.None)).Allowed);

        var decision = book.CheckAnotherAttempt("0222", t.AddHours(1));

        // Attempt 4 of 4 is on the line: even an hour later a fifth may not follow it.
        Assert.False(decision.Allowed);
        Assert.Equal(GuardRefusal.Locked, decision.Refusal);
        Assert.Equal(LedgerState.Dialling, book.LedgerOf("0222").State);
    }

    [Theory]
    [InlineData("IT", true)]    // Italy: the first retries need no gap
    [InlineData("US", true)]    // 47 CFR 68.318(b)(1): two attempts, no gap
    [InlineData("UK", false)]
    [InlineData("DE", false)]   // 30 s gap
    public async Task CheckAnotherAttempt_FirstAttemptInProgress_FollowsProfileGap(string profile, bool allowed)
    {
        var book = new RepeatCallBook(CountryProfiles.Get(profile));
        await book.TryBeginAttemptAsync("0333", T0, null, CancellationToken.None);

        Assert.Equal(allowed, book.CheckAnotherAttempt("0333", T0.AddSeconds(5)).Allowed);
    }

    [Fact]
    public async Task CheckAnotherAttempt_NoAttemptInProgress_SameAnswerAsCheck()
    {
        var book = new RepeatCallBook(CountryProfiles.UK);
        await book.TryBeginAttemptAsync("0444", T0, null, CancellationToken.None);
        await book.CompleteAsync("0444", new AttemptResult(OutcomeCode.Busy, T0.AddSeconds(10)));

        Assert.Equal(book.Check("0444", T0.AddMinutes(1)), book.CheckAnotherAttempt("0444", T0.AddMinutes(1)));
        Assert.Equal(book.Check("0444", T0.AddMinutes(3)), book.CheckAnotherAttempt("0444", T0.AddMinutes(3)));
        Assert.True(book.CheckAnotherAttempt("0444", T0.AddMinutes(3)).Allowed);
        Assert.False(book.CheckAnotherAttempt("0444", T0.AddMinutes(1)).Allowed);
    }

    [Fact]
    public async Task RunAsync_UkModemBlacklistsNumber_NoSecondModemDialsAndAttemptNotCounted()
    {
        var m1 = new FakeModem("M1") { OnDial = (_, _) => FakeModem.Result(OutcomeCode.CallBarredByModem, "BLACKLISTED") };
        var m2 = new FakeModem("M2");
        await using var channels = Manager(m1, m2);
        var book = new RepeatCallBook(CountryProfiles.UK);
        var transaction = new PollTransaction(channels, book, _time);

        var outcome = await transaction.RunAsync(Request("RTU-1", "0555"), CancellationToken.None);

        Assert.Equal(OutcomeCode.CallBarredByModem, outcome.Code);
        Assert.Equal(["0555"], m1.Dials);
        Assert.Empty(m2.Dials);
        var ledger = book.LedgerOf("0555");
        Assert.Equal(0, ledger.AttemptsInSequence);
        Assert.Contains(ledger.ModemBlocks, b => b.Modem == "M1");
        Assert.True(ledger.AlarmRaised);
    }

    [Fact]
    public async Task RunAsync_ItalyModemDelaysNumber_SameAttemptCompletesOnNextModem()
    {
        var m1 = new FakeModem("M1") { OnDial = (_, _) => FakeModem.Result(OutcomeCode.CallBarredByModem, "DELAYED") };
        var m2 = new FakeModem("M2");
        await using var channels = Manager(m1, m2);
        var book = new RepeatCallBook(CountryProfiles.IT);
        var transaction = new PollTransaction(channels, book, _time);

        var outcome = await transaction.RunAsync(Request("RTU-1", "0666"), CancellationToken.None);

        Assert.Equal(OutcomeCode.Success, outcome.Code);
        Assert.Equal("M2", outcome.Modem);
        Assert.Equal(["M1", "M2"], outcome.ModemsTried.Select(m => m.ModemName));
        Assert.Equal(["0666"], m2.Dials);
        Assert.Equal(LedgerState.Ready, book.LedgerOf("0666").State);
    }

    private ModemChannelManager Manager(params FakeModem[] modems) =>
        new(modems.Select(m => ((IModemDevice)m, ModemRole.Default)), new ChannelManagerOptions { MinOnHookTime = TimeSpan.Zero }, _time);

    private static PollRequest Request(string name, string number) => new(name, number, new InstantDriver(), [new ReadHoldingRegisters(0, 2)]);
}
