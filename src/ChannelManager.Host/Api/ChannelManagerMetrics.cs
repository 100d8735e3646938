using System.Diagnostics.Metrics;
using ChannelManager.Core;
using ChannelManager.Core.Channels;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Scheduling;

namespace ChannelManager.Host.Api;

/// <summary>
/// The <c>ChannelManager</c> meter (issue 8 item 7), exported by OpenTelemetry in Prometheus format at <c>/metrics</c>.
/// Everything is observed from outside Core: call outcomes from <see cref="MeteredStateStore"/> (every transaction
/// the scheduler persists), connect times from the modems' statistics, gauges from the scheduler's and the
/// Channel Manager's snapshots — so Core needs no metrics hook.
/// </summary>
public sealed class ChannelManagerMetrics : IDisposable
{
    /// <summary>The meter name to enable in OpenTelemetry.</summary>
    public const string MeterName = "ChannelManager";

    private static readonly double[] ConnectBuckets = [0.5, 1, 2, 5, 10, 15, 20, 30, 45, 60, 90];
    private static readonly double[] DurationBuckets = [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300];

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _calls;
    private readonly Counter<long> _guardRefusals;
    private readonly Histogram<double> _connectTime;
    private readonly Histogram<double> _callDuration;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (long Connects, TimeSpan Total)> _seenConnects = new(StringComparer.OrdinalIgnoreCase);
    private ModemChannelManager? _channels;
    private PollScheduler? _scheduler;
    private TimeProvider _time = TimeProvider.System;
    private Hosting.IpOutstationSet _ip = Hosting.IpOutstationSet.Empty;
    private ClusterView _cluster = ClusterView.SingleHost;

    /// <param name="meterFactory">The host's factory; null creates a stand-alone meter (the demo's dashboard, tests).</param>
    public ChannelManagerMetrics(IMeterFactory? meterFactory = null)
    {
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _calls = _meter.CreateCounter<long>("channelmanager.calls", "{call}", "Transactions by outcome code and category (design.md §3)");
        _guardRefusals = _meter.CreateCounter<long>("channelmanager.guard.refusals", "{call}", "Polls the repeat-call guard refused (outcome RepeatCallLimit)");
        _connectTime = _meter.CreateHistogram("channelmanager.connect.time", "s", "Time from ATD to CONNECT", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = ConnectBuckets });
        _callDuration = _meter.CreateHistogram("channelmanager.call.duration", "s", "Whole transaction time, guard to on-hook", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _meter.CreateObservableGauge("channelmanager.queue.depth", ObserveQueueDepth, "{poll}", "Polls due or requested and not yet running");
        _meter.CreateObservableGauge("channelmanager.polls.running", ObserveRunning, "{poll}", "Polls on the line now");
        _meter.CreateObservableCounter("channelmanager.modem.faults", ObserveModemFaults, "{fault}", "Failures counted against each modem, by outcome code");
        _meter.CreateObservableGauge("channelmanager.modem.faulted", ObserveFaulted, "{modem}", "1 while a modem is faulted (quarantined until a health check passes)");
        _meter.CreateObservableGauge("channelmanager.modems", ObserveModemStates, "{modem}", "Modems by state");
        _meter.CreateObservableGauge("channelmanager.alarms", ObserveAlarms, "{alarm}", "Operator alarms raised since start");
        _meter.CreateObservableGauge("channelmanager.ip.connected", ObserveIpConnected, "{outstation}", "1 while an IP outstation's TCP link is connected (issue 7)");
        _meter.CreateObservableGauge("channelmanager.ip.heartbeat.interval", ObserveIpHeartbeat, "s", "An IP outstation's current (learned) heartbeat interval (seed 001)");
        _meter.CreateObservableCounter("channelmanager.ip.reconnects", ObserveIpReconnects, "{connect}", "Successful reconnects of an IP outstation's link since start (seed 002)");
        // Issue 11 item 4: alert on "no host active" by summing this over the group (Prometheus: channelmanager_host_active).
        _meter.CreateObservableGauge("channelmanager.host.active", ObserveHostActive, description: "1 while this host polls and dials (active, or the single host on SQLite); 0 while standby");
        _meter.CreateObservableGauge("channelmanager.lease.epoch", () => HostMeasurement(LiveCluster(), c => c.LeaseEpoch), description: "Epoch of the active lease this host holds (0 while standby or single); it grows by one at each change of hands");
        _meter.CreateObservableCounter("channelmanager.lease.takeovers", () => HostMeasurement(LiveCluster(), c => c.Takeovers), "{takeover}", "Times this host took over the expired active lease of another host");
        // Active/active (docs/scale-out.md §6): each host's share; summed over the group, outstations = all configured.
        _meter.CreateObservableGauge("channelmanager.owned.outstations", () => HostMeasurement(LiveCluster(), c => c.Owned.Outstations), "{outstation}", "Active/active: outstations whose shard lease (IP outstations: own lease) this host holds (0 outside active/active)");
        _meter.CreateObservableGauge("channelmanager.owned.modems", () => HostMeasurement(LiveCluster(), c => c.Owned.Modems), "{modem}", "Active/active: shared modems whose lease this host holds (0 outside active/active)");
    }

