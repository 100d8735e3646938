using BenchmarkDotNet.Attributes;
using ChannelManager.Benchmarks.Scale;
using ChannelManager.Core;
using ChannelManager.Core.Channels;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Scheduling;
using ChannelManager.Core.Transport;

namespace ChannelManager.Benchmarks.Micro;

/// <summary>
/// Scheduler queue operations (issue 9 item 1): one simulated hour of N outstations polled hourly (phases spread over
/// the hour) through the real <see cref="PollScheduler"/> and <see cref="RepeatCallBook"/>, with a poll that completes
/// at once — so the time per poll is the scheduler's own: planning, dispatch, ledger begin/complete, back-off update.
/// Driven exactly (not heuristically) by the scheduler's park announcements on a <see cref="VirtualClock"/>.
/// </summary>
/// <remarks>Not sealed: BenchmarkDotNet derives its generated runner from the benchmark class.</remarks>
[MemoryDiagnoser]
public class SchedulerQueueBenchmarks
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 5, 0, 0, 0, TimeSpan.Zero);

    [Params(1_000, 10_000)]
    public int Outstations { get; set; }

    /// <summary>One simulated hour: every outstation polled once; per-op figures are per poll.</summary>
    [Benchmark(OperationsPerInvoke = 1)]
    public async Task<long> OneHourOfPolls()
    {
        var clock = new VirtualClock(T0);
        var book = new RepeatCallBook(CountryProfiles.UK);
        var backoff = BackoffPolicy.From(new BackoffOptions { Initial = TimeSpan.FromSeconds(30), Max = TimeSpan.FromSeconds(120), Factor = 2, MaxAttempts = 3 });
        var driver = new NoDriver();
        var random = new Random(1);
        var schedules = Enumerable.Range(0, Outstations).Select(i => new OutstationSchedule($"RTU-{i:D5}", $"0199{i:D6}", driver, [new ReadHoldingRegisters(0, 10)], TimeSpan.FromHours(1), backoff));
        var executor = new InstantExecutor(book, clock);
        var scheduler = new PollScheduler(schedules, executor, book, new SpreadStore(Outstations, random), new SchedulerOptions { MaxConcurrency = 64, MaxQueueTime = TimeSpan.FromMinutes(30) }, clock, random.NextDouble);
        using var stop = new CancellationTokenSource();
        var run = scheduler.RunAsync(stop.Token);
        var end = T0 + TimeSpan.FromHours(1);
        long seen = 0;
        while (true)
        {
            var park = await scheduler.WaitForParkAsync(seen, 0, CancellationToken.None).ConfigureAwait(false);
            seen = park.Sequence;
            if (park.WakeAt is not { } at || at > end)
                break;
            clock.AdvanceToNext(end);
        }

        await stop.CancelAsync().ConfigureAwait(false);
        await run.ConfigureAwait(false);
        return executor.Polls;
    }

    private sealed class NoDriver : IProtocolDriver
    {
        public Task<ProtocolResult> ExecuteAsync(IChannelTransport link, IReadOnlyList<ProtocolCommand> commands, CancellationToken cancellationToken) =>
            throw new NotSupportedException("never connected");
    }

    private sealed class InstantExecutor(RepeatCallBook book, TimeProvider time) : IPollExecutor
    {
        public long Polls { get; private set; }

        public async Task<PollOutcome> RunAsync(PollRequest request, CancellationToken cancellationToken)
        {
            var now = time.GetUtcNow();
            var guard = await book.TryBeginAttemptAsync(request.Number, now, null, cancellationToken).ConfigureAwait(false);
            if (!guard.Allowed)
                return new PollOutcome(request.Outstation, request.Number, OutcomeCode.RepeatCallLimit, null, [], guard.Detail, null, now, now, guard.NextAllowedAt);
            await book.CompleteAsync(request.Number, new AttemptResult(OutcomeCode.Success, now) { Modem = "M1" }).ConfigureAwait(false);
            Polls++;
            return new PollOutcome(request.Outstation, request.Number, OutcomeCode.Success, "M1", [], "CONNECT", null, now, now, null);
        }
    }

    /// <summary>Seeds each outstation's last access at a random point of the past hour, so polls spread over the hour.</summary>
    private sealed class SpreadStore(int count, Random random) : ChannelManager.Core.Persistence.IStateStore
    {
        public Task<IReadOnlyList<NumberLedger>> LoadLedgersAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<NumberLedger>>([]);

        public Task SaveLedgerAsync(LedgerUpdate update, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task<IReadOnlyDictionary<string, RetrySchedule>> LoadRetrySchedulesAsync(CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyDictionary<string, RetrySchedule>>(Enumerable.Range(0, count).ToDictionary(i => $"RTU-{i:D5}", _ => RetrySchedule.Initial with { LastAccess = T0 - TimeSpan.FromHours(random.NextDouble()) }, StringComparer.Ordinal));

        public Task SaveRetryScheduleAsync(string outstation, RetrySchedule schedule, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task AppendTransactionAsync(ChannelManager.Core.Persistence.TransactionRecord record, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task<IReadOnlyList<ChannelManager.Core.Persistence.TransactionRecord>> ReadTransactionsAsync(int max, string? outstation, CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<ChannelManager.Core.Persistence.TransactionRecord>>([]);

        public Task<IReadOnlyList<LedgerEvent>> ReadLedgerEventsAsync(int max, string? number, CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<LedgerEvent>>([]);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
