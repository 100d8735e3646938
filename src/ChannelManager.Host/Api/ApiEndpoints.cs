using System.Globalization;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using ChannelManager.Core.Channels;
using ChannelManager.Core.Modems;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Scheduling;
using ChannelManager.Host.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ChannelManager.Host.Api;

/// <summary>
/// The handlers of the HTTP API (issue 8 item 5). They read only the live Core objects (Channel Manager, scheduler,
/// repeat-call book, state store); none takes a file path or anything else that reaches the file system.
/// </summary>
internal static class ApiEndpoints
{
    public const int DefaultEvents = 50;
    public const int MaxEvents = 1000;
    public const int MaxOperatorLength = 64;
    public const int MaxReasonLength = 200;
    public const string LoggerCategory = "ChannelManager.Host.Api";

    /// <summary>Heartbeat on an idle stream so proxies and the browser keep the connection.</summary>
    private static readonly TimeSpan StreamHeartbeat = TimeSpan.FromSeconds(15);

    public static IEnumerable<ModemDto> Modems(ModemChannelManager channels) => channels.Modems.Select(ModemDto.From);

    public static IEnumerable<OutstationDto> Outstations(PollScheduler scheduler, ModemChannelManager channels)
    {
        var stats = channels.Outstations;
        return scheduler.Status.Select(s => OutstationDto.From(s, stats.GetValueOrDefault(s.Name)));
    }

    /// <summary>GET /api/ip-outstations: every always-connected IP outstation (issue 7).</summary>
    public static IEnumerable<IpOutstationDto> IpOutstations(IpOutstationSet ip) => ip.Snapshot().Select(IpOutstationDto.From);

    public static QueueDto Queue(PollScheduler scheduler, TimeProvider time) => QueueView.From(scheduler.Status, time.GetUtcNow());

    public static IEnumerable<AlarmDto> Alarms(PollScheduler scheduler) => scheduler.Alarms.Reverse().Select(AlarmDto.From);

    public static async Task<IResult> EventsAsync(string? max, string? outstation, PollScheduler scheduler, IpOutstationSet ip, IStateStore store, CancellationToken cancellationToken)
    {
        var count = DefaultEvents;
        if (max is not null && (!int.TryParse(max, NumberStyles.None, CultureInfo.InvariantCulture, out count) || count < 1 || count > MaxEvents))
            return ApiProblems.InvalidField("max", $"is '{ApiProblems.Printable(max)}'; it must be a whole number from 1 to {MaxEvents}");
        if (outstation is not null && !scheduler.Status.Any(s => s.Name == outstation) && !ip.All.Any(o => o.Name == outstation))
            return ApiProblems.UnknownOutstation(outstation);
        var events = await store.ReadTransactionsAsync(count, outstation, cancellationToken).ConfigureAwait(false);
        return TypedResults.Ok(events.Select(EventDto.From).ToList());
    }

