using ChannelManager.Core;
using ChannelManager.Core.Scheduling;
using Microsoft.Extensions.Time.Testing;

namespace ChannelManager.IntegrationTests.Scheduling;

/// <summary>
/// An <see cref="IPollExecutor"/> that uses the real <see cref="RepeatCallBook"/> as <see cref="PollTransaction"/> does
/// (begin — persisted — before the "dial", complete after) with scripted outcomes, instantaneous on the fake clock.
/// </summary>
internal sealed class RecordingExecutor(RepeatCallBook book, TimeProvider time, Func<string, OutcomeCode> script) : IPollExecutor
{
    private readonly Lock _gate = new();
    private readonly List<(string Outstation, DateTimeOffset At)> _calls = [];

    /// <summary>The next dial to this outstation starts and never ends (the process "dies" mid-dial).</summary>
    public string? HangOn { get; init; }

    public List<(string Outstation, DateTimeOffset At)> Refusals { get; } = [];

    public IReadOnlyList<DateTimeOffset> TimesOf(string outstation)
    {
        lock (_gate)
        {
            return [.. _calls.Where(c => c.Outstation == outstation).Select(c => c.At)];
        }
    }

    public async Task<PollOutcome> RunAsync(PollRequest request, CancellationToken cancellationToken)
    {
        var started = time.GetUtcNow();
        var guard = await book.TryBeginAttemptAsync(request.Number, started, null, cancellationToken);
        if (!guard.Allowed)
        {
            lock (_gate)
            {
                Refusals.Add((request.Outstation, started));
            }

            return new PollOutcome(request.Outstation, request.Number, OutcomeCode.RepeatCallLimit, null, [], guard.Detail, null, started, started, guard.NextAllowedAt);
        }

        if (HangOn == request.Outstation)
            await Task.Delay(Timeout.InfiniteTimeSpan, time, cancellationToken);   // no on-hook is ever recorded
        var code = script(request.Outstation);
        lock (_gate)
        {
            _calls.Add((request.Outstation, started));
        }

        await book.CompleteAsync(request.Number, new AttemptResult(code, started) { Modem = "M1", RawReply = code.ToString() });
        return new PollOutcome(request.Outstation, request.Number, code, "M1", [], code.ToString(), null, started, started, book.LedgerOf(request.Number).NextAllowedAt);
    }
}

/// <summary>Drives a scheduler on a fake clock: wait until it rests with nothing running, jump to its wake-up, repeat.</summary>
internal sealed class FakeClockDriver(PollScheduler scheduler, FakeTimeProvider time)
{
    /// <summary>Polls allowed to stay running while the loop counts as settled (a dial hung on purpose).</summary>
    public int Hung { get; set; }

    // The loop must park again after a timer fired (_seen); until then its last park (_last) still stands.
    private long _seen;
    private long _last;

    public async Task<DateTimeOffset?> SettleAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var park = await scheduler.WaitForParkAsync(_seen, Hung, cts.Token);
        _last = park.Sequence;
        return park.WakeAt;
    }

    public async Task RunUntilAsync(DateTimeOffset end)
    {
        for (var step = 0; step < 100_000; step++)
        {
            var wake = await SettleAsync();
            var now = time.GetUtcNow();
            if (wake is not { } at || at > end)
            {
                if (end > now)
                    time.Advance(end - now);
                return;   // no timer fired: the current park still stands
            }

            _seen = _last;
            time.Advance(at > now ? at - now : TimeSpan.Zero);
        }

        throw new InvalidOperationException($"Schedule did not reach {end:O}.");
    }
}
