using System.Text.Json;
using System.Text.Json.Serialization;
using ChannelManager.Core;
using ChannelManager.Core.Channels;
using ChannelManager.Core.Channels.Persistent;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Scheduling;
using ChannelManager.Host.Hosting;

namespace ChannelManager.Host.Api;

/// <summary>The API's JSON: camelCase, enums as their names (design.md §5: "enums as PascalCase strings as in §3").</summary>
internal static class ApiJson
{
    public static JsonSerializerOptions Options { get; } = Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web));

    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
        options.Converters.Add(new JsonStringEnumConverter());
        // Unknown members in a request are an error naming the member, not silently ignored (issue 10 §2: typed errors).
        options.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        return options;
    }
}

/// <summary>A call in progress on a modem.</summary>
public sealed record CurrentCallDto(string? Outstation, string? Number, DateTimeOffset? StartedAt);

/// <summary>One modem of the bank (GET /api/modems).</summary>
public sealed record ModemDto(
    string Name,
    ModemAvailability State,
    bool Faulted,
    int Quality,
    OutcomeCode? LastFault,
    string? LastFaultReply,
    DateTimeOffset? QuarantinedUntil,
    CurrentCallDto? CurrentCall,
    IReadOnlyList<string> Pools,
    long Calls,
    long Connects,
    long Errors,
    IReadOnlyDictionary<string, long> FailuresByCode,
    double? MeanConnectSeconds,
    DateTimeOffset? LastGood,
    DateTimeOffset? LastBad)
{
    public static ModemDto From(ModemSnapshot m) => new(
        m.Name,
        m.Availability,
        m.Faulted,
        m.Quality,
        m.LastFault,
        m.LastFaultReply,
        m.QuarantinedUntil,
        m.CurrentOutstation is null && m.CurrentNumber is null ? null : new CurrentCallDto(m.CurrentOutstation, m.CurrentNumber, m.CallStartedAt),
        m.Pools,
        m.Statistics.Calls,
        m.Statistics.Connects,
        m.Statistics.Errors,
        m.Statistics.FailuresByCode.ToDictionary(f => f.Key.ToString(), f => f.Value, StringComparer.Ordinal),
        m.Statistics.MeanTimeToConnect?.TotalSeconds,
        m.Statistics.LastGood,
        m.Statistics.LastBad);
}

/// <summary>One outstation (GET /api/outstations): the scheduler's view plus the Channel Manager's failure counts.</summary>
public sealed record OutstationDto(
    string Name,
    string Number,
    int Priority,
    bool Running,
    int QueuedOnDemand,
    DateTimeOffset? NextAttempt,
    DateTimeOffset? PendingRetry,
    int FailedAttempts,
    bool Exhausted,
    DateTimeOffset? LastAccess,
    DateTimeOffset? LastSuccess,
    DateTimeOffset? LastFailure,
    OutcomeCode? LastOutcome,
    OutcomeCategory? LastOutcomeCategory,
    LedgerState NumberState,
    long Calls,
    long Errors)
{
    public static OutstationDto From(OutstationStatus s, OutstationStatistics? stats) => new(
        s.Name,
        s.Number,
        s.Priority,
        s.Running,
        s.QueuedOnDemand,
        s.NextDue,
        s.PendingRetry,
        s.FailedAttempts,
        s.Exhausted,
        s.LastAccess,
        s.LastSuccess,
        s.LastFailure,
        s.LastOutcome,
        s.LastOutcome?.Category(),
        s.NumberState,
        stats?.Calls ?? 0,
        stats?.Errors ?? 0);
}

/// <summary>One entry of the poll queue.</summary>
public sealed record QueueEntryDto(string Outstation, string Number, int Priority, bool Running, int OnDemand, DateTimeOffset? DueAt, bool Due);

/// <summary>GET /api/queue: running polls first, then on-demand requests, then scheduled polls by due time.</summary>
public sealed record QueueDto(int Depth, int Running, IReadOnlyList<QueueEntryDto> Entries);

/// <summary>One transaction of the event log (GET /api/events).</summary>
public sealed record EventDto(
    DateTimeOffset StartedAt,
    DateTimeOffset EndedAt,
    string Outstation,
    string Number,
    OutcomeCode Outcome,
    OutcomeCategory Category,
    FaultAttribution CountedAgainst,
    string? Modem,
    IReadOnlyList<string> ModemsTried,
    string Reply)
{
    public static EventDto From(TransactionRecord t) => new(t.StartedAt, t.EndedAt, t.Outstation, t.Number, t.Code, t.Category, t.CountedAgainst, t.Modem, t.ModemsTried, t.RawReply);
}

/// <summary>One number's repeat-call ledger (GET /api/ledger).</summary>
public sealed record LedgerDto(
    string Number,
    IReadOnlyList<string> Outstations,
    LedgerState State,
    int AttemptsInSequence,
    DateTimeOffset? SequenceStart,
    DateTimeOffset? LastOffHook,
    DateTimeOffset? LastOnHook,
    OutcomeCode? LastOutcome,
    DateTimeOffset? NextAllowedAt,
    DateTimeOffset? LockedAt,
    string? LockReason,
    DateTimeOffset? ReleaseAt,
    IReadOnlyList<string> BlockedModems)
{
    public static LedgerDto From(NumberLedger l, IReadOnlyList<string> outstations, DateTimeOffset now) => new(
        l.Number,
        outstations,
        l.StateAt(now),
        l.AttemptsInSequence,
        l.SequenceStart,
        l.LastOffHook,
        l.LastOnHook,
        l.LastOutcome,
        l.NextAllowedAt,
        l.LockedAt,
        l.LockReason,
        l.ReleaseAt,
        [.. l.ModemBlocks.Where(b => b.ActiveAt(now)).Select(b => b.Modem)]);
}

