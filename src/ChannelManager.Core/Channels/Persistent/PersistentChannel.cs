using System.Threading.Channels;
using ChannelManager.Core.Persistence;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Scheduling;
using ChannelManager.Core.Transport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ChannelManager.Core.Channels.Persistent;

/// <summary>
/// An always-connected channel to one IP outstation (issue 7; docs/ip-outstations.md): keeps a TCP connection open
/// through an <see cref="IChannelTransport"/>, runs polls on it one at a time, sends a cheap heartbeat request after
/// <see cref="AdaptiveHeartbeat.Interval"/> of silence (seed 001), and reconnects with the seed 002 strategy
/// (<see cref="BackoffPolicy"/>: None, Linear, ExponentialRandomized; reset on a successful connect).
/// It can be stopped and started again (<see cref="StopAsync"/>): an active/active host runs it only while it holds the
/// outstation's lease (docs/scale-out.md §6.6), and closes the link before that lease goes to a peer.
/// </summary>
/// <remarks>
/// One loop task owns the link, so a heartbeat never interleaves with a poll. No poll is lost: a read-only poll whose
/// link drops under it is run again on the next connection, and every poll ends with a typed
/// <see cref="PersistentPollResult"/> (or <see cref="OperationCanceledException"/> for its caller's token).
/// A missing reply on an idle link is only charged to the heartbeat interval once the outstation answers on a fresh
/// connection (docs/backoff-and-repeat-calls.md §8 rule 5).
/// </remarks>
public sealed class PersistentChannel : IAsyncDisposable
{
    private const int MaxEvents = 512;

    private readonly PersistentChannelOptions _options;
    private readonly Func<IChannelTransport> _transportFactory;
    private readonly IProtocolDriver _driver;
    private readonly IReadOnlyList<ProtocolCommand> _heartbeatCommands;
    private readonly BackoffPolicy _reconnect;
    private readonly TimeProvider _time;
    private readonly Func<double> _random;
    private readonly IHeartbeatStore? _store;
    private readonly ILogger _logger;
    private readonly Channel<PollWork> _queue = Channel.CreateUnbounded<PollWork>();
    private readonly LinkedList<PollWork> _retries = new();
    private readonly List<ChannelEvent> _events = [];
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _startStop = new(1, 1);
    private CancellationTokenSource? _run;
    private Task _loop = Task.CompletedTask;
    private PollWork? _current;
    private bool _disposed;
    private IChannelTransport? _link;
    private AdaptiveHeartbeat _heartbeat;
    private PersistentChannelState _state = PersistentChannelState.Stopped;
    private long _lastActivity;
    private int _failedConnects;
    private bool _dropSuspected;
    private TimeSpan _idleBeforeSuspectedDrop;
    private string _lastConnectFailure = "not connected yet";
    private string _endpoint = "?";
    private LearnedHeartbeat? _saved;
    private long _connects;
    private long _reconnects;
    private bool _connectedThisRun;

    public PersistentChannel(
        PersistentChannelOptions options,
        Func<IChannelTransport> transportFactory,
        IProtocolDriver driver,
        IReadOnlyList<ProtocolCommand> heartbeatCommands,
        TimeProvider time,
        Func<double>? random = null,
        IHeartbeatStore? store = null,
        ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(transportFactory);
        ArgumentNullException.ThrowIfNull(driver);
        ArgumentNullException.ThrowIfNull(heartbeatCommands);
        ArgumentNullException.ThrowIfNull(time);
        var errors = options.Validate();
        if (errors.Count > 0)
            throw new ArgumentException("Invalid persistent channel options: " + string.Join("; ", errors), nameof(options));
        if (heartbeatCommands.Count == 0)
            throw new ArgumentException("A heartbeat needs at least one request (a cheap read).", nameof(heartbeatCommands));

        _options = options;
        _transportFactory = transportFactory;
        _driver = driver;
        _heartbeatCommands = heartbeatCommands;
        _reconnect = BackoffPolicy.From(options.Reconnect);
        _time = time;
        _random = random ?? Random.Shared.NextDouble;
        _store = store;
        _logger = logger ?? NullLogger.Instance;
        _heartbeat = AdaptiveHeartbeat.Start(options.Heartbeat);
    }

