using System.Collections.Immutable;

namespace ChannelManager.Core.Scheduling;

/// <summary>A number's state as the guard sees it (research/repeat-call-rules.md §3.1).</summary>
public enum LedgerState
{
    Ready,

    /// <summary>A minimum gap or a rolling window is running.</summary>
    Waiting,

    /// <summary>An attempt has been recorded as started (before ATD) and has no on-hook yet.</summary>
    Dialling,

    /// <summary>Max attempts reached: no automatic dialling until an operator reset or the profile's auto-release.</summary>
    Locked,

    /// <summary>A modem refused the number itself (BLACKLISTED, DELAYED, call barred): that modem is blocked for it.</summary>
    ModemBlocked,
}

/// <summary>One dial attempt in the ledger's ring (research §3.1: "ring buffer of the last 32 attempts (modem id, raw reply, times)").</summary>
public sealed record AttemptRecord(DateTimeOffset OffHook, string? Modem)
{
    public DateTimeOffset? OnHook { get; init; }

    public OutcomeCode? Outcome { get; init; }

    public string? RawReply { get; init; }

    /// <summary>False when the attempt never reached the line (channel-allocation outcome, seed 004 row 1).</summary>
    public bool Counted { get; init; } = true;
}

/// <summary>A modem's own block of this number (research §2), until its timer passes or a health check clears it.</summary>
public sealed record ModemBlock(string Modem, DateTimeOffset At, DateTimeOffset? Until, string? RawReply)
{
    public bool ActiveAt(DateTimeOffset now) => Until is not { } until || now < until;
}

/// <summary>
/// The per-number attempt ledger (research §3.1) as an immutable value. Key: the digits actually dialled, so the
/// same number through any modem is one entry. Mutate only through <see cref="RepeatCallGuard"/>; persist the
/// value it returns (before ATD for <see cref="RepeatCallGuard.RecordAttemptStarted"/>, again at on-hook).
/// </summary>
public sealed record NumberLedger
{
    public const int RingCapacity = 32;

    public NumberLedger(string number)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(number);
        Number = number;
    }

    public string Number { get; }

    /// <summary>The state at the last transition; use <see cref="StateAt"/> for display (waits end with time).</summary>
    public LedgerState State { get; init; } = LedgerState.Ready;

    /// <summary>Attempts of the current sequence that reached the line, including one in progress.</summary>
    public int AttemptsInSequence { get; init; }

    public DateTimeOffset? SequenceStart { get; init; }

    public DateTimeOffset? FirstFailureAt { get; init; }

    public DateTimeOffset? LastOffHook { get; init; }

    public DateTimeOffset? LastOnHook { get; init; }

    public OutcomeCode? LastOutcome { get; init; }

    /// <summary>US 68.318(b)(1): true while every failure of the sequence was BUSY.</summary>
    public bool AllFailuresBusy { get; init; } = true;

    /// <summary>Failures after CONNECT in this sequence ("answered, incompatible", research §3.2 row 2).</summary>
    public int AnsweredNoProtocolCount { get; init; }

    /// <summary>Earliest next off-hook for the gap rule; only ever moved later, so a clock stepping back cannot shorten it.</summary>
    public DateTimeOffset? NextAllowedAt { get; init; }

    public DateTimeOffset? LockedAt { get; init; }

    public string? LockReason { get; init; }

    /// <summary>When an auto-releasing lock ends; <c>null</c> while Locked = operator reset only.</summary>
    public DateTimeOffset? ReleaseAt { get; init; }

    public AttemptRecord? InProgress { get; init; }

    public ImmutableArray<ModemBlock> ModemBlocks { get; init; } = [];

    public ImmutableArray<AttemptRecord> Recent { get; init; } = [];

    /// <summary>One alarm per number (research §3.4.4): set when Locked or ModemBlocked, cleared on reset.</summary>
    public bool AlarmRaised { get; init; }

    public LedgerState StateAt(DateTimeOffset now)
    {
        if (InProgress is not null)
            return LedgerState.Dialling;
        if (State == LedgerState.Locked)
            return ReleaseAt is { } r && now >= r ? LedgerState.Ready : LedgerState.Locked;
        if (ModemBlocks.Any(b => b.ActiveAt(now)))
            return LedgerState.ModemBlocked;
        return NextAllowedAt is { } next && now < next ? LedgerState.Waiting : LedgerState.Ready;
    }

    internal NumberLedger WithRecord(AttemptRecord record)
    {
        var ring = Recent.Add(record);
        return this with { Recent = ring.Length > RingCapacity ? ring.RemoveRange(0, ring.Length - RingCapacity) : ring };
    }
}

public enum LedgerEventKind
{
    AttemptStarted,
    AttemptCounted,
    AttemptNotCounted,
    SequenceReset,
    Locked,
    AutoReleased,
    ModemBlocked,
    ModemBlockCleared,
    AlarmRaised,
    AlarmCleared,
    OperatorReset,
    RecoveredAfterRestart,
}

/// <summary>A ledger state change for the event log (research §3.4: resets and auto-releases are logged like any state change).</summary>
public sealed record LedgerEvent(DateTimeOffset At, string Number, LedgerEventKind Kind, string Detail)
{
    public string? Operator { get; init; }

    public string? Modem { get; init; }
}

/// <summary>The new ledger plus what happened, for persistence and the event log.</summary>
public sealed record LedgerUpdate(NumberLedger Ledger, ImmutableArray<LedgerEvent> Events)
{
    public bool RaisedAlarm => Events.Any(e => e.Kind == LedgerEventKind.AlarmRaised);
}

/// <summary>What a finished attempt reported (the on-hook record).</summary>
public sealed record AttemptResult(OutcomeCode Code, DateTimeOffset OnHookAt)
{
    public string? Modem { get; init; }

    public string? RawReply { get; init; }

    /// <summary>
    /// For <see cref="OutcomeCode.Cancelled"/>: whether the dial had been handed to a modem (ATD may have gone out) before the
    /// cancel. A dial that may have reached the line counts (research/repeat-call-rules.md §3.1, the cautious reading, as a
    /// crash mid-dial counts on restart); one cancelled while waiting for a modem or during init did not and is not counted.
    /// Defaults to true: an attempt whose progress is unknown counts.
    /// </summary>
    public bool DialStarted { get; init; } = true;

    /// <summary>For <see cref="OutcomeCode.CallBarredByModem"/>: when the modem's own timer ends, if known; <c>null</c> = until a health check or operator.</summary>
    public DateTimeOffset? ModemBlockedUntil { get; init; }
}