/// <summary>One ledger state change (attempts, locks, resets) for the audit trail.</summary>
public sealed record LedgerEventDto(DateTimeOffset At, string Number, LedgerEventKind Kind, string Detail, string? Operator, string? Modem)
{
    public static LedgerEventDto From(LedgerEvent e) => new(e.At, e.Number, e.Kind, e.Detail, e.Operator, e.Modem);
}

/// <summary>GET /api/ledger.</summary>
public sealed record LedgerBookDto(string Profile, IReadOnlyList<LedgerDto> Numbers, IReadOnlyList<LedgerEventDto> RecentEvents);

/// <summary>One operator alarm (GET /api/alarms).</summary>
public sealed record AlarmDto(DateTimeOffset At, AlarmKind Kind, string Outstation, string Number, string Cause, bool Restored)
{
    public static AlarmDto From(OperatorAlarm a) => new(a.At, a.Kind, a.Outstation, a.Number, a.Cause, a.Restored);
}

/// <summary>Everything the dashboard shows, in one message (GET /api/snapshot and each <c>/api/stream</c> event).</summary>
public sealed record DashboardSnapshotDto(
    IReadOnlyList<ModemDto> Modems,
    QueueDto Queue,
    IReadOnlyList<OutstationDto> Outstations,
    IReadOnlyList<EventDto> Events,
    IReadOnlyList<AlarmDto> Alarms,
    IReadOnlyList<IpOutstationDto> IpOutstations,
    ClusterDto Cluster);

/// <summary>The newest thing an IP outstation's channel did (connected, connect failed, silent drop, …).</summary>
public sealed record LinkEventDto(DateTimeOffset At, ChannelEventKind Kind, string Detail);

/// <summary>
/// One always-connected IP outstation (GET /api/ip-outstations; issue 7): its link, the learned heartbeat interval
/// (seed 001) with the remembered failed interval, reconnects (seed 002) and its last poll.
/// </summary>
public sealed record IpOutstationDto(
    string Name,
    string Endpoint,
    string Protocol,
    PersistentChannelState State,
    bool Connected,
    double HeartbeatIntervalSeconds,
    double? HeartbeatLastFailedSeconds,
    bool HeartbeatSettled,
    long Connects,
    long Reconnects,
    long Polls,
    long FailedPolls,
    long PollsRerunAfterReconnect,
    DateTimeOffset? LastPollAt,
    OutcomeCode? LastOutcome,
    OutcomeCategory? LastOutcomeCategory,
    FaultAttribution? LastCountedAgainst,
    string? LastDetail,
    DateTimeOffset? LastSuccess,
    DateTimeOffset? LastFailure,
    DateTimeOffset? NextPollAt,
    LinkEventDto? LastLinkEvent)
{
    internal static IpOutstationDto From(IpOutstationSnapshot s) => new(
        s.Name,
        s.Endpoint,
        s.Protocol.ToString(),
        s.State,
        s.Connected,
        s.HeartbeatInterval.TotalSeconds,
        s.HeartbeatLastFailed?.TotalSeconds,
        s.HeartbeatSettled,
        s.Connects,
        s.Reconnects,
        s.Polls,
        s.FailedPolls,
        s.PollsRerunAfterReconnect,
        s.LastPollAt,
        s.LastOutcome,
        s.LastOutcome?.Category(),
        s.LastOutcome?.CountedAgainst(),
        s.LastDetail,
        s.LastSuccess,
        s.LastFailure,
        s.NextPollAt,
        s.LastLinkEvent is { } e ? new LinkEventDto(e.At, e.Kind, e.Detail) : null);
}

/// <summary>Body of POST /api/ledger/{number}/reset.</summary>
public sealed record LedgerResetRequest(string? Operator, string? Reason);

/// <summary>Body of POST /api/modems/{name}/out-of-service.</summary>
public sealed record OutOfServiceRequest(bool? OutOfService, string? Reason, string? Operator);

/// <summary>The queue as the scheduler's snapshot implies it.</summary>
internal static class QueueView
{
    public static QueueDto From(IReadOnlyList<OutstationStatus> status, DateTimeOffset now)
    {
        var entries = status
            .Select(s => new QueueEntryDto(s.Name, s.Number, s.Priority, s.Running, s.QueuedOnDemand, s.NextDue, !s.Running && (s.QueuedOnDemand > 0 || s.NextDue is { } d && d <= now)))
            .OrderByDescending(e => e.Running)
            .ThenByDescending(e => e.OnDemand > 0)
            .ThenBy(e => e.DueAt ?? DateTimeOffset.MaxValue)
            .ThenByDescending(e => e.Priority)
            .ToList();
        return new QueueDto(entries.Count(e => e.Due), entries.Count(e => e.Running), entries);
    }

    /// <summary>Polls waiting to run: on-demand requests plus scheduled polls that are due and not on the line.</summary>
    public static int Depth(IReadOnlyList<OutstationStatus> status, DateTimeOffset now) => From(status, now).Depth;
}