    public static async Task<LedgerBookDto> LedgerAsync(RepeatCallBook book, PollScheduler scheduler, IStateStore store, TimeProvider time, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var status = scheduler.Status;
        var numbers = status.Select(s => s.Number).Concat(book.Ledgers.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
        var ledgers = numbers.Select(n => LedgerDto.From(book.LedgerOf(n), [.. status.Where(s => s.Number == n).Select(s => s.Name)], now)).ToList();
        var events = await store.ReadLedgerEventsAsync(DefaultEvents, null, cancellationToken).ConfigureAwait(false);
        return new LedgerBookDto(book.Profile.Name, ledgers, [.. events.Select(LedgerEventDto.From)]);
    }

    /// <summary>
    /// POST /api/outstations/{name}/poll: a dial-up outstation through the scheduler (and the repeat-call guard), an IP
    /// outstation as one poll on its kept-open channel, recorded like its scheduled polls (docs/ip-outstations.md §8).
    /// A standby host answers 409 and dials nothing (docs/scale-out.md §3.3).
    /// </summary>
    public static async Task<IResult> PollAsync(string name, string? wait, PollScheduler scheduler, IpOutstationSet ip, IStateStore store, ClusterView cluster, IHostApplicationLifetime lifetime, ILoggerFactory logs, CancellationToken cancellationToken)
    {
        var dialUp = scheduler.Status.Any(s => s.Name == name);
        var ipOutstation = dialUp ? null : ip.Find(name);
        if (!dialUp && ipOutstation is null)
            return ApiProblems.UnknownOutstation(name);
        if (wait is not null && !bool.TryParse(wait, out _))
            return ApiProblems.InvalidField("wait", $"is '{ApiProblems.Printable(wait)}'; it must be true or false");
        if (cluster.IsStandby)
        {
            // Who holds the lease is read from the database, as GET /api/cluster does; unknown if it cannot be read.
            var view = await cluster.ReadAsync(cancellationToken).ConfigureAwait(false);
            ApiLog.PollOnStandby(logs.CreateLogger(LoggerCategory), name, cluster.HostId, view.ActiveHost ?? "unknown");
            return ApiProblems.Standby(name, cluster.HostId, view.ActiveHost);
        }

        if (cluster.OwnerElsewhere(ipOutstation?.Name ?? name) is { } owner)
        {
            // Active/active: another host's share (docs/scale-out.md §6); this host dials nothing for it, and for an IP
            // outstation opens no connection (its owner keeps the only one, §6.6).
            ApiLog.PollNotOwned(logs.CreateLogger(LoggerCategory), name, cluster.HostId, owner);
            return ApiProblems.NotOwner(name, cluster.HostId, owner);
        }

        var logger = logs.CreateLogger(LoggerCategory);
        ApiLog.PollRequested(logger, name);
        if (wait is not null && !bool.Parse(wait))
        {
            // Queued now; it runs even if the client goes away, but not past the host's shutdown.
            Task poll = ipOutstation is null
                ? scheduler.PollNowAsync(name, lifetime.ApplicationStopping)
                : ipOutstation.PollAndRecordAsync(store, logger, lifetime.ApplicationStopping);
            _ = poll.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            return TypedResults.Accepted($"/api/events?outstation={Uri.EscapeDataString(ipOutstation?.Name ?? name)}");
        }

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lifetime.ApplicationStopping);
        try
        {
            if (ipOutstation is not null)
            {
                var done = await ipOutstation.PollAndRecordAsync(store, logger, linked.Token).ConfigureAwait(false);
                return TypedResults.Ok(Hosting.PollReport.From(done.Result, done.Record));
            }

            var outcome = await scheduler.PollNowAsync(name, linked.Token).ConfigureAwait(false);
            // The same shape as `poll --json` (Hosting/PollReport), values included.
            return TypedResults.Ok(Hosting.PollReport.From(outcome));
        }
        catch (ArgumentException)
        {
            // The configuration cannot change at run time, but a name check and the queueing are two steps.
            return ApiProblems.UnknownOutstation(name);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException && lifetime.ApplicationStopping.IsCancellationRequested)
        {
            // The scheduler cancels waiting requests when it stops, and a stopped IP channel takes no poll: say so
            // instead of failing with a 500.
            return ApiProblems.Problem(StatusCodes.Status503ServiceUnavailable, "shutting-down", "Host is stopping", $"The poll of '{ApiProblems.Printable(name)}' was cancelled because the host is shutting down.");
        }
    }

    public static async Task<IResult> ResetLedgerAsync(string number, HttpRequest request, ApiOptions options, RepeatCallBook book, PollScheduler scheduler, TimeProvider time, ILoggerFactory logs, CancellationToken cancellationToken)
    {
        // Issue 10 §3: a number is validated wherever it enters, the API included.
        if (DialString.Validate(number) is { } why)
            return ApiProblems.InvalidNumber(number, why);
        if (!book.Ledgers.ContainsKey(number) && !scheduler.Status.Any(s => s.Number == number))
            return ApiProblems.UnknownNumber(number);
        var (body, problem) = await JsonBody.ReadAsync<LedgerResetRequest>(request, options.MaxRequestBodyBytes, cancellationToken).ConfigureAwait(false);
        if (problem is not null)
            return problem;
        if (ValidateText("operator", body!.Operator, MaxOperatorLength, required: true) is { } badOperator) // ReadAsync returns a body when there is no problem.
            return badOperator;
        if (ValidateText("reason", body.Reason, MaxReasonLength, required: false) is { } badReason)
            return badReason;
        var reason = string.IsNullOrWhiteSpace(body.Reason) ? "reset through the API" : body.Reason.Trim();
        var update = await book.OperatorResetAsync(number, body.Operator!.Trim(), reason, time.GetUtcNow(), cancellationToken).ConfigureAwait(false); // validated as required above.
        ApiLog.LedgerReset(logs.CreateLogger(LoggerCategory), number, body.Operator.Trim(), reason);
        return TypedResults.Ok(LedgerDto.From(update.Ledger, [.. scheduler.Status.Where(s => s.Number == number).Select(s => s.Name)], time.GetUtcNow()));
    }

