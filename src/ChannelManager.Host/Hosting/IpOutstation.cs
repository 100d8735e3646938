using ChannelManager.Core;
using ChannelManager.Core.Channels.Persistent;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Protocols;
using Microsoft.Extensions.Logging;

namespace ChannelManager.Host.Hosting;

/// <summary>
/// One configured IP outstation at run time: its <see cref="PersistentChannel"/>, the poll's commands, and what its
/// polls did (for the API, the dashboard and the metrics). Polled by <see cref="IpOutstationService"/>.
/// </summary>
internal sealed class IpOutstation(IpOutstationSettings settings, string endpoint, PersistentChannel channel, IReadOnlyList<ProtocolCommand> commands) : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private PersistentPollResult? _last;
    private DateTimeOffset? _lastSuccess;
    private DateTimeOffset? _lastFailure;
    private DateTimeOffset? _nextPoll;
    private long _polls;
    private long _failures;
    private long _rerun;

    public string Name => settings.Name;

    /// <summary>tcp://host:port, as connected to (and as the event log's "number" of this outstation).</summary>
    public string Endpoint { get; } = endpoint;

    public IpOutstationProtocol Protocol => settings.Protocol;

    public TimeSpan PollInterval => settings.PollInterval;

    public PersistentChannel Channel { get; } = channel;

    public IReadOnlyList<ProtocolCommand> Commands { get; } = commands;

    /// <summary>
    /// Reconnects since start: every successful connect after the first of each period the channel ran (an active/active
    /// host runs it only while it owns the outstation, docs/scale-out.md §6.6; a take-back is a connect, not a reconnect).
    /// </summary>
    public long Reconnects => Channel.Reconnects;

    private int _inUse;

    /// <summary>
    /// Active/active: this host's channel to the outstation may be open — set before the channel starts, cleared only
    /// after it has stopped and closed its link. The ownership loop releases the outstation's lease only while this is
    /// false (<see cref="OwnershipService"/>), so a new owner never connects while this host's connection is open.
    /// </summary>
    public bool InUse => Volatile.Read(ref _inUse) == 1;

    /// <summary>Marks the channel in use; a full fence, so the ownership check that follows sees a hand-over begun before it.</summary>
    internal void MarkInUse() => Interlocked.Exchange(ref _inUse, 1);

    internal void MarkNotInUse() => Interlocked.Exchange(ref _inUse, 0);

    public void Scheduled(DateTimeOffset next)
    {
        lock (_gate)
            _nextPoll = next;
    }

    /// <summary>No poll planned (active/active: handed over to a peer).</summary>
    public void Unscheduled()
    {
        lock (_gate)
            _nextPoll = null;
    }

    /// <summary>
    /// One poll with the configured reads, written to the event log and logged: the one path of both the scheduled
    /// polls (<see cref="IpOutstationService"/>) and the on-demand ones (API, <c>poll --outstation</c>; ip-outstations.md §5).
    /// Throws only <see cref="OperationCanceledException"/>, <see cref="StateStoreException"/>, and
    /// <see cref="ObjectDisposedException"/> once the channel is stopped.
    /// </summary>
    public async Task<IpPoll> PollAndRecordAsync(IStateStore store, ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        var result = await Channel.PollAsync(Commands, cancellationToken).ConfigureAwait(false);
        var record = Record(result);
        await store.AppendTransactionAsync(record, cancellationToken).ConfigureAwait(false);
        IpLog.Polled(logger, Name, Endpoint, result.Code, result.Category, result.Runs, Channel.Heartbeat.ToString());
        return new IpPoll(result, record);
    }

    /// <summary>Notes a finished poll and returns its event-log record (design.md §3 attribution comes from the code).</summary>
    public TransactionRecord Record(PersistentPollResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        lock (_gate)
        {
            _last = result;
            _polls++;
            _nextPoll = null;
            if (result.RetriedAfterReconnect)
                _rerun++;
            if (result.IsSuccess)
            {
                _lastSuccess = result.EndedAt;
            }
            else
            {
                _failures++;
                _lastFailure = result.EndedAt;
            }
        }

        var reply = result.IsSuccess ? string.Empty : result.Detail ?? result.Code.ToString();
        if (result.RetriedAfterReconnect)
        {
            var note = $"run {result.Runs} times: the link dropped under it and it was run again after reconnecting";
            reply = reply.Length == 0 ? note : $"{reply}; {note}";
        }

        // No modem and no telephone number: the endpoint stands where the number is, so `events` and the API show
        // where the poll went; nothing reaches the repeat-call ledger (a TCP connect is not a call).
        return new TransactionRecord(result.StartedAt, result.EndedAt, Name, Endpoint, result.Code, null, [], reply);
    }

    public IpOutstationSnapshot Snapshot()
    {
        var heartbeat = Channel.Heartbeat;
        var events = Channel.Events;
        var lastEvent = events.Count > 0 ? events[^1] : null;
        lock (_gate)
        {
            return new IpOutstationSnapshot(
                Name,
                Endpoint,
                Protocol,
                Channel.State,
                heartbeat.Interval,
                heartbeat.LastFailed,
                heartbeat.IsSettled,
                Channel.Connects,
                Reconnects,
                _polls,
                _failures,
                _rerun,
                _last?.EndedAt,
                _last?.Code,
                _last is { IsSuccess: false } last ? last.Detail : null,
                _lastSuccess,
                _lastFailure,
                _nextPoll,
                lastEvent);
        }
    }

    public ValueTask DisposeAsync() => Channel.DisposeAsync();
}

/// <summary>A finished IP poll and the event-log record written for it.</summary>
internal sealed record IpPoll(PersistentPollResult Result, TransactionRecord Record);

/// <summary>What an IP outstation is doing, read by the API, the dashboard and the metrics.</summary>
internal sealed record IpOutstationSnapshot(
    string Name,
    string Endpoint,
    IpOutstationProtocol Protocol,
    PersistentChannelState State,
    TimeSpan HeartbeatInterval,
    TimeSpan? HeartbeatLastFailed,
    bool HeartbeatSettled,
    long Connects,
    long Reconnects,
    long Polls,
    long FailedPolls,
    long PollsRerunAfterReconnect,
    DateTimeOffset? LastPollAt,
    OutcomeCode? LastOutcome,
    string? LastDetail,
    DateTimeOffset? LastSuccess,
    DateTimeOffset? LastFailure,
    DateTimeOffset? NextPollAt,
    ChannelEvent? LastLinkEvent)
{
    public bool Connected => State == PersistentChannelState.Connected;
}

/// <summary>Every configured IP outstation (empty when the configuration has none, and in hosts without the service).</summary>
internal sealed class IpOutstationSet(IReadOnlyList<IpOutstation> outstations)
{
    public static IpOutstationSet Empty { get; } = new([]);

    public IReadOnlyList<IpOutstation> All { get; } = outstations;

    /// <summary>Active/active: an IP outstation whose channel this host may still have open (<see cref="IpOutstation.InUse"/>).</summary>
    public bool IsInUse(string name) => All.Any(o => o.Name == name && o.InUse);

    public IpOutstation? Find(string name) =>
        All.FirstOrDefault(o => o.Name == name) ?? All.FirstOrDefault(o => string.Equals(o.Name, name, StringComparison.OrdinalIgnoreCase));

    public IReadOnlyList<IpOutstationSnapshot> Snapshot() => [.. All.Select(o => o.Snapshot())];
}
