using System.Collections.Immutable;
using System.Globalization;

namespace ChannelManager.Core.Scheduling;

/// <summary>Why the guard refused a dial.</summary>
public enum GuardRefusal
{
    None,

    /// <summary>Minimum gap or rolling window still running; <see cref="GuardDecision.NextAllowedAt"/> is set.</summary>
    Waiting,

    /// <summary>Max attempts reached; NextAllowedAt = auto-release time, or null = operator reset only.</summary>
    Locked,

    /// <summary>The modem asked for reported BLACKLISTED/DELAYED/call barred for this number.</summary>
    ModemBlocked,

    /// <summary>An attempt to this number is already in progress (on any modem).</summary>
    AttemptInProgress,
}

/// <summary>The guard's answer to "may this number be dialled now?". A refusal is reported as <see cref="OutcomeCode.RepeatCallLimit"/>.</summary>
public readonly record struct GuardDecision(bool Allowed, GuardRefusal Refusal, DateTimeOffset? NextAllowedAt, string Detail)
{
    public OutcomeCode? Outcome => Allowed ? null : OutcomeCode.RepeatCallLimit;

    internal static GuardDecision Allow(string detail = "allowed") => new(true, GuardRefusal.None, null, detail);

    internal static GuardDecision Refuse(GuardRefusal why, DateTimeOffset? next, string detail) => new(false, why, next, detail);
}

/// <summary>When the scheduler should try again: the back-off's time, moved later by the guard if need be (design.md §4: the guard wins).</summary>
public readonly record struct RetryPlan(DateTimeOffset? At, bool GiveUp, bool ClampedByGuard, GuardRefusal Refusal, string Reason)
{
    /// <summary><see cref="OutcomeCode.RepeatCallLimit"/> when the guard moved or blocked the retry.</summary>
    public OutcomeCode? Outcome => ClampedByGuard ? OutcomeCode.RepeatCallLimit : null;
}

/// <summary>
/// Automatic repeat-call limits (research/repeat-call-rules.md §3) as pure functions over <see cref="NumberLedger"/>
/// values: each takes <c>now</c> and returns a new ledger plus events. Only dials that reached the line count
/// (connection-establishment and protocol failures); channel-allocation outcomes (seed 004 row 1) do not.
/// </summary>
public static class RepeatCallGuard
{
    /// <summary>May <paramref name="ledger"/>'s number be dialled at <paramref name="now"/> (on <paramref name="modem"/>, if given)?</summary>
    public static GuardDecision Check(NumberLedger ledger, CountryProfile profile, DateTimeOffset now, string? modem = null)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(profile);
        if (ledger.InProgress is { } running)
            return GuardDecision.Refuse(GuardRefusal.AttemptInProgress, null, $"attempt started {T(running.OffHook)} on {running.Modem ?? "?"} has no on-hook yet");
        if (modem is not null && ledger.ModemBlocks.FirstOrDefault(b => b.Modem == modem && b.ActiveAt(now)) is { } block)
            return GuardDecision.Refuse(GuardRefusal.ModemBlocked, block.Until, $"modem {modem} blocked this number ({block.RawReply}) until {T(block.Until)}");
        if (ledger.State == LedgerState.Locked)
        {
            if (ledger.ReleaseAt is not { } release)
                return GuardDecision.Refuse(GuardRefusal.Locked, null, $"locked: {ledger.LockReason}; operator reset required");
            if (now < release)
                return GuardDecision.Refuse(GuardRefusal.Locked, release, $"locked: {ledger.LockReason}; auto-release at {T(release)}");
            return GuardDecision.Allow($"lock auto-released at {T(release)}");
        }
        if (profile.AfterMax == LockKind.Locked && ledger.AttemptsInSequence >= EffectiveMax(ledger, profile))
            return GuardDecision.Refuse(GuardRefusal.Locked, null, "attempt limit reached (ledger not locked: recorded under another profile?)");