    public string Name => _options.Name;

    public PersistentChannelState State
    {
        get
        {
            lock (_gate)
                return _state;
        }
    }

    public AdaptiveHeartbeat Heartbeat
    {
        get
        {
            lock (_gate)
                return _heartbeat;
        }
    }

    /// <summary>The newest events last (at most 512).</summary>
    public IReadOnlyList<ChannelEvent> Events
    {
        get
        {
            lock (_gate)
                return [.. _events];
        }
    }

    /// <summary>
    /// Successful connects since start; every one after the first is a reconnect. A running total (the event list
    /// keeps only the newest 512), for the host's reconnect counter and dashboard.
    /// </summary>
    public long Connects => Interlocked.Read(ref _connects);

    /// <summary>
    /// Successful connects that re-opened a link which had dropped while the channel ran: the first connect after each
    /// <see cref="StartAsync"/> is not one, so an active/active hand-over and take-back counts no reconnect.
    /// </summary>
    public long Reconnects => Interlocked.Read(ref _reconnects);

    /// <summary>True from <see cref="StartAsync"/> until <see cref="StopAsync"/> has closed the link.</summary>
    public bool IsRunning
    {
        get
        {
            lock (_gate)
                return _run is not null;
        }
    }

    public int Count(ChannelEventKind kind)
    {
        lock (_gate)
            return _events.Count(e => e.Kind == kind);
    }

    /// <summary>
    /// Loads the learned heartbeat (if a store is given) and starts the loop, which connects at once. Again after
    /// <see cref="StopAsync"/>: a fresh connect (the reconnect strategy starts over), the learned heartbeat re-read
    /// (a peer may have learned more meanwhile). Starting a running channel is a bug.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await _startStop.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (IsRunning)
                throw new InvalidOperationException($"Persistent channel {Name} is already running.");
            if (_store is not null && await _store.LoadHeartbeatAsync(Name, cancellationToken).ConfigureAwait(false) is { } learned)
            {
                lock (_gate)
                    _heartbeat = AdaptiveHeartbeat.Restore(_heartbeat.Limits, learned.Interval, learned.LastFailed);
            }

