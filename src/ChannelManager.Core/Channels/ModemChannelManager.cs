using ChannelManager.Core.Modems;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ChannelManager.Core.Channels;

/// <summary>
/// The Channel Manager of seed 004 (named so it does not collide with the root namespace): pools modems,
/// allocates one per call round-robin from the last used, retries channel allocation/set-up failures on
/// the next modem (counted against the modem), and returns connection establishment failures at once
/// (counted against the outstation; never redialled here — repeat-call rules belong to the scheduler).
/// </summary>
public sealed class ModemChannelManager : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly List<ModemSlot> _slots;
    private readonly Dictionary<string, OutstationStatistics> _outstations = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Per outstation, the modem its last dial failed on (connection establishment): its next attempt prefers another free modem.</summary>
    private readonly Dictionary<string, int> _lastFailedOn = new(StringComparer.OrdinalIgnoreCase);
    private readonly ChannelManagerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private TaskCompletionSource _released = NewSignal();
    private int _lastUsed = -1;

    public ModemChannelManager(IEnumerable<(IModemDevice Device, ModemRole Role)> modems, ChannelManagerOptions options, TimeProvider timeProvider, ILogger<ModemChannelManager>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(modems);
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _time = timeProvider;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _slots = modems.Select((m, i) => new ModemSlot(m.Device, m.Role, i, options.MaxQuality)).ToList();
        var duplicate = _slots.GroupBy(s => s.Name, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new ArgumentException($"Modem name '{duplicate.Key}' is used twice; modem names must be unique.", nameof(modems));
        }
    }

    /// <summary>Every modem's current state (issue 4 item 7).</summary>
    public IReadOnlyList<ModemSnapshot> Modems
    {
        get
        {
            lock (_gate)
            {
                return _slots.Select(s => s.Snapshot()).ToList();
            }
        }
    }

    /// <summary>Failures counted against each outstation by this Channel Manager.</summary>
    public IReadOnlyDictionary<string, OutstationStatistics> Outstations
    {
        get
        {
            lock (_gate)
            {
                return new Dictionary<string, OutstationStatistics>(_outstations, StringComparer.OrdinalIgnoreCase);
            }
        }
    }

    /// <summary>
    /// Raised (outside the lock) whenever a modem is released, faulted, recovered or taken out of / returned to
    /// service — every change that can alter <see cref="UsableModemCount(string?)"/>. The scheduler re-plans on it.
    /// </summary>
    public event EventHandler? UsableModemsChanged;

    /// <summary>
    /// Dial-out modems of <paramref name="pool"/> that can take a call now or when their current call ends: not out of
    /// service, not reserved for dial-in, not quarantined (a quarantine that is over counts, as <c>TryTake</c> would
    /// take that modem). The scheduler's dispatch concurrency (issue 6 item 1).
    /// </summary>
    public int UsableModemCount(string? pool) => UsableModemCount(pool, out _);

    /// <param name="pool">The pool (null = default).</param>
    /// <param name="nextQuarantineEnd">The earliest end of a running quarantine in the pool: the count may rise then without an event.</param>
    public int UsableModemCount(string? pool, out DateTimeOffset? nextQuarantineEnd)
    {
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            var count = 0;
            nextQuarantineEnd = null;
            foreach (var slot in _slots)
            {
                if (slot.OutOfService || slot.Role.ReservedForDialIn || !slot.Serves(pool))
                {
                    continue;
                }

                if (slot.Availability == ModemAvailability.Quarantined && slot.QuarantinedUntil is { } q && q > now)
                {
                    nextQuarantineEnd = Min(nextQuarantineEnd, q);
                    continue;
                }

                count++;
            }

            return count;
        }
    }

    /// <summary>
    /// Allocates a modem, initialises it and dials. Set-up failures move on to the next modem (at most
    /// once per modem in the pool); a connection establishment failure returns at once.
    /// </summary>
    public async Task<ConnectResult> ConnectAsync(CallRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (DialString.Validate(request.Number) is { } badNumber)
        {
            // Issue 10 item 3: refused before a modem is taken, so nothing reaches a line, a counter or the ledger.
            throw new ArgumentException($"{nameof(CallRequest)}.{nameof(CallRequest.Number)} '{ModemReplyClassifier.Escape(request.Number ?? string.Empty)}' {badNumber}.", nameof(request));
        }

        var started = _time.GetUtcNow();
        var deadline = started + _options.MaxQueueTime;
        var tried = new List<ModemAttempt>();
        var passedOver = new HashSet<ModemSlot>();

        while (true)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                return Finish(request, OutcomeCode.Cancelled, null, "cancelled while waiting for a modem", tried, started);
            }

            var slot = TryTake(request, passedOver, out var poolSize, out var nextEligibleAt, out var heldBy);
            if (slot is null)
            {
                if (poolSize == 0)
                {
                    return Finish(request, OutcomeCode.NoModemAvailable, null, $"no dial-out modem serves pool '{request.Pool ?? ChannelPools.Default}'", tried, started);
                }

                if (passedOver.Count >= poolSize || _time.GetUtcNow() >= deadline)
                {
                    // Every modem in the pool failed set-up for this request, or none came free in time.
                    var why = passedOver.Count >= poolSize ? $"all {poolSize} modem(s) failed set-up"
                        : heldBy is not null ? $"line still held by modem {heldBy} (hang-up failed) after {_options.MaxQueueTime}"
                        : $"no modem free within {_options.MaxQueueTime}";
                    Log.NoModemAvailable(_logger, request.Outstation, why);
                    return Finish(request, OutcomeCode.NoModemAvailable, null, why, tried, started);
                }

                await WaitForModemAsync(Min(deadline, nextEligibleAt), cancellationToken).ConfigureAwait(false);
                continue;
            }

            var (attempt, dialStarted) = await SetUpAndDialAsync(slot, request, cancellationToken).ConfigureAwait(false);
            tried.Add(new ModemAttempt(slot.Name, attempt.Code, attempt.RawReply, _time.GetUtcNow()) { DialStarted = dialStarted });

            switch (attempt.Code.Category())
            {
                case OutcomeCategory.Success:
                    lock (_gate)
                    {
                        _lastFailedOn.Remove(request.Outstation);
                    }

                    var connected = Finish(request, OutcomeCode.Success, slot.Name, attempt.RawReply, tried, started).Outcome;
                    return new ConnectResult(connected, new ChannelLease(this, slot, connected));

                case OutcomeCategory.ChannelAllocation:
                    // Seed 004 row 1 and footnote (*): the modem's fault; retried on the next available modem.
                    passedOver.Add(slot);
                    await RecordModemFaultAsync(slot, attempt).ConfigureAwait(false);
                    if (attempt.Code == OutcomeCode.CallBarredByModem && request.MayTryNextModem is { } mayTry && !mayTry(attempt.Code))
                    {
                        // The pool-wide ledger forbids another attempt at this number now: no modem may dial it.
                        return Finish(request, attempt.Code, slot.Name, attempt.RawReply, tried, started);
                    }

                    continue;

                case OutcomeCategory.ConnectionEstablishment:
                    // Seed 004 row 2: a dial went out. Not retried here (BABT / repeat-call rules), counted
                    // against the outstation; the modem is released on-hook and keeps its clean record.
                    lock (_gate)
                    {
                        _lastFailedOn[request.Outstation] = slot.Index;
                    }

                    await ReleaseAsync(slot, hangUp: true).ConfigureAwait(false);
                    return Finish(request, attempt.Code, slot.Name, attempt.RawReply, tried, started);

                default:
                    // Cancelled (or anything else): leave the modem hung up and free.
                    await ReleaseAsync(slot, hangUp: true).ConfigureAwait(false);
                    return Finish(request, attempt.Code, slot.Name, attempt.RawReply, tried, started);
            }
        }
    }

    /// <summary>Runs the periodic AT check on idle modems until cancelled.</summary>
    public async Task RunHealthChecksAsync(CancellationToken cancellationToken)
    {
        var tick = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerSecond, _options.HealthCheckInterval.Ticks / 4));
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(tick, _time, cancellationToken).ConfigureAwait(false);
                await CheckIdleModemsAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>
    /// One health pass: every idle modem due a check (interval passed, quarantine over, or flagged after
    /// a lost connection) gets an AT check, and a failed one a recovery attempt. Modems are checked
    /// concurrently, so one hung modem never slows the others.
    /// </summary>
    public async Task CheckIdleModemsAsync(CancellationToken cancellationToken)
    {
        var due = new List<ModemSlot>();
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            foreach (var slot in _slots)
            {
                var idle = slot.Availability is ModemAvailability.Idle or ModemAvailability.Quarantined;
                var quarantineOver = slot.Availability == ModemAvailability.Quarantined && slot.QuarantinedUntil <= now;
                var intervalDue = slot.Availability == ModemAvailability.Idle && (slot.LastChecked is null || now - slot.LastChecked >= _options.HealthCheckInterval);
                if (!slot.OutOfService && idle && (quarantineOver || intervalDue || (slot.RecheckRequested && slot.Availability == ModemAvailability.Idle)))
                {
                    slot.Availability = ModemAvailability.Checking;
                    due.Add(slot);
                }
            }
        }

        await Task.WhenAll(due.Select(s => CheckOneAsync(s, cancellationToken))).ConfigureAwait(false);
    }

    /// <summary>
    /// Answers incoming calls on the dial-in modems until cancelled (issue 4 item 5): RING → ATA →
    /// CONNECT → <paramref name="onCall"/> with the link → hang-up.
    /// </summary>
    public Task RunDialInAsync(Func<IncomingCall, CancellationToken, Task> onCall, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(onCall);
        List<ModemSlot> answering;
        lock (_gate)
        {
            answering = _slots.Where(s => s.Role.AnswerCalls).ToList();
        }

        return Task.WhenAll(answering.Select(s => WatchForRingsAsync(s, onCall, cancellationToken)));
    }

    /// <summary>Takes a modem out of service (operator action) or returns it; an in-call modem finishes its call first.</summary>
    public bool SetOutOfService(string modemName, bool outOfService) => ChangeService(modemName, slot => slot.OutOfService = outOfService);

    /// <summary>
    /// Active/active (docs/scale-out.md §6): another host holds <paramref name="modemName"/>'s lease (true) or this one
    /// does again (false). A held modem is used for nothing here — no call, health check or answer — and is shown as
    /// <see cref="ModemAvailability.HeldByPeer"/>, never as a fault; a call on it finishes first (<see cref="IsBusy"/>).
    /// </summary>
    public bool SetHeldByPeer(string modemName, bool heldByPeer) => ChangeService(modemName, slot => slot.HeldByPeer = heldByPeer);

    /// <summary>
    /// Applies an out-of-service change (operator's or peer's) and, unless the modem is in a call or a check (which
    /// settles it when it ends), moves it to what it now is: out of service while either flag holds, else quarantined
    /// if faulted, else idle.
    /// </summary>
    private bool ChangeService(string modemName, Action<ModemSlot> change)
    {
        lock (_gate)
        {
            var slot = _slots.FirstOrDefault(s => string.Equals(s.Name, modemName, StringComparison.OrdinalIgnoreCase));
            if (slot is null)
            {
                return false;
            }

            change(slot);
            if (slot.Availability is ModemAvailability.Idle or ModemAvailability.Quarantined or ModemAvailability.OutOfService)
            {
                slot.Availability = slot.OutOfService ? ModemAvailability.OutOfService : slot.Faulted ? ModemAvailability.Quarantined : ModemAvailability.Idle;
            }
        }

        Signal();
        return true;
    }

    /// <summary>
    /// Active/active hand-over: closes the link of <paramref name="modemName"/> once a peer holds it and nothing runs on
    /// it (<see cref="IModemDevice.ReleaseLinkAsync"/>), so the new owner can connect to a one-client serial server.
    /// False (nothing closed) if the modem is unknown, not held by a peer, or still in a call or check.
    /// </summary>
    public async Task<bool> ReleaseLinkAsync(string modemName, CancellationToken cancellationToken)
    {
        IModemDevice device;
        lock (_gate)
        {
            var slot = _slots.FirstOrDefault(s => string.Equals(s.Name, modemName, StringComparison.OrdinalIgnoreCase));
            if (slot is null || !slot.HeldByPeer || slot.Availability is ModemAvailability.InCall or ModemAvailability.Checking)
            {
                return false;
            }

            // HeldByPeer keeps calls, checks and answers off this modem, so nothing reopens the link behind us.
            device = slot.Device;
        }

        await device.ReleaseLinkAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>True while <paramref name="modemName"/> is in a call or a health check (its lease must not be given up yet).</summary>
    public bool IsBusy(string modemName)
    {
        lock (_gate)
        {
            return _slots.Any(s => string.Equals(s.Name, modemName, StringComparison.OrdinalIgnoreCase) && s.Availability is ModemAvailability.InCall or ModemAvailability.Checking);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var slot in _slots)
        {
            await slot.Device.DisposeAsync().ConfigureAwait(false);
        }
    }

    internal void RecordProtocolOutcome(ChannelLease lease, OutcomeCode code)
    {
        lock (_gate)
        {
            if (code.Category() is not (OutcomeCategory.ProtocolCommand or OutcomeCategory.Success))
            {
                throw new ArgumentOutOfRangeException(nameof(code), code, "A protocol outcome must be Success or a ProtocolCommand code.");
            }

            // The dial itself was already counted as a call (and a success) when CONNECT came.
            CountOutstation(lease.Connect.Outstation, code, countCall: false);
            if (code == OutcomeCode.ConnectionLost)
            {
                lease.Slot.RecheckRequested = true;
            }
        }

        if (code != OutcomeCode.Success)
        {
            Log.ProtocolFailure(_logger, lease.Connect.Outstation, lease.ModemName, code);
        }
    }

    internal async Task ReleaseAsync(ModemSlot slot, bool hangUp)
    {
        ModemResult? hangUpResult = null;
        if (hangUp)
        {
            using var bound = new CancellationTokenSource(_options.HangUpTimeout, _time);
            try
            {
                hangUpResult = await slot.Device.HangUpAsync(bound.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                hangUpResult = new ModemResult(OutcomeCode.ModemNotResponding, "hang-up timed out", null, _options.HangUpTimeout);
            }
        }

        if (hangUpResult is { IsSuccess: false } && !await RecoverAfterFailedHangUpAsync(slot).ConfigureAwait(false))
        {
            // A modem that cannot hang up is faulted: it must not be handed to the next call off-hook. Its call may
            // still hold the outstation's line, so the number is not dialled again until this modem proves on-hook.
            lock (_gate)
            {
                slot.HeldNumber = slot.CurrentNumber;
            }

            if (slot.CurrentNumber is { } held)
            {
                Log.LineHeld(_logger, slot.Name, held);
            }

            await RecordModemFaultAsync(slot, hangUpResult).ConfigureAwait(false);
            return;
        }

        lock (_gate)
        {
            slot.LastOnHook = _time.GetUtcNow();
            slot.CurrentOutstation = null;
            slot.CurrentNumber = null;
            slot.CallStartedAt = null;
            slot.Availability = slot.OutOfService ? ModemAvailability.OutOfService : slot.Faulted ? ModemAvailability.Quarantined : ModemAvailability.Idle;
        }

        Signal();
    }

    /// <summary>
    /// A hang-up that could not be confirmed (the TCP session to the serial server dropped, the modem
    /// missed the escape) is followed at once by the recovery sequence — escape, ATH, ATZ, reopen the
    /// link (<see cref="IModemDevice.ResetAsync"/>) — bounded by <see cref="ChannelManagerOptions.HangUpTimeout"/>.
    /// Otherwise the modem could hold the line off-hook until its quarantine ends (issue 4 item 6:
    /// released in a known state). A successful recovery is the re-check: no fault against the modem,
    /// since the link loss was already counted against the outstation (found through ser2net).
    /// </summary>
    private async Task<bool> RecoverAfterFailedHangUpAsync(ModemSlot slot)
    {
        using var bound = new CancellationTokenSource(_options.HangUpTimeout, _time);
        try
        {
            var reset = await slot.Device.ResetAsync(bound.Token).ConfigureAwait(false);
            if (!reset.IsSuccess)
            {
                return false;
            }

            lock (_gate)
            {
                slot.RecheckRequested = false;
                slot.LastChecked = _time.GetUtcNow();
            }

            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private ModemSlot? TryTake(CallRequest request, HashSet<ModemSlot> passedOver, out int poolSize, out DateTimeOffset? nextEligibleAt, out string? heldBy)
    {
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            poolSize = 0;
            nextEligibleAt = null;
            heldBy = null;
            foreach (var s in _slots)
            {
                if (s.Serves(request.Pool) && !s.Role.ReservedForDialIn)
                    poolSize++;
                if (heldBy is null && s.HeldNumber == request.Number)
                    heldBy = s.Name;
            }

            if (heldBy is not null)
            {
                // The line may still be in a call on a modem whose hang-up failed: dialling now would find it engaged.
                // Wait (as for a free modem) until that modem's health check or init proves it on-hook.
                return null;
            }

            // Round-robin from the last modem used (design.md §2).
            // Seed 004 ("the next attempt after a failure goes to the next available modem"): the modem this
            // outstation's last dial failed on goes last, so a free different modem takes the retry.
            // The pick is the free modem with the least key (Preference): the order the earlier stable LINQ sorts gave
            // (selection keys, then failed-on-last, then rotation — unique per modem, so the order is total), found in
            // one pass without sorting or allocating (issue 9: this runs for every call). A modem that is not free
            // only contributes its next eligible time, which matters only when nothing is free (all were looked at).
            var failedOn = _lastFailedOn.GetValueOrDefault(request.Outstation, -1);
            ModemSlot? best = null;
            var bestKey = default((int, int, int, int));
            foreach (var slot in _slots)
            {
                if (!slot.Serves(request.Pool) || slot.Role.ReservedForDialIn || passedOver.Contains(slot) || slot.OutOfService)
                {
                    continue;
                }

                var free = slot.Availability == ModemAvailability.Idle
                    || (slot.Availability == ModemAvailability.Quarantined && slot.QuarantinedUntil <= now);
                if (!free)
                {
                    if (slot.Availability == ModemAvailability.Quarantined && slot.QuarantinedUntil is { } q)
                    {
                        nextEligibleAt = Min(nextEligibleAt, q);
                    }

                    continue;
                }

                // Line rule: the same modem stays on-hook a minimum time between calls.
                if (slot.LastOnHook is { } onHook && now - onHook < _options.MinOnHookTime)
                {
                    nextEligibleAt = Min(nextEligibleAt, onHook + _options.MinOnHookTime);
                    continue;
                }

                var key = Preference(slot, failedOn);
                if (best is null || key.CompareTo(bestKey) < 0)
                {
                    (best, bestKey) = (slot, key);
                }
            }

            if (best is { } chosen)
            {
                chosen.Availability = ModemAvailability.InCall;
                chosen.CurrentOutstation = request.Outstation;
                chosen.CurrentNumber = request.Number;
                chosen.CallStartedAt = now;
                _lastUsed = chosen.Index;
                return chosen;
            }

            return null;
        }
    }

    /// <summary>
    /// A modem's place in the allocation order (lower first): <see cref="ModemSelection.HighestQuality"/> by quality,
    /// otherwise unfaulted first, then modems at full quality; then the modem this outstation last failed on goes
    /// last; then round-robin from the last modem used. Caller holds <c>_gate</c>.
    /// </summary>
    private (int, int, int, int) Preference(ModemSlot slot, int failedOn)
    {
        var (first, second) = _options.Selection == ModemSelection.HighestQuality
            ? (-slot.Quality, 0)
            : (slot.Faulted ? 1 : 0, slot.Quality == _options.MaxQuality ? 0 : 1);
        return (first, second, slot.Index == failedOn ? 1 : 0, (slot.Index - _lastUsed - 1 + _slots.Count) % _slots.Count);
    }

    /// <summary>Initialises and dials; DialStarted says whether the dial was handed to the modem (a cancel after it may have reached the line).</summary>
    private async Task<(ModemResult Result, bool DialStarted)> SetUpAndDialAsync(ModemSlot slot, CallRequest request, CancellationToken cancellationToken)
    {
        var dialStarted = false;
        try
        {
            var init = await slot.Device.InitializeAsync(cancellationToken).ConfigureAwait(false);
            if (!init.IsSuccess)
            {
                // Whatever the init reply was, no dial went out: a set-up failure (seed 004 row 1).
                return (init.Code.Category() == OutcomeCategory.ChannelAllocation || init.Code == OutcomeCode.Cancelled
                    ? init
                    : init with { Code = OutcomeCode.ModemError }, false);
            }

            lock (_gate)
            {
                // ATZ / init answered: this modem is on-hook, so a line it held is free again.
                slot.HeldNumber = null;
            }

            Log.Dialling(_logger, request.Outstation, request.Number, slot.Name);
            // From here ATD may be on the wire: conservatively, the line may have been reached whatever happens next.
            dialStarted = true;
            var dial = await slot.Device.DialAsync(request.Number, cancellationToken).ConfigureAwait(false);
            lock (_gate)
            {
                var stats = slot.Statistics with { Calls = slot.Statistics.Calls + 1 };
                if (dial.IsSuccess)
                {
                    stats = stats with
                    {
                        Connects = stats.Connects + 1,
                        TotalTimeToConnect = stats.TotalTimeToConnect + dial.Elapsed,
                        LastGood = _time.GetUtcNow(),
                    };
                    slot.Quality = Math.Min(_options.MaxQuality, slot.Quality + 1);
                }

                slot.Statistics = stats;
                if (dial.Code.Category() is OutcomeCategory.ConnectionEstablishment or OutcomeCategory.Success)
                {
                    CountOutstation(request.Outstation, dial.Code, countCall: true);
                }
            }

            Log.DialResult(_logger, request.Outstation, slot.Name, dial.Code, dial.Code.Category());
            return (dial, true);
        }
        catch (OperationCanceledException)
        {
            return (new ModemResult(OutcomeCode.Cancelled, dialStarted ? "cancelled after the dial was sent" : "cancelled before dialling", null, TimeSpan.Zero), dialStarted);
        }
    }

    private async Task RecordModemFaultAsync(ModemSlot slot, ModemResult result)
    {
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            slot.Faulted = true;
            slot.ConsecutiveFaults++;
            slot.LastFault = result.Code;
            slot.LastFaultReply = result.RawReply;
            slot.Quality = Math.Max(1, slot.Quality - 1);
            slot.Statistics = slot.Statistics with { Errors = slot.Statistics.Errors + 1, FailuresByCode = Incremented(slot.Statistics.FailuresByCode, result.Code), LastBad = now };

            // Quarantine with its own back-off: initial, doubling per consecutive fault, capped.
            var factor = Math.Pow(2, Math.Min(slot.ConsecutiveFaults - 1, 20));
            var quarantine = TimeSpan.FromTicks((long)Math.Min(_options.QuarantineMax.Ticks, _options.QuarantineInitial.Ticks * factor));
            slot.QuarantinedUntil = now + quarantine;
            slot.Availability = slot.OutOfService ? ModemAvailability.OutOfService : ModemAvailability.Quarantined;
            slot.CurrentOutstation = null;
            slot.CurrentNumber = null;
            slot.CallStartedAt = null;
            Log.ModemFaulted(_logger, slot.Name, result.Code, slot.Statistics.Errors, quarantine);
        }

        // Leave the faulted modem on-hook if it can still be told to; a modem that does not answer
        // stays quarantined and the health check recovers it.
        if (result.Code is not (OutcomeCode.ModemNotResponding or OutcomeCode.TransportFailure))
        {
            using var bound = new CancellationTokenSource(_options.HangUpTimeout, _time);
            try
            {
                await slot.Device.HangUpAsync(bound.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        lock (_gate)
        {
            slot.LastOnHook = _time.GetUtcNow();
        }

        Signal();
    }

    private async Task CheckOneAsync(ModemSlot slot, CancellationToken cancellationToken)
    {
        ModemResult check;
        try
        {
            bool holdsLine;
            lock (_gate)
            {
                holdsLine = slot.HeldNumber is not null;
            }

            // "AT" → OK proves only that the modem answers (it may do so in online command state, call still up); a
            // modem that may hold a line must prove on-hook by the recovery sequence (escape, ATH, ATZ, init).
            check = holdsLine
                ? await slot.Device.ResetAsync(cancellationToken).ConfigureAwait(false)
                : await slot.Device.CheckAsync(cancellationToken).ConfigureAwait(false);
            if (!check.IsSuccess)
            {
                // Recovery of a hung or confused modem: escape, ATH, ATZ, DTR, reopen (AtModem.ResetAsync).
                var reset = await slot.Device.ResetAsync(cancellationToken).ConfigureAwait(false);
                if (reset.IsSuccess)
                {
                    check = await slot.Device.CheckAsync(cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException)
        {
            lock (_gate)
            {
                slot.Availability = slot.Faulted ? ModemAvailability.Quarantined : ModemAvailability.Idle;
            }

            throw;
        }

        lock (_gate)
        {
            slot.LastChecked = _time.GetUtcNow();
            slot.RecheckRequested = false;
        }

        if (check.IsSuccess)
        {
            lock (_gate)
            {
                var wasFaulted = slot.Faulted;
                slot.Faulted = false;
                slot.HeldNumber = null;
                slot.ConsecutiveFaults = 0;
                slot.QuarantinedUntil = null;
                slot.Quality = Math.Min(_options.MaxQuality, slot.Quality + 1);
                slot.Availability = slot.OutOfService ? ModemAvailability.OutOfService : ModemAvailability.Idle;
                if (wasFaulted)
                {
                    Log.ModemRecovered(_logger, slot.Name);
                }
            }

            Signal();
        }
        else
        {
            await RecordModemFaultAsync(slot, check).ConfigureAwait(false);
        }
    }

    private async Task WatchForRingsAsync(ModemSlot slot, Func<IncomingCall, CancellationToken, Task> onCall, CancellationToken cancellationToken)
    {
        var rings = 0;
        string? callerId = null;
        try
        {
            await PrepareForDialInAsync(slot, cancellationToken).ConfigureAwait(false);
            await foreach (var reply in slot.Device.Unsolicited.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                if (TryReadCallerId(reply, out var id))
                {
                    callerId = id;
                    continue;
                }

                if (reply.Kind != ModemReplyKind.Ring)
                {
                    continue;
                }

                if (++rings < _options.RingsBeforeAnswer || !TryTakeForAnswer(slot))
                {
                    continue;
                }

                rings = 0;
                await AnswerAsync(slot, callerId, onCall, cancellationToken).ConfigureAwait(false);
                callerId = null;
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// Opens and initialises an answering modem before waiting for RING: the AT engine opens its link
    /// on first use, and an unopened port reports no RING (found by the dial-in test against the
    /// simulator). A modem that fails init is faulted; the health check recovers it (its reset re-inits).
    /// </summary>
    private async Task PrepareForDialInAsync(ModemSlot slot, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (slot.Availability != ModemAvailability.Idle || slot.OutOfService)
            {
                return;
            }

            slot.Availability = ModemAvailability.Checking;
        }

        ModemResult init;
        try
        {
            init = await slot.Device.InitializeAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            lock (_gate)
            {
                slot.Availability = slot.OutOfService ? ModemAvailability.OutOfService : ModemAvailability.Idle;
            }

            throw;
        }

        if (init.IsSuccess || init.Code == OutcomeCode.Cancelled)
        {
            lock (_gate)
            {
                slot.Availability = slot.OutOfService ? ModemAvailability.OutOfService : slot.Faulted ? ModemAvailability.Quarantined : ModemAvailability.Idle;
            }

            Signal();
        }
        else
        {
            await RecordModemFaultAsync(slot, init.Code.Category() == OutcomeCategory.ChannelAllocation ? init : init with { Code = OutcomeCode.ModemError }).ConfigureAwait(false);
        }
    }

    private bool TryTakeForAnswer(ModemSlot slot)
    {
        lock (_gate)
        {
            if (slot.Availability != ModemAvailability.Idle || slot.OutOfService)
            {
                return false;
            }

            slot.Availability = ModemAvailability.InCall;
            slot.CurrentOutstation = "(incoming)";
            slot.CallStartedAt = _time.GetUtcNow();
            return true;
        }
    }

    private async Task AnswerAsync(ModemSlot slot, string? callerId, Func<IncomingCall, CancellationToken, Task> onCall, CancellationToken cancellationToken)
    {
        var answer = await slot.Device.AnswerAsync(cancellationToken).ConfigureAwait(false);
        Log.Answered(_logger, slot.Name, callerId ?? "unknown", answer.Code);
        if (!answer.IsSuccess)
        {
            if (answer.Code.Category() == OutcomeCategory.ChannelAllocation)
            {
                await RecordModemFaultAsync(slot, answer).ConfigureAwait(false);
            }
            else
            {
                await ReleaseAsync(slot, hangUp: true).ConfigureAwait(false);
            }

            return;
        }

        try
        {
            await onCall(new IncomingCall(slot.Name, callerId, slot.Device.DataChannel, answer.RawReply), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await ReleaseAsync(slot, hangUp: true).ConfigureAwait(false);
        }
    }

    /// <summary>Caller line identity: 3GPP TS 27.007 §7.18 "+CLIP: "number",type"; Hayes/Rockwell "NMBR = number".</summary>
    private static bool TryReadCallerId(ModemReply reply, out string? callerId)
    {
        var text = reply.Text.Trim();
        callerId = null;
        if (text.StartsWith("+CLIP:", StringComparison.OrdinalIgnoreCase))
        {
            var first = text.IndexOf('"', StringComparison.Ordinal);
            var second = first < 0 ? -1 : text.IndexOf('"', first + 1);
            callerId = second > first ? text[(first + 1)..second] : text[6..].Trim();
            return true;
        }

        if (text.StartsWith("NMBR", StringComparison.OrdinalIgnoreCase) && text.Contains('=', StringComparison.Ordinal))
        {
            callerId = text[(text.IndexOf('=', StringComparison.Ordinal) + 1)..].Trim();
            return true;
        }

        return false;
    }

    private void CountOutstation(string outstation, OutcomeCode code, bool countCall)
    {
        var stats = _outstations.GetValueOrDefault(outstation) ?? new OutstationStatistics();
        var now = _time.GetUtcNow();
        if (countCall)
        {
            stats = stats with { Calls = stats.Calls + 1 };
        }

        if (code == OutcomeCode.Success)
        {
            stats = stats with { LastSuccess = now };
        }
        else if (code.CountedAgainst() == FaultAttribution.Outstation)
        {
            stats = stats with { Errors = stats.Errors + 1, FailuresByCode = Incremented(stats.FailuresByCode, code), LastFailure = now };
        }

        _outstations[outstation] = stats;
    }

    private ConnectResult Finish(CallRequest request, OutcomeCode code, string? modem, string raw, List<ModemAttempt> tried, DateTimeOffset started)
        => new(new CallOutcome(request.Outstation, request.Number, code, modem, raw, tried.ToArray(), started, _time.GetUtcNow()), null);

    private async Task WaitForModemAsync(DateTimeOffset until, CancellationToken cancellationToken)
    {
        Task signal;
        lock (_gate)
        {
            signal = _released.Task;
        }

        var wait = until - _time.GetUtcNow();
        if (wait <= TimeSpan.Zero)
        {
            return;
        }

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var delay = Task.Delay(wait, _time, cts.Token);
        await Task.WhenAny(signal, delay).ConfigureAwait(false);
        await cts.CancelAsync().ConfigureAwait(false);
    }

    private void Signal()
    {
        TaskCompletionSource previous;
        lock (_gate)
        {
            previous = _released;
            _released = NewSignal();
        }

        previous.TrySetResult();
        UsableModemsChanged?.Invoke(this, EventArgs.Empty);
    }

    /// <summary>A copy of the per-code failure counts with one more <paramref name="code"/> (statistics are immutable snapshots).</summary>
    private static Dictionary<OutcomeCode, long> Incremented(IReadOnlyDictionary<OutcomeCode, long> counts, OutcomeCode code)
    {
        var copy = new Dictionary<OutcomeCode, long>(counts);
        copy[code] = copy.GetValueOrDefault(code) + 1;
        return copy;
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset? b) => b is { } v && v < a ? v : a;

    private static DateTimeOffset? Min(DateTimeOffset? a, DateTimeOffset b) => a is { } v && v < b ? v : b;
}