        var next = ledger.NextAllowedAt;
        if (profile.AfterMax == LockKind.Waiting && profile.RollingWindow is { } window && WindowReopens(ledger, profile, window, now) is { } reopens)
            next = Later(next, reopens);
        if (next is { } n && now < n)
            return GuardDecision.Refuse(GuardRefusal.Waiting, n, $"{ledger.AttemptsInSequence} attempt(s) in sequence; next allowed at {T(n)}");
        return GuardDecision.Allow();
    }

    /// <summary>
    /// Records "attempt started" — persist the result BEFORE ATD is written (research §3.1). Dialling a number the
    /// guard refuses is a bug in the caller: <see cref="InvalidOperationException"/>.
    /// </summary>
    public static LedgerUpdate RecordAttemptStarted(NumberLedger ledger, CountryProfile profile, DateTimeOffset now, string? modem = null)
    {
        var decision = Check(ledger, profile, now, modem);
        if (!decision.Allowed)
            throw new InvalidOperationException($"Repeat-call guard refused {ledger.Number}: {decision.Refusal} ({decision.Detail}).");
        var events = ImmutableArray.CreateBuilder<LedgerEvent>();
        var l = Refresh(ledger, profile, now, events);
        var fresh = l.AttemptsInSequence == 0;
        l = l with
        {
            AttemptsInSequence = l.AttemptsInSequence + 1,
            AllFailuresBusy = fresh || l.AllFailuresBusy,
            InProgress = new AttemptRecord(now, modem),
            State = LedgerState.Dialling,
        };
        events.Add(new(now, l.Number, LedgerEventKind.AttemptStarted, $"attempt {l.AttemptsInSequence} of {profile.MaxAttempts} ({profile.Name})") { Modem = modem });
        return new(l, events.ToImmutable());
    }

    /// <summary>
    /// Records the on-hook and outcome of the attempt in progress (research §3.2): Success resets the sequence;
    /// channel-allocation outcomes are not counted (CallBarredByModem also blocks that modem for the number and
    /// raises the number's alarm once); everything else counts, and reaching the profile's maximum locks the number.
    /// </summary>
    public static LedgerUpdate RecordOutcome(NumberLedger ledger, CountryProfile profile, AttemptResult result)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(profile);
        ArgumentNullException.ThrowIfNull(result);
        var running = ledger.InProgress ?? throw new InvalidOperationException($"No attempt in progress for {ledger.Number}.");
        // A clock stepping back between off-hook and on-hook must not make the on-hook earlier than the off-hook.
        var onHook = Later(result.OnHookAt, running.OffHook);
        var modem = result.Modem ?? running.Modem;
        var events = ImmutableArray.CreateBuilder<LedgerEvent>();
        var record = running with { OnHook = onHook, Outcome = result.Code, RawReply = result.RawReply, Modem = modem };
        var l = ledger with { InProgress = null, LastOutcome = result.Code };
        var number = l.Number;

        if (result.Code == OutcomeCode.Success)
        {
            l = l.WithRecord(record) with
            {
                AttemptsInSequence = 0, SequenceStart = null, FirstFailureAt = null, AllFailuresBusy = true, AnsweredNoProtocolCount = 0,
                LastOffHook = running.OffHook, LastOnHook = onHook, NextAllowedAt = null, LockedAt = null, LockReason = null, ReleaseAt = null,
            };
            events.Add(new(onHook, number, LedgerEventKind.SequenceReset, "successful call") { Modem = modem });
            l = ClearAlarm(l, onHook, "successful call", events);
            return new(l with { State = SettledState(l, onHook) }, events.ToImmutable());
        }

        if (result.Code.Category() == OutcomeCategory.ChannelAllocation || (result.Code == OutcomeCode.Cancelled && !result.DialStarted))
        {
            // Seed 004 row 1 (and a cancel before ATD): no dial reached the line, so the repeat-call counter is not
            // advanced (research §3.2). A cancel after ATD falls through and counts: the dial may have reached the line.
            var attempts = l.AttemptsInSequence - 1;
            l = l.WithRecord(record with { Counted = false }) with { AttemptsInSequence = attempts, SequenceStart = attempts == 0 ? null : l.SequenceStart };
            events.Add(new(onHook, number, LedgerEventKind.AttemptNotCounted, $"{result.Code}: did not reach the line") { Modem = modem });
            if (result.Code == OutcomeCode.CallBarredByModem)
            {
                var block = new ModemBlock(modem ?? "(unknown)", onHook, result.ModemBlockedUntil, result.RawReply);
                l = l with { ModemBlocks = l.ModemBlocks.RemoveAll(b => b.Modem == block.Modem).Add(block) };
                events.Add(new(onHook, number, LedgerEventKind.ModemBlocked, $"modem reported '{result.RawReply}' until {T(block.Until)}") { Modem = modem });
                l = RaiseAlarm(l, onHook, $"modem {block.Modem} blocked the number ('{result.RawReply}'): its counter disagrees with the ledger", events);
            }
            return new(l with { State = SettledState(l, onHook) }, events.ToImmutable());
        }

        // Connection-establishment, protocol and (conservatively) any other outcome after "attempt started":
        // the dial may have reached the line, so it counts.
        var failures = l.AttemptsInSequence;
        var allBusy = l.AllFailuresBusy && result.Code == OutcomeCode.Busy;
        var firstFailure = l.FirstFailureAt ?? onHook;
        l = l.WithRecord(record) with
        {
            SequenceStart = l.SequenceStart ?? running.OffHook,
            FirstFailureAt = firstFailure,
            AllFailuresBusy = allBusy,
            AnsweredNoProtocolCount = l.AnsweredNoProtocolCount + (result.Code.Category() == OutcomeCategory.ProtocolCommand ? 1 : 0),
            LastOffHook = running.OffHook,
            LastOnHook = onHook,
            NextAllowedAt = Later(l.NextAllowedAt, onHook + profile.GapAfter(failures)),
        };
        events.Add(new(onHook, number, LedgerEventKind.AttemptCounted, $"{result.Code}: failure {failures} of {EffectiveMax(l, profile)} ({profile.Name})") { Modem = modem });

        if (profile.AfterMax == LockKind.Locked && failures >= EffectiveMax(l, profile))
        {
            var anchor = profile.ReleaseFrom == ReleaseAnchor.FirstFailure ? firstFailure : onHook;
            DateTimeOffset? release = profile.AutoRelease is { } ar ? Later(l.ReleaseAt, anchor + ar) : null;
            var reason = $"{failures} failed attempts ({profile.Name} allows {EffectiveMax(l, profile)})";
            l = l with { State = LedgerState.Locked, LockedAt = onHook, LockReason = reason, ReleaseAt = release };
            events.Add(new(onHook, number, LedgerEventKind.Locked, $"{reason}; {(release is null ? "operator reset required" : $"auto-release at {T(release)}")}") { Modem = modem });
            l = RaiseAlarm(l, onHook, reason, events);
            return new(l, events.ToImmutable());
        }
        return new(l with { State = SettledState(l, onHook) }, events.ToImmutable());
    }

    /// <summary>Shorthand for <see cref="RecordOutcome(NumberLedger, CountryProfile, AttemptResult)"/> without modem details.</summary>
    public static LedgerUpdate RecordOutcome(NumberLedger ledger, CountryProfile profile, OutcomeCode code, DateTimeOffset onHookAt) =>
        RecordOutcome(ledger, profile, new AttemptResult(code, onHookAt));

    /// <summary>
    /// On start-up (research §3.1): an attempt with no on-hook record counts as failed with on-hook = restart time
    /// (<see cref="OutcomeCode.DialTimeout"/>: no final result was seen).
    /// </summary>
    public static LedgerUpdate RecoverAfterRestart(NumberLedger ledger, CountryProfile profile, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        if (ledger.InProgress is not { } running)
            return new(ledger, []);
        var update = RecordOutcome(ledger, profile, new AttemptResult(OutcomeCode.DialTimeout, now) { Modem = running.Modem, RawReply = "(no on-hook record: process restarted)" });
        var recovered = new LedgerEvent(now, ledger.Number, LedgerEventKind.RecoveredAfterRestart, $"attempt started {T(running.OffHook)} counted as failed, on-hook = {T(now)}") { Modem = running.Modem };
        return update with { Events = update.Events.Insert(0, recovered) };
    }

    /// <summary>
    /// Operator reset of one number (research §3.4.2): needs the operator's name and a reason, is returned as an
    /// audit event, clears the counter, lock, modem blocks and alarm, and starts a new sequence.
    /// </summary>
    public static LedgerUpdate OperatorReset(NumberLedger ledger, string operatorName, string reason, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentException.ThrowIfNullOrWhiteSpace(operatorName);
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        var events = ImmutableArray.CreateBuilder<LedgerEvent>();
        var before = $"was {ledger.StateAt(now)} with {ledger.AttemptsInSequence} attempt(s){(ledger.LockReason is null ? "" : $", {ledger.LockReason}")}";
        events.Add(new(now, ledger.Number, LedgerEventKind.OperatorReset, $"{reason} ({before})") { Operator = operatorName });
        var running = ledger.InProgress is not null;
        var l = ledger with
        {
            // An attempt already on the line stays in progress and becomes attempt 1 of the new sequence.
            AttemptsInSequence = running ? 1 : 0,
            SequenceStart = null, FirstFailureAt = null, AllFailuresBusy = true, AnsweredNoProtocolCount = 0,
            NextAllowedAt = null, LockedAt = null, LockReason = null, ReleaseAt = null, ModemBlocks = [],
        };
        l = ClearAlarm(l, now, $"operator reset by {operatorName}", events);
        return new(l with { State = running ? LedgerState.Dialling : LedgerState.Ready }, events.ToImmutable());
    }

    /// <summary>A modem health check passed after a modem block (research §3.5 "Modem lock"): that modem may dial the number again.</summary>
    public static LedgerUpdate ClearModemBlock(NumberLedger ledger, string modem, DateTimeOffset now, string reason)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        if (!ledger.ModemBlocks.Any(b => b.Modem == modem))
            return new(ledger, []);
        var l = ledger with { ModemBlocks = ledger.ModemBlocks.RemoveAll(b => b.Modem == modem) };
        var e = new LedgerEvent(now, l.Number, LedgerEventKind.ModemBlockCleared, reason) { Modem = modem };
        return new(l with { State = l.State == LedgerState.ModemBlocked ? SettledState(l, now) : l.State }, [e]);
    }

    /// <summary>Applies what time alone changes — a due auto-release, expired modem blocks — and logs it (research §3.4.3).</summary>
    public static LedgerUpdate Refresh(NumberLedger ledger, CountryProfile profile, DateTimeOffset now)
    {
        var events = ImmutableArray.CreateBuilder<LedgerEvent>();
        var l = Refresh(ledger, profile, now, events);
        return new(l, events.ToImmutable());
    }

    /// <summary>The retry time: the back-off's, never earlier than the guard allows (design.md §4: the guard wins).</summary>
    public static RetryPlan Combine(BackoffDecision backoff, GuardDecision guard)
    {
        if (backoff.GiveUp)
            return new(null, true, false, GuardRefusal.None, backoff.Reason);
        if (guard.Allowed)
            return new(backoff.RetryAt, false, false, GuardRefusal.None, backoff.Reason);
        if (guard.NextAllowedAt is not { } next)
            return new(null, false, true, guard.Refusal, $"{backoff.Reason}; refused by repeat-call guard: {guard.Detail}");
        return next > backoff.RetryAt
            ? new(next, false, true, guard.Refusal, $"{backoff.Reason}; moved to {T(next)} by repeat-call guard: {guard.Detail}")
            : new(backoff.RetryAt, false, false, GuardRefusal.None, backoff.Reason);
    }

    /// <summary><see cref="Combine"/> with the guard asked about the back-off's own retry time.</summary>
    public static RetryPlan Plan(BackoffDecision backoff, NumberLedger ledger, CountryProfile profile) =>
        backoff.GiveUp ? Combine(backoff, GuardDecision.Allow()) : Combine(backoff, Check(ledger, profile, backoff.RetryAt));

    private static NumberLedger Refresh(NumberLedger ledger, CountryProfile profile, DateTimeOffset now, ImmutableArray<LedgerEvent>.Builder events)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(profile);
        var l = ledger;
        if (l.State == LedgerState.Locked && l.ReleaseAt is { } release && now >= release)
        {
            events.Add(new(now, l.Number, LedgerEventKind.AutoReleased, $"{profile.Name} auto-release due at {T(release)} ({l.LockReason})"));
            l = l with
            {
                AttemptsInSequence = 0, SequenceStart = null, FirstFailureAt = null, AllFailuresBusy = true, AnsweredNoProtocolCount = 0,
                LockedAt = null, LockReason = null, ReleaseAt = null, State = LedgerState.Ready,
            };
            l = ClearAlarm(l, now, "auto-release", events);
        }
        foreach (var expired in l.ModemBlocks.Where(b => !b.ActiveAt(now)))
            events.Add(new(now, l.Number, LedgerEventKind.ModemBlockCleared, $"modem's timer passed at {T(expired.Until)}") { Modem = expired.Modem });
        l = l with { ModemBlocks = l.ModemBlocks.RemoveAll(b => !b.ActiveAt(now)) };
        return l.State is LedgerState.ModemBlocked or LedgerState.Waiting ? l with { State = SettledState(l, now) } : l;
    }

    private static int EffectiveMax(NumberLedger l, CountryProfile p) =>
        // US 68.318(b)(1): the 15-attempt allowance holds only while there has been a failure and every one was BUSY.
        l.AllFailuresBusy && l.FirstFailureAt is not null && p.AllBusyMaxAttempts is { } busy ? busy : p.MaxAttempts;

    /// <summary>NZ: when the rolling window next has room, or null if it has room now.</summary>
    private static DateTimeOffset? WindowReopens(NumberLedger l, CountryProfile p, TimeSpan window, DateTimeOffset now)
    {
        if (l.SequenceStart is not { } start)
            return null;
        var inWindow = l.Recent.Where(r => r.Counted && r.OffHook >= start && r.OffHook > now - window).Select(r => r.OffHook).Order().ToList();
        return inWindow.Count < p.MaxAttempts ? null : inWindow[inWindow.Count - p.MaxAttempts] + window;
    }

    private static LedgerState SettledState(NumberLedger l, DateTimeOffset now) =>
        l.ModemBlocks.Any(b => b.ActiveAt(now)) ? LedgerState.ModemBlocked
        : l.NextAllowedAt is { } next && now < next ? LedgerState.Waiting
        : LedgerState.Ready;

    private static NumberLedger RaiseAlarm(NumberLedger l, DateTimeOffset now, string why, ImmutableArray<LedgerEvent>.Builder events)
    {
        if (l.AlarmRaised)
            return l;
        events.Add(new(now, l.Number, LedgerEventKind.AlarmRaised, why));
        return l with { AlarmRaised = true };
    }

    private static NumberLedger ClearAlarm(NumberLedger l, DateTimeOffset now, string why, ImmutableArray<LedgerEvent>.Builder events)
    {
        if (!l.AlarmRaised)
            return l;
        events.Add(new(now, l.Number, LedgerEventKind.AlarmCleared, why));
        return l with { AlarmRaised = false };
    }

    private static DateTimeOffset Later(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private static DateTimeOffset Later(DateTimeOffset? a, DateTimeOffset b) => a is { } x && x > b ? x : b;

    private static string T(DateTimeOffset? t) => t is { } v ? v.ToString("O", CultureInfo.InvariantCulture) : "operator reset";
}
