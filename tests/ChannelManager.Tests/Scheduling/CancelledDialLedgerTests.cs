using ChannelManager.Core;
using ChannelManager.Core.Channels;
using ChannelManager.Core.Modems;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Scheduling;
using ChannelManager.Core.Transport;
using ChannelManager.Tests.Channels;
using Microsoft.Extensions.Time.Testing;

namespace ChannelManager.Tests.Scheduling;

/// <summary>
/// A dial cancelled after ATD went out (shutdown, a poll cancelled mid-dial) may have reached the line, so the repeat-call
/// ledger counts it (research/repeat-call-rules.md §3.1, as the restart path counts an interrupted dial); one cancelled
/// before the dial (waiting for a modem, during init) did not and is not counted. The outcome stays Cancelled.
/// </summary>
public sealed class CancelledDialLedgerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 5, 9, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(T0);

    [Fact]
    public async Task RunAsync_CancelledDuringAtd_CountedAndNextAttemptWaitsTheGap()
    {
        var dialling = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var modem = new FakeModem("M1") { OnDial = (_, ct) => RingUntilCancelledAsync(dialling, ct) };
        await using var channels = Manager(modem);
        var book = new RepeatCallBook(CountryProfiles.UK);
        var transaction = new PollTransaction(channels, book, _time);
        using var cts = new CancellationTokenSource();

        var poll = transaction.RunAsync(Request("0111"), cts.Token);
        await dialling.Task.WaitAsync(TimeSpan.FromSeconds(10));
        _time.Advance(TimeSpan.FromSeconds(5));
        await cts.CancelAsync();
        var outcome = await poll.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(OutcomeCode.Cancelled, outcome.Code);
        Assert.True(outcome.DialStarted);
        Assert.True(outcome.ReachedTheLine);
        var ledger = book.LedgerOf("0111");
        Assert.Null(ledger.InProgress);
        Assert.Equal(1, ledger.AttemptsInSequence);
        Assert.True(Assert.Single(ledger.Recent).Counted);
        Assert.Contains(book.Events, e => e.Kind == LedgerEventKind.AttemptCounted && e.Number == "0111");

        // The UK profile's gap after the first failure holds the next request back, then lets it through.
        var gapEnd = ledger.NextAllowedAt ?? throw new InvalidOperationException("no gap recorded");
        Assert.True(gapEnd > _time.GetUtcNow());
        modem.OnDial = (_, _) => FakeModem.Result(OutcomeCode.Success, "CONNECT 9600");
        var refused = await transaction.RunAsync(Request("0111"), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(OutcomeCode.RepeatCallLimit, refused.Code);
        Assert.Single(modem.Dials);
        _time.Advance(gapEnd - _time.GetUtcNow());
        var next = await transaction.RunAsync(Request("0111"), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(OutcomeCode.Success, next.Code);
        Assert.Equal(2, modem.Dials.Count);
    }

    [Fact]
    public async Task RunAsync_CancelledDuringInit_NotCountedAndNextAttemptNotHeldBack()
    {
        var initialising = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var modem = new FakeModem("M1")
        {
            OnInitialize = async ct =>
            {
                initialising.TrySetResult();
                await Task.Delay(Timeout.InfiniteTimeSpan, TimeProvider.System, ct);
                return new ModemResult(OutcomeCode.Success, "OK", null, TimeSpan.Zero);
            },
        };
        await using var channels = Manager(modem);
        var book = new RepeatCallBook(CountryProfiles.UK);
        var transaction = new PollTransaction(channels, book, _time);
        using var cts = new CancellationTokenSource();

        var poll = transaction.RunAsync(Request("0222"), cts.Token);
        await initialising.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await cts.CancelAsync();
        var outcome = await poll.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(OutcomeCode.Cancelled, outcome.Code);
        Assert.False(outcome.DialStarted);
        Assert.False(outcome.ReachedTheLine);
        Assert.Empty(modem.Dials);
        var ledger = book.LedgerOf("0222");
        Assert.Null(ledger.InProgress);
        Assert.Equal(0, ledger.AttemptsInSequence);
        Assert.False(Assert.Single(ledger.Recent).Counted);
        Assert.Null(ledger.NextAllowedAt);
        Assert.True(book.Check("0222", _time.GetUtcNow()).Allowed);
    }

    [Fact]
    public async Task RunAsync_CancelledWhileWaitingForModem_NotCounted()
    {
        var modem = new FakeModem("M1");
        await using var channels = Manager(modem);
        Assert.True(channels.SetOutOfService("M1", true));
        var book = new RepeatCallBook(CountryProfiles.UK);
        var transaction = new PollTransaction(channels, book, _time);
        using var cts = new CancellationTokenSource();

        var poll = transaction.RunAsync(Request("0333"), cts.Token);
        await cts.CancelAsync();
        var outcome = await poll.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(OutcomeCode.Cancelled, outcome.Code);
        Assert.False(outcome.DialStarted);
        Assert.Empty(modem.Dials);
        Assert.Equal(0, book.LedgerOf("0333").AttemptsInSequence);
        Assert.True(book.Check("0333", _time.GetUtcNow()).Allowed);
    }

    [Fact]
    public async Task RunAsync_CancelledDuringProtocolExchange_CancelledAndCountedNotASuccess()
    {
        var modem = new FakeModem("M1");
        await using var channels = Manager(modem);
        var book = new RepeatCallBook(CountryProfiles.UK);
        var transaction = new PollTransaction(channels, book, _time);
        using var cts = new CancellationTokenSource();
        var driver = new HangingDriver();

        var poll = transaction.RunAsync(new PollRequest("RTU", "0444", driver, [new ReadHoldingRegisters(0, 1)]), cts.Token);
        await driver.Started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await cts.CancelAsync();
        var outcome = await poll.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(OutcomeCode.Cancelled, outcome.Code);
        Assert.True(outcome.ReachedTheLine);
        Assert.Equal(1, book.LedgerOf("0444").AttemptsInSequence);
        Assert.Equal(OutcomeCode.Cancelled, book.LedgerOf("0444").LastOutcome);
        Assert.True(modem.HangUps >= 1);
    }

    [Fact]
    public void RecordOutcome_CancelledWithUnknownProgress_CountedConservatively()
    {
        var started = RepeatCallGuard.RecordAttemptStarted(new NumberLedger("0555"), CountryProfiles.UK, T0).Ledger;

        var counted = RepeatCallGuard.RecordOutcome(started, CountryProfiles.UK, new AttemptResult(OutcomeCode.Cancelled, T0.AddSeconds(3))).Ledger;
        var notCounted = RepeatCallGuard.RecordOutcome(started, CountryProfiles.UK, new AttemptResult(OutcomeCode.Cancelled, T0.AddSeconds(3)) { DialStarted = false }).Ledger;

        Assert.Equal(1, counted.AttemptsInSequence);
        Assert.NotNull(counted.NextAllowedAt);
        Assert.Equal(0, notCounted.AttemptsInSequence);
        Assert.Null(notCounted.NextAllowedAt);
    }

    private static async Task<ModemResult> RingUntilCancelledAsync(TaskCompletionSource dialling, CancellationToken ct)
    {
        // As AtModem does: a cancelled dial aborts the call and reports Cancelled rather than throwing.
        dialling.TrySetResult();
        try
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, TimeProvider.System, ct);
        }
        catch (OperationCanceledException)
        {
        }

        return new ModemResult(OutcomeCode.Cancelled, "cancelled", null, TimeSpan.Zero);
    }

    private ModemChannelManager Manager(params FakeModem[] modems) =>
        new(modems.Select(m => ((IModemDevice)m, ModemRole.Default)), new ChannelManagerOptions { MinOnHookTime = TimeSpan.Zero, MaxQueueTime = TimeSpan.FromHours(1) }, _time);

    private static PollRequest Request(string number) => new("RTU-" + number, number, new InstantDriver(), [new ReadHoldingRegisters(0, 2)]);

    private sealed class HangingDriver : IProtocolDriver
    {
        public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task<ProtocolResult> ExecuteAsync(IChannelTransport link, IReadOnlyList<ProtocolCommand> commands, CancellationToken cancellationToken)
        {
            Started.TrySetResult();
            await Task.Delay(Timeout.InfiniteTimeSpan, TimeProvider.System, cancellationToken);
            throw new InvalidOperationException("unreachable");
        }
    }
}
