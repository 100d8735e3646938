using System.Diagnostics.Metrics;
using ChannelManager.Core;
using ChannelManager.Core.Persistence;
using ChannelManager.Host.Api;
using Microsoft.Extensions.DependencyInjection;
using NSubstitute;

namespace ChannelManager.IntegrationTests.Api;

/// <summary>How the <c>run</c> host gets call metrics: AddChannelManagerApi wraps the registered state store.</summary>
public sealed class MeteredStateStoreTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task AddChannelManagerApi_StateStoreRegisteredByFactory_IsWrappedAndCountsEachPersistedTransaction()
    {
        var inner = Substitute.For<IStateStore>();
        var services = new ServiceCollection();
        services.AddMetrics();
        services.AddSingleton(_ => inner);
        services.AddChannelManagerApi(new ApiOptions());
        await using var provider = services.BuildServiceProvider();
        var metrics = provider.GetRequiredService<ChannelManagerMetrics>();
        var counted = new List<(string Instrument, long Value, Dictionary<string, object?> Tags)>();
        using var listener = Listen(metrics, counted);

        var store = provider.GetRequiredService<IStateStore>();
        await store.AppendTransactionAsync(Record(OutcomeCode.Busy, "M1"), CancellationToken.None);
        await store.AppendTransactionAsync(Record(OutcomeCode.RepeatCallLimit, null), CancellationToken.None);

        Assert.IsType<MeteredStateStore>(store);
        await inner.Received(2).AppendTransactionAsync(Arg.Any<TransactionRecord>(), Arg.Any<CancellationToken>());
        var calls = counted.Where(c => c.Instrument == "channelmanager.calls").ToList();
        Assert.Equal(2, calls.Count);
        Assert.Equal("Busy", calls[0].Tags["outcome"]);
        Assert.Equal("ConnectionEstablishment", calls[0].Tags["category"]);
        Assert.Equal("Outstation", calls[0].Tags["counted_against"]);
        Assert.Equal("none", calls[1].Tags["modem"]);
        var refusal = Assert.Single(counted, c => c.Instrument == "channelmanager.guard.refusals");
        Assert.Equal("RTU-9", refusal.Tags["outstation"]);
    }

    [Fact]
    public async Task AppendTransactionAsync_InnerStoreFails_NothingCountedAndTheFailurePropagates()
    {
        var inner = Substitute.For<IStateStore>();
        inner.AppendTransactionAsync(Arg.Any<TransactionRecord>(), Arg.Any<CancellationToken>()).Returns(Task.FromException(new StateStoreException(StateStoreFault.Unavailable, "x.db", "disk full")));
        using var metrics = new ChannelManagerMetrics();
        var counted = new List<(string Instrument, long Value, Dictionary<string, object?> Tags)>();
        using var listener = Listen(metrics, counted);
        await using var store = new MeteredStateStore(inner, metrics);

        await Assert.ThrowsAsync<StateStoreException>(() => store.AppendTransactionAsync(Record(OutcomeCode.Success, "M1"), CancellationToken.None));

        Assert.Empty(counted);
    }

    [Fact]
    public async Task DisposeAsync_NotOwned_LeavesTheInnerStoreOpen()
    {
        var inner = Substitute.For<IStateStore>();
        using var metrics = new ChannelManagerMetrics();

        await new MeteredStateStore(inner, metrics).DisposeAsync();
        await new MeteredStateStore(inner, metrics, ownsInner: true).DisposeAsync();

        await inner.Received(1).DisposeAsync();
    }

    private static TransactionRecord Record(OutcomeCode code, string? modem) =>
        new(T0, T0.AddSeconds(3), "RTU-9", "01632960009", code, modem, modem is null ? [] : [modem], code.ToString());

    private static MeterListener Listen(ChannelManagerMetrics metrics, List<(string Instrument, long Value, Dictionary<string, object?> Tags)> counted)
    {
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter, metrics.Meter))
                    l.EnableMeasurementEvents(instrument);
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var map = new Dictionary<string, object?>();
            foreach (var t in tags)
                map[t.Key] = t.Value;
            lock (counted)
                counted.Add((instrument.Name, value, map));
        });
        listener.Start();
        return listener;
    }
}