    /// <summary>The meter, for tests that listen to this instance only.</summary>
    internal Meter Meter => _meter;

    /// <summary>Gives the gauges and the connect-time tracker the live objects to read (called by <c>MapChannelManagerApi</c>).</summary>
    public void Observe(ModemChannelManager channels, PollScheduler scheduler, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(channels);
        ArgumentNullException.ThrowIfNull(scheduler);
        ArgumentNullException.ThrowIfNull(timeProvider);
        lock (_gate)
        {
            _channels = channels;
            _scheduler = scheduler;
            _time = timeProvider;
            _seenConnects.Clear();
            foreach (var m in channels.Modems)
            {
                _seenConnects[m.Name] = (m.Statistics.Connects, m.Statistics.TotalTimeToConnect);
            }
        }
    }

    /// <summary>Gives the role gauges this host's <see cref="ClusterView"/> (called by <c>MapChannelManagerApi</c>).</summary>
    internal void ObserveCluster(ClusterView cluster)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        lock (_gate)
        {
            _cluster = cluster;
        }
    }

    /// <summary>Gives the IP outstation gauges their live set (called by <c>MapChannelManagerApi</c>).</summary>
    internal void ObserveIpOutstations(Hosting.IpOutstationSet outstations)
    {
        ArgumentNullException.ThrowIfNull(outstations);
        lock (_gate)
        {
            _ip = outstations;
        }
    }

    /// <summary>Counts one persisted transaction (see <see cref="MeteredStateStore"/>).</summary>
    public void RecordTransaction(TransactionRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        _calls.Add(1,
            new("outcome", record.Code.ToString()),
            new("category", record.Category.ToString()),
            new("counted_against", record.CountedAgainst.ToString()),
            new("modem", record.Modem ?? "none"));
        if (record.Code == OutcomeCode.RepeatCallLimit)
            _guardRefusals.Add(1, new KeyValuePair<string, object?>("outstation", record.Outstation));
        _callDuration.Record(Math.Max(0, (record.EndedAt - record.StartedAt).TotalSeconds), new KeyValuePair<string, object?>("category", record.Category.ToString()));
        RecordNewConnects();
    }

    public void Dispose()
    {
        if (_ownsMeter)
            _meter.Dispose();
    }

    /// <summary>
    /// The Channel Manager keeps a running total of connect time per modem; a modem makes one call at a time, so the
    /// growth since the last transaction is the connect time of the calls made since (normally exactly one).
    /// </summary>
    private void RecordNewConnects()
    {
        lock (_gate)
        {
            if (_channels is null)
                return;
            foreach (var m in _channels.Modems)
            {
                var now = (m.Statistics.Connects, m.Statistics.TotalTimeToConnect);
                var seen = _seenConnects.GetValueOrDefault(m.Name);
                var connects = now.Connects - seen.Connects;
                if (connects > 0)
                {
                    var each = (now.TotalTimeToConnect - seen.Total).TotalSeconds / connects;
                    for (var i = 0; i < connects; i++)
                    {
                        _connectTime.Record(each, new KeyValuePair<string, object?>("modem", m.Name));
                    }
                }

                _seenConnects[m.Name] = now;
            }
        }
    }

    private (ModemChannelManager? Channels, PollScheduler? Scheduler, TimeProvider Time) Live()
    {
        lock (_gate)
        {
            return (_channels, _scheduler, _time);
        }
    }

    private int ObserveQueueDepth()
    {
        var (_, scheduler, time) = Live();
        return scheduler is null ? 0 : QueueView.Depth(scheduler.Status, time.GetUtcNow());
    }

    private Hosting.IpOutstationSet LiveIp()
    {
        lock (_gate)
        {
            return _ip;
        }
    }

    private IEnumerable<Measurement<int>> ObserveIpConnected() =>
        [.. LiveIp().All.Select(o => new Measurement<int>(o.Channel.State == Core.Channels.Persistent.PersistentChannelState.Connected ? 1 : 0, new KeyValuePair<string, object?>("outstation", o.Name)))];

    private IEnumerable<Measurement<double>> ObserveIpHeartbeat() =>
        [.. LiveIp().All.Select(o => new Measurement<double>(o.Channel.Heartbeat.Interval.TotalSeconds, new KeyValuePair<string, object?>("outstation", o.Name)))];

    private IEnumerable<Measurement<long>> ObserveIpReconnects() =>
        [.. LiveIp().All.Select(o => new Measurement<long>(o.Reconnects, new KeyValuePair<string, object?>("outstation", o.Name)))];

    private ClusterView LiveCluster()
    {
        lock (_gate)
        {
            return _cluster;
        }
    }

    private IEnumerable<Measurement<long>> ObserveHostActive() => HostMeasurement(LiveCluster(), c => c.Role == HostRole.Standby ? 0 : 1);

    /// <summary>Labelled with the host id, so the series of a redundant pair can be told apart once scraped together.</summary>
    private static Measurement<long>[] HostMeasurement(ClusterView cluster, Func<ClusterView, long> value) =>
        [new Measurement<long>(value(cluster), new KeyValuePair<string, object?>("host", cluster.HostId))];

    private int ObserveRunning() => Live().Scheduler?.Status.Count(s => s.Running) ?? 0;

    private int ObserveAlarms() => Live().Scheduler?.Alarms.Count ?? 0;

    private IEnumerable<Measurement<long>> ObserveModemFaults()
    {
        var channels = Live().Channels;
        if (channels is null)
            return [];
        return [.. channels.Modems.SelectMany(m => m.Statistics.FailuresByCode
            .Where(f => f.Key.CountedAgainst() == FaultAttribution.Modem)
            .Select(f => new Measurement<long>(f.Value, new("modem", m.Name), new("outcome", f.Key.ToString()))))];
    }

    private IEnumerable<Measurement<int>> ObserveFaulted()
    {
        var channels = Live().Channels;
        return channels is null ? [] : [.. channels.Modems.Select(m => new Measurement<int>(m.Faulted ? 1 : 0, new KeyValuePair<string, object?>("modem", m.Name)))];
    }

    private IEnumerable<Measurement<int>> ObserveModemStates()
    {
        var channels = Live().Channels;
        if (channels is null)
            return [];
        var modems = channels.Modems;
        return [.. Enum.GetValues<ModemAvailability>().Select(s => new Measurement<int>(modems.Count(m => m.Availability == s), new KeyValuePair<string, object?>("state", s.ToString())))];
    }
}