            _failedConnects = 0;
            _dropSuspected = false;
            _connectedThisRun = false;
            var run = new CancellationTokenSource();
            lock (_gate)
                _run = run;
            _loop = Task.Run(() => RunAsync(run.Token), CancellationToken.None);
        }
        finally
        {
            _startStop.Release();
        }
    }

    /// <summary>
    /// Stops the loop and closes the link (the connection is closed when this returns); a poll running or waiting ends
    /// <see cref="OutcomeCode.Cancelled"/>. <see cref="StartAsync"/> may run it again. Nothing to do when not running.
    /// </summary>
    public async Task StopAsync()
    {
        await _startStop.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            await StopRunAsync().ConfigureAwait(false);
        }
        finally
        {
            _startStop.Release();
        }
    }

    /// <summary>
    /// Runs <paramref name="commands"/> on the open link (after the polls ahead of it). Always a typed result; throws
    /// only <see cref="OperationCanceledException"/> for <paramref name="cancellationToken"/> and
    /// <see cref="ArgumentException"/> for bad commands.
    /// </summary>
    public async Task<PersistentPollResult> PollAsync(IReadOnlyList<ProtocolCommand> commands, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(commands);
        if (commands.Count == 0)
            throw new ArgumentException("A poll needs at least one command.", nameof(commands));
        var work = new PollWork(commands, IsRereadable(commands), _time.GetUtcNow());
        await using var waitLimit = _time.CreateTimer(_ => Expire(work), null, _options.MaxPollWait, Timeout.InfiniteTimeSpan).ConfigureAwait(false);
        await using var cancel = cancellationToken.Register(() => work.Abandon()).ConfigureAwait(false);
        if (!_queue.Writer.TryWrite(work))
            throw new ObjectDisposedException(nameof(PersistentChannel), "The channel is stopped.");
        return await work.Result.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await _startStop.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            if (_disposed)
                return;
            _disposed = true;
            _queue.Writer.TryComplete();
            await StopRunAsync().ConfigureAwait(false);
            while (_queue.Reader.TryRead(out var w))
                EndWaiting(w, OutcomeCode.Cancelled, "the channel was stopped");
            SetState(PersistentChannelState.Stopped);
        }
        finally
        {
            _startStop.Release();
        }
    }

    /// <summary>Under <see cref="_startStop"/>: ends the loop, closes the link, ends every poll it had taken or was holding.</summary>
    private async Task StopRunAsync()
    {
        CancellationTokenSource? run;
        lock (_gate)
            run = _run;
        if (run is null)
            return;
        await run.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        await DropLinkAsync().ConfigureAwait(false);
        // The loop is over: a poll it was running (cancelled on the wire) gets its typed end here, or its caller would
        // wait for its own token.
        if (_current is { IsFinished: false } running)
            running.Finish(Result(running, OutcomeCode.Cancelled, null, "the channel was stopped"));
        _current = null;
        lock (_gate)
        {
            foreach (var w in _retries)
                EndWaiting(w, OutcomeCode.Cancelled, "the channel was stopped");
            _retries.Clear();
            _state = PersistentChannelState.Stopped;
            _run = null;
        }

        while (_queue.Reader.TryRead(out var w))
            EndWaiting(w, OutcomeCode.Cancelled, "the channel was stopped");
        _dropSuspected = false;
        Record(ChannelEventKind.Stopped, "link closed");
        run.Dispose();
    }

    private async Task RunAsync(CancellationToken ct)
    {
        var waitForDemand = false;
        while (!ct.IsCancellationRequested)
        {
            if (_link is null)
            {
                if (waitForDemand)
                {
                    // Seed 002 CMTR_NONE / strategy exhausted: "reconnection attempts are caused only by … events" — a poll.
                    SetState(PersistentChannelState.Down);
                    if (!await WaitForPollAsync(Timeout.InfiniteTimeSpan, ct).ConfigureAwait(false))
                        continue;
                    waitForDemand = false;
                }

                if (!await ConnectAsync(ct).ConfigureAwait(false))
                {
                    var decision = _reconnect.Next(_failedConnects, OutcomeCode.TransportFailure, _time.GetUtcNow(), _random);
                    Log.ConnectFailed(_logger, Name, _endpoint, _lastConnectFailure, decision.GiveUp ? "giving up until the next poll" : $"retry in {decision.Delay}");
                    if (decision.GiveUp)
                    {
                        Record(ChannelEventKind.ReconnectGaveUp, decision.Reason);
                        FailWaitingPolls(OutcomeCode.TransportFailure, $"no connection: {_lastConnectFailure}");
                        waitForDemand = true;
                        continue;
                    }

                    Record(ChannelEventKind.ReconnectScheduled, $"{decision.Delay.TotalMilliseconds:0} ms: {decision.Reason}");
                    SetState(PersistentChannelState.WaitingToReconnect);
                    await Task.Delay(decision.Delay, _time, ct).ConfigureAwait(false);
                    continue;
                }
            }

            if (_dropSuspected && !HasRetry())
            {
                // Verify at once on the new connection: answered = the old path dropped silently; not = the outstation.
                await RunHeartbeatAsync(ct).ConfigureAwait(false);
                continue;
            }

            var idleFor = _time.GetElapsedTime(_lastActivity);
            var dueIn = Heartbeat.Interval - idleFor;
            if (HasRetry() || (dueIn > TimeSpan.Zero && await WaitForPollAsync(dueIn, ct).ConfigureAwait(false)))
            {
                if (TakeNextPoll() is { } work)
                    await RunPollAsync(work, ct).ConfigureAwait(false);
                continue;
            }

            if (_time.GetElapsedTime(_lastActivity) >= Heartbeat.Interval)
                await RunHeartbeatAsync(ct).ConfigureAwait(false);
        }
    }

    private async Task<bool> ConnectAsync(CancellationToken ct)
    {
        SetState(PersistentChannelState.Connecting);
        var link = _transportFactory();
        _endpoint = link.Endpoint;
        try
        {
            await link.OpenAsync(ct).ConfigureAwait(false);
        }
        catch (TransportFailureException e)
        {
            await link.DisposeAsync().ConfigureAwait(false);
            _failedConnects++;
            _lastConnectFailure = e.Message;
            Record(ChannelEventKind.ConnectFailed, e.Message);
            return false;
        }
        catch (OperationCanceledException)
        {
            await link.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        _link = link;
        _failedConnects = 0;   // seed 002: "resetting to 1 when connection is connected"
        Interlocked.Increment(ref _connects);
        if (_connectedThisRun)
            Interlocked.Increment(ref _reconnects);
        _connectedThisRun = true;
        _lastActivity = _time.GetTimestamp();
        SetState(PersistentChannelState.Connected);
        Record(ChannelEventKind.Connected, link.Endpoint);
        Log.Connected(_logger, Name, link.Endpoint);
        return true;
    }

    private async Task RunHeartbeatAsync(CancellationToken ct)
    {
        // ! : only called while connected (RunAsync connects first).
        var idle = _time.GetElapsedTime(_lastActivity);
        var result = await _driver.ExecuteAsync(_link!, _heartbeatCommands, ct).ConfigureAwait(false);
        var verdict = await JudgeAsync(result, idle, isHeartbeat: true, ct).ConfigureAwait(false);
        if (verdict == Verdict.Answered)
        {
            Record(ChannelEventKind.HeartbeatAnswered, $"after {idle} idle");
            Log.HeartbeatAnswered(_logger, Name, idle, Heartbeat.ToString());
        }
    }

    private async Task RunPollAsync(PollWork work, CancellationToken ct)
    {
        _current = work;
        work.Runs++;
        // ! : only called while connected.
        var idle = _time.GetElapsedTime(_lastActivity);
        ProtocolResult result;
        try
        {
            result = await _driver.ExecuteAsync(_link!, work.Commands, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A driver throws only for a bug or bad arguments (IProtocolDriver contract): that caller gets the
            // exception, and the channel goes on serving the others.
            work.Fail(e);
            return;
        }

        var verdict = await JudgeAsync(result, idle, isHeartbeat: false, ct).ConfigureAwait(false);
        if (verdict == Verdict.LinkDropped && work.Rereadable && work.Runs <= _options.PollRetriesAfterReconnect)
        {
            work.Requeue();
            lock (_gate)
                _retries.AddLast(work);
            Record(ChannelEventKind.PollRetried, $"run {work.Runs} ended {result.Code}; again after reconnect");
            return;
        }

        var detail = verdict == Verdict.LinkDropped && !work.Rereadable
            ? $"{result.Detail}; not re-run after reconnect: the poll writes"
            : result.Detail;
        work.Finish(Result(work, result.Code, result, detail));
    }

    private enum Verdict
    {
        Answered,
        OutstationSilent,
        LinkDropped,
    }

    /// <summary>Seed 001 and design.md §3 applied to one exchange on the open link.</summary>
    /// <param name="idleBefore">How long the link had been silent when the exchange began.</param>
    private async Task<Verdict> JudgeAsync(ProtocolResult result, TimeSpan idleBefore, bool isHeartbeat, CancellationToken ct)
    {
        switch (result.Code)
        {
            case OutcomeCode.CommandTimeout when _dropSuspected:
                // No reply on a brand-new connection either: the outstation is not answering. Its fault, and not the
                // path's: the interval is left alone (a known other cause).
                _dropSuspected = false;
                _lastActivity = _time.GetTimestamp();
                Record(ChannelEventKind.OutstationNotAnswering, result.Detail ?? "no reply on a new connection");
                return Verdict.OutstationSilent;
            case OutcomeCode.CommandTimeout:
                // No reply on a link that was idle: the classic silent drop (or a dead outstation). Reconnect to tell.
                _dropSuspected = true;
                _idleBeforeSuspectedDrop = idleBefore;
                Record(ChannelEventKind.SilentDropSuspected, result.Detail ?? "no reply");
                await DropLinkAsync().ConfigureAwait(false);
                return Verdict.LinkDropped;
            case OutcomeCode.ConnectionLost:
                // Reset or closed by a peer that said so: a known cause (seed 001), the interval stays.
                Update(h => h.AfterKnownCauseFailure());
                Record(ChannelEventKind.ConnectionLost, result.Detail ?? "connection lost");
                await DropLinkAsync().ConfigureAwait(false);
                return Verdict.LinkDropped;
            default:
                // Any reply (an exception response too) proves the path carried this exchange.
                _lastActivity = _time.GetTimestamp();
                if (_dropSuspected)
                {
                    _dropSuspected = false;
                    if (_idleBeforeSuspectedDrop >= Heartbeat.Interval)
                    {
                        // The path forgot the link within one heartbeat interval of silence: seed 001's timeout.
                        Update(h => h.AfterTimeout());
                        Record(ChannelEventKind.SilentDropConfirmed, $"after {_idleBeforeSuspectedDrop} idle; interval now {Heartbeat.Interval}");
                    }
                    else
                    {
                        // Dropped after less silence than the interval the path has been carrying: not an idle
                        // timeout (a carrier reset, an outage) — another cause, so the interval stays (seed 001).
                        Update(h => h.AfterKnownCauseFailure());
                        Record(ChannelEventKind.SilentDropConfirmed, $"after only {_idleBeforeSuspectedDrop} idle: not an idle timeout, interval stays {Heartbeat.Interval}");
                    }
                }
                else if (isHeartbeat)
                {
                    Update(h => h.AfterSuccess());
                }

                await SaveHeartbeatAsync(ct).ConfigureAwait(false);
                return Verdict.Answered;
        }
    }

    private void Update(Func<AdaptiveHeartbeat, AdaptiveHeartbeat> change)
    {
        lock (_gate)
            _heartbeat = change(_heartbeat);
    }

    private async Task SaveHeartbeatAsync(CancellationToken ct)
    {
        if (_store is null)
            return;
        var h = Heartbeat;
        if (_saved is { } s && s.Interval == h.Interval && s.LastFailed == h.LastFailed)
            return;
        var learned = new LearnedHeartbeat(h.Interval, h.LastFailed, _time.GetUtcNow());
        try
        {
            await _store.SaveHeartbeatAsync(Name, learned, ct).ConfigureAwait(false);
            _saved = learned;
        }
        catch (StateStoreException e)
        {
            // Losing the learned value costs a re-learn, not a repeat-call rule: log and keep polling.
            Log.HeartbeatNotSaved(_logger, Name, e.Message);
        }
    }

    private async Task DropLinkAsync()
    {
        var link = _link;
        _link = null;
        if (link is null)
            return;
        try
        {
            await link.CloseAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (TransportFailureException)
        {
            // Closing a dead link may fail; it is gone either way.
        }

        await link.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Waits until a poll is queued (true) or <paramref name="limit"/> passes (false).</summary>
    private async Task<bool> WaitForPollAsync(TimeSpan limit, CancellationToken ct)
    {
        if (HasRetry())
            return true;
        using var timeout = limit == Timeout.InfiniteTimeSpan ? new CancellationTokenSource() : new CancellationTokenSource(limit, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, timeout.Token);
        try
        {
            return await _queue.Reader.WaitToReadAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return false;
        }
    }

    private bool HasRetry()
    {
        lock (_gate)
        {
            while (_retries.First is { } first && first.Value.IsFinished)
                _retries.RemoveFirst();
            return _retries.Count > 0;
        }
    }

    /// <summary>A retried poll first (it was there before the others), then the queue; abandoned ones are skipped.</summary>
    private PollWork? TakeNextPoll()
    {
        lock (_gate)
        {
            while (_retries.First is { } first)
            {
                _retries.RemoveFirst();
                if (first.Value.TryStart())
                    return first.Value;
            }
        }

        while (_queue.Reader.TryRead(out var work))
        {
            if (work.TryStart())
                return work;
        }

        return null;
    }

    private void FailWaitingPolls(OutcomeCode code, string detail)
    {
        lock (_gate)
        {
            foreach (var w in _retries)
                EndWaiting(w, code, detail);
            _retries.Clear();
        }

        while (_queue.Reader.TryRead(out var w))
            EndWaiting(w, code, detail);
    }

    /// <summary>MaxPollWait passed before the poll could start: no connection = the channel's failure; else queued too long.</summary>
    private void Expire(PollWork work)
    {
        var connected = State == PersistentChannelState.Connected;
        EndWaiting(work, connected ? OutcomeCode.QueueTimeout : OutcomeCode.TransportFailure,
            connected ? $"waited {_options.MaxPollWait} behind other polls" : $"no connection within {_options.MaxPollWait}: {_lastConnectFailure}");
    }

    private PersistentPollResult Result(PollWork work, OutcomeCode code, ProtocolResult? protocol, string? detail) =>
        new(Name, code, protocol, work.Runs, detail) { StartedAt = work.EnqueuedAt, EndedAt = _time.GetUtcNow() };

    /// <summary>Ends a waiting poll with a typed outcome (never one that is running: the loop finishes that).</summary>
    private void EndWaiting(PollWork work, OutcomeCode code, string detail) => work.TryFinishWaiting(Result(work, code, null, detail));

    private void SetState(PersistentChannelState state)
    {
        lock (_gate)
            _state = state;
    }

    private void Record(ChannelEventKind kind, string detail)
    {
        lock (_gate)
        {
            if (_events.Count == MaxEvents)
                _events.RemoveAt(0);
            _events.Add(new ChannelEvent(_time.GetUtcNow(), kind, detail));
        }

        if (kind is ChannelEventKind.SilentDropSuspected or ChannelEventKind.SilentDropConfirmed or ChannelEventKind.OutstationNotAnswering or ChannelEventKind.ConnectionLost)
            Log.LinkEvent(_logger, Name, kind, detail, Heartbeat.ToString());
    }

    /// <summary>Only pure reads are re-run after a reconnect (a write whose reply was lost may have been done).</summary>
    private static bool IsRereadable(IReadOnlyList<ProtocolCommand> commands) =>
        commands.All(c => c is ReadCoils or ReadDiscreteInputs or ReadHoldingRegisters or ReadInputRegisters);

    /// <summary>One queued poll. State: 0 waiting (queued or re-queued), 1 running, 2 finished.</summary>
    private sealed class PollWork(IReadOnlyList<ProtocolCommand> commands, bool rereadable, DateTimeOffset enqueuedAt)
    {
        private readonly TaskCompletionSource<PersistentPollResult> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _state;

        public IReadOnlyList<ProtocolCommand> Commands { get; } = commands;

        public bool Rereadable { get; } = rereadable;

        public DateTimeOffset EnqueuedAt { get; } = enqueuedAt;

        public int Runs { get; set; }

        public Task<PersistentPollResult> Result => _result.Task;

        public bool IsFinished => Volatile.Read(ref _state) == 2;

        /// <summary>Waiting → running; false if it expired or was abandoned meanwhile.</summary>
        public bool TryStart() => Interlocked.CompareExchange(ref _state, 1, 0) == 0;

        /// <summary>Running → waiting again (its link dropped; it runs on the next connection).</summary>
        public void Requeue() => Interlocked.CompareExchange(ref _state, 0, 1);

        /// <summary>The loop's result for a poll it ran.</summary>
        public void Finish(PersistentPollResult result)
        {
            Volatile.Write(ref _state, 2);
            _result.TrySetResult(result);
        }

        /// <summary>A bug or bad arguments surfaced while running it: the caller gets the exception.</summary>
        public void Fail(Exception exception)
        {
            Volatile.Write(ref _state, 2);
            _result.TrySetException(exception);
        }

        /// <summary>Ends a poll that is still waiting (time limit, give-up, stop); false if it is running or done.</summary>
        public bool TryFinishWaiting(PersistentPollResult result)
        {
            if (Interlocked.CompareExchange(ref _state, 2, 0) != 0)
                return false;
            _result.TrySetResult(result);
            return true;
        }

        /// <summary>The caller stopped waiting: never start it.</summary>
        public void Abandon() => Interlocked.CompareExchange(ref _state, 2, 0);
    }
}
