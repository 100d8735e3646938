using ChannelManager.Core;
using ChannelManager.Core.Channels;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Scheduling;
using ChannelManager.Tests.Channels;
using Microsoft.Extensions.Time.Testing;

namespace ChannelManager.Tests.Scheduling;

/// <summary>
/// The one composition of Channel Manager → repeat-call book → transaction → scheduler that run, the demo and the API
/// tests share: each part reaches the store it must (issue 11: the ledger the opened store, not the metering wrapper),
/// the caller's executor wrapper sees every poll, and capacity follows the usable modems unless turned off.
/// </summary>
[Collection(nameof(PollSchedulerTests))]
public sealed class PollingChainTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 5, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Build_SeparateLedgerStore_LedgerThereTransactionsInTheStoreEveryPollThroughTheWrapper()
    {
        var time = new FakeTimeProvider(T0);
        await using var channels = OneModem(time);
        var store = new RecordingStateStore();
        var ledgerStore = new RecordingStateStore();
        CountingExecutor? wrapper = null;

        var chain = PollingChain.Build(
            channels, [Schedule("RTU-A", "0100"), Schedule("RTU-B", "0200")], CountryProfiles.UK, store, new SchedulerOptions(), time, () => 0.5,
            ledgerStore: ledgerStore, wrapExecutor: t => wrapper = new CountingExecutor(t));
        await RunAsync(chain.Scheduler, time, T0.AddMinutes(1));

        Assert.NotNull(wrapper);
        Assert.Same(wrapper, chain.Executor);
        Assert.Same(chain.Transaction, wrapper.Inner);
        Assert.Equal(["RTU-A", "RTU-B"], wrapper.Outstations.Order(StringComparer.Ordinal));
        Assert.Equal(["0100", "0200"], (await ledgerStore.LoadLedgersAsync(CancellationToken.None)).Select(l => l.Number).Order(StringComparer.Ordinal));
        Assert.Empty(ledgerStore.Transactions);
        Assert.Empty(await store.LoadLedgersAsync(CancellationToken.None));
        Assert.Equal([OutcomeCode.Success, OutcomeCode.Success], store.Transactions.Select(t => t.Code));
        Assert.IsType<ChannelManagerCapacity>(chain.Scheduler.Capacity);
    }

    [Fact]
    public async Task Build_NoLedgerStoreNoCapacity_BookUsesTheStoreAndSchedulerHasNoCapacity()
    {
        var time = new FakeTimeProvider(T0);
        await using var channels = OneModem(time);
        var store = new RecordingStateStore();

        var chain = PollingChain.Build(channels, [Schedule("RTU-A", "0100")], CountryProfiles.DE, store, new SchedulerOptions { MaxConcurrency = 2 }, time, () => 0.5, followUsableModems: false);
        await RunAsync(chain.Scheduler, time, T0.AddMinutes(1));

        Assert.Same(chain.Transaction, chain.Executor);
        Assert.Equal("DE", chain.Book.Profile.Name);
        Assert.Equal(["0100"], (await store.LoadLedgersAsync(CancellationToken.None)).Select(l => l.Number));
        Assert.Single(store.Transactions);
        Assert.Null(chain.Scheduler.Capacity);
    }

    private static ModemChannelManager OneModem(TimeProvider time) =>
        new([((IModemDevice)new FakeModem("M1"), ModemRole.Default)], new ChannelManagerOptions { MinOnHookTime = TimeSpan.Zero }, time);

    private static OutstationSchedule Schedule(string name, string number) =>
        new(name, number, new InstantDriver(), [new ReadHoldingRegisters(0, 2)], TimeSpan.FromHours(1), BackoffPolicy.From(new BackoffOptions()));

    private static async Task RunAsync(PollScheduler scheduler, FakeTimeProvider time, DateTimeOffset until)
    {
        using var stop = new CancellationTokenSource();
        var run = scheduler.RunAsync(stop.Token);
        await new SchedulerDriver(scheduler, time).RunUntilAsync(until);
        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(10));
    }

    private sealed class CountingExecutor(IPollExecutor inner) : IPollExecutor
    {
        private readonly Lock _gate = new();
        private readonly List<string> _outstations = [];

        public IPollExecutor Inner => inner;

        public IReadOnlyList<string> Outstations
        {
            get
            {
                lock (_gate)
                {
                    return [.. _outstations];
                }
            }
        }

        public async Task<PollOutcome> RunAsync(PollRequest request, CancellationToken cancellationToken)
        {
            lock (_gate)
            {
                _outstations.Add(request.Outstation);
            }

            return await inner.RunAsync(request, cancellationToken);
        }
    }
}