    public static async Task<IResult> SetOutOfServiceAsync(string name, HttpRequest request, ApiOptions options, ModemChannelManager channels, ILoggerFactory logs, CancellationToken cancellationToken)
    {
        var modem = channels.Modems.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase));
        if (modem is null)
            return ApiProblems.UnknownModem(name);
        var (body, problem) = await JsonBody.ReadAsync<OutOfServiceRequest>(request, options.MaxRequestBodyBytes, cancellationToken).ConfigureAwait(false);
        if (problem is not null)
            return problem;
        if (body!.OutOfService is not { } outOfService) // ReadAsync returns a body when there is no problem.
            return ApiProblems.InvalidField("outOfService", "is required (true or false)");
        if (ValidateText("reason", body.Reason, MaxReasonLength, required: false) is { } badReason)
            return badReason;
        if (ValidateText("operator", body.Operator, MaxOperatorLength, required: false) is { } badOperator)
            return badOperator;
        if (!channels.SetOutOfService(modem.Name, outOfService))
            return ApiProblems.UnknownModem(name);
        ApiLog.OutOfService(logs.CreateLogger(LoggerCategory), modem.Name, outOfService, body.Operator?.Trim() ?? "operator", body.Reason?.Trim() ?? string.Empty);
        return TypedResults.Ok(ModemDto.From(channels.Modems.First(m => m.Name == modem.Name)));
    }

    /// <summary>GET /api/cluster: this host's role (Single, Active, Standby), its lease and the peers in the lease table (issue 11 item 4).</summary>
    public static Task<ClusterDto> ClusterAsync(ClusterView cluster, CancellationToken cancellationToken) => cluster.ReadAsync(cancellationToken);

    public static async Task<DashboardSnapshotDto> SnapshotAsync(ModemChannelManager channels, PollScheduler scheduler, IpOutstationSet ip, IStateStore store, ClusterView cluster, TimeProvider time, CancellationToken cancellationToken)
    {
        var events = await store.ReadTransactionsAsync(30, null, cancellationToken).ConfigureAwait(false);
        return new DashboardSnapshotDto(
            [.. Modems(channels)],
            Queue(scheduler, time),
            [.. Outstations(scheduler, channels)],
            [.. events.Select(EventDto.From)],
            [.. Alarms(scheduler)],
            [.. IpOutstations(ip)],
            (await cluster.ReadAsync(cancellationToken).ConfigureAwait(false)).WithoutExpiry());
    }

    /// <summary>
    /// The dashboard's live feed: a <c>snapshot</c> event whenever anything changed (checked every
    /// <see cref="ApiOptions.StreamInterval"/>), a <c>heartbeat</c> when nothing did for a while.
    /// </summary>
    public static IResult Stream(ModemChannelManager channels, PollScheduler scheduler, IpOutstationSet ip, IStateStore store, ClusterView cluster, TimeProvider time, ApiOptions options, IHostApplicationLifetime lifetime, CancellationToken cancellationToken) =>
        TypedResults.ServerSentEvents(StreamAsync(channels, scheduler, ip, store, cluster, time, options.StreamInterval, lifetime.ApplicationStopping, cancellationToken));

    private static async IAsyncEnumerable<SseItem<string>> StreamAsync(ModemChannelManager channels, PollScheduler scheduler, IpOutstationSet ip, IStateStore store, ClusterView cluster, TimeProvider time, TimeSpan interval, CancellationToken stopping, [EnumeratorCancellation] CancellationToken requestAborted)
    {
        // A stream never ends by itself: it must end when the host stops, or shutdown would wait for every open dashboard.
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, requestAborted);
        var cancellationToken = linked.Token;
        string? last = null;
        var quiet = TimeSpan.Zero;
        while (!cancellationToken.IsCancellationRequested)
        {
            var json = JsonSerializer.Serialize(await SnapshotAsync(channels, scheduler, ip, store, cluster, time, cancellationToken).ConfigureAwait(false), ApiJson.Options);
            if (json != last)
            {
                last = json;
                quiet = TimeSpan.Zero;
                yield return new SseItem<string>(json, "snapshot") { ReconnectionInterval = TimeSpan.FromSeconds(2) };
            }
            else if ((quiet += interval) >= StreamHeartbeat)
            {
                quiet = TimeSpan.Zero;
                yield return new SseItem<string>("{}", "heartbeat");
            }

            // Paced in wall-clock time, not the domain clock: the demo runs a skip-ahead virtual clock, where a
            // dashboard's timer would be one more pending wake-up for the clock to jump to.
            if (!await DelayAsync(interval, TimeProvider.System, cancellationToken).ConfigureAwait(false))
                yield break;
        }
    }

    private static async Task<bool> DelayAsync(TimeSpan interval, TimeProvider time, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(interval, time, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static IResult? ValidateText(string field, string? value, int maxLength, bool required)
    {
        if (string.IsNullOrWhiteSpace(value))
            return required ? ApiProblems.InvalidField(field, "is required") : null;
        if (value.Length > maxLength)
            return ApiProblems.InvalidField(field, $"is {value.Length} characters long; at most {maxLength} are allowed");
        // It goes into the audit log: no control characters, so it cannot forge log lines.
        return value.Any(char.IsControl) ? ApiProblems.InvalidField(field, "must not contain control characters") : null;
    }
}
