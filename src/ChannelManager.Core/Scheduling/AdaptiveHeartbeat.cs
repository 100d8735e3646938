using System.Globalization;

namespace ChannelManager.Core.Scheduling;

/// <summary>The validated limits an <see cref="AdaptiveHeartbeat"/> works within (an immutable snapshot of <see cref="HeartbeatOptions"/>).</summary>
public readonly record struct HeartbeatLimits(TimeSpan Default, TimeSpan Increment, TimeSpan Min, TimeSpan Max, int SuccessesBeforeRaise, int? ReprobeAfterSuccesses)
{
    /// <summary>Snapshots validated options; invalid options are a configuration bug (<see cref="ArgumentException"/> listing every path).</summary>
    public static HeartbeatLimits From(HeartbeatOptions options, string path = "Heartbeat")
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate(path);
        if (errors.Count > 0)
            throw new ArgumentException("Invalid heartbeat options: " + string.Join("; ", errors), nameof(options));
        return new(options.Default, options.Increment, options.Min, options.Max, options.SuccessesBeforeRaise, options.ReprobeAfterSuccesses);
    }

    internal TimeSpan Clamp(TimeSpan t) => t < Min ? Min : t > Max ? Max : t;
}

/// <summary>
/// Seed 001's adaptive heartbeat as a pure value (style.md "Retry policies are pure values"): each method returns the
/// next state; the persistent channel waits, sends and persists. docs/backoff-and-repeat-calls.md §6 explains the
/// algorithm and how it improves on the seed.
/// </summary>
/// <remarks>
/// The model: a heartbeat sent after <see cref="Interval"/> of silence gets its reply iff the interval is shorter than
/// the lowest idle timeout X on the path (seed 001: "the lowest time-out in the network path"). A success proves
/// X &gt; Interval; a timeout proves X ≤ Interval, and that value is remembered in <see cref="LastFailed"/>. The
/// interval is raised by the increment only while the raised value stays below the remembered failure, so it settles
/// in [X − Increment, X) instead of climbing into the timeout again every other cycle as the seed's device does.
/// </remarks>
public sealed record AdaptiveHeartbeat
{
    private AdaptiveHeartbeat(HeartbeatLimits limits, TimeSpan interval, TimeSpan? lastFailed, int successes, bool probing)
    {
        Limits = limits;
        Interval = interval;
        LastFailed = lastFailed;
        Successes = successes;
        IsProbing = probing;
    }

    public HeartbeatLimits Limits { get; }

    /// <summary>The silence after which the next heartbeat is sent; always within [Min, Max].</summary>
    public TimeSpan Interval { get; }

    /// <summary>The smallest interval known to have timed out (an upper bound on the path's idle timeout), if any.</summary>
    public TimeSpan? LastFailed { get; }

    /// <summary>Successful heartbeats in a row at <see cref="Interval"/>.</summary>
    public int Successes { get; }

    /// <summary>True while the interval is a one-off re-try of <see cref="LastFailed"/> (the NAT may have relaxed).</summary>
    public bool IsProbing { get; }

    /// <summary>True when raising would reach the remembered failure (or Max): the interval stays put.</summary>
    public bool IsSettled => !IsProbing && (Interval >= Limits.Max || (LastFailed is { } failed && Interval + Limits.Increment >= failed));

    /// <summary>Seed 001 step 1: "The heartbeat interval starts with … HeartbeatDefault."</summary>
    public static AdaptiveHeartbeat Start(HeartbeatLimits limits) => new(limits, limits.Clamp(limits.Default), null, 0, probing: false);

    public static AdaptiveHeartbeat Start(HeartbeatOptions options) => Start(HeartbeatLimits.From(options));

    /// <summary>
    /// Resumes a learned state (persisted per outstation) under the limits in force now: the interval is clamped into
    /// [Min, Max]; a remembered failure that no longer fits above it is forgotten.
    /// </summary>
    public static AdaptiveHeartbeat Restore(HeartbeatLimits limits, TimeSpan interval, TimeSpan? lastFailed)
    {
        var clamped = limits.Clamp(interval);
        var failed = lastFailed is { } f && f > clamped && f <= limits.Max ? lastFailed : null;
        return new(limits, clamped, failed, 0, probing: false);
    }

    /// <summary>
    /// Seed 001 step 2: a reply after a full interval of silence — "the connection with the server did not time out, so
    /// the heartbeat interval can be increased". Raised by Increment after <see cref="HeartbeatLimits.SuccessesBeforeRaise"/>
    /// successes in a row, unless that reaches the remembered failure.
    /// </summary>
    public AdaptiveHeartbeat AfterSuccess()
    {
        if (IsProbing)
        {
            // The remembered failure now works: the path's timeout grew. Forget it and climb again from here.
            return new(Limits, Interval, null, 0, probing: false);
        }

        var successes = Successes + 1;
        if (successes < Limits.SuccessesBeforeRaise)
            return new(Limits, Interval, LastFailed, successes, probing: false);

        var raised = Limits.Clamp(Interval + Limits.Increment);
        if (raised == Interval)
            return new(Limits, Interval, LastFailed, successes, probing: false);   // at Max

        if (LastFailed is { } failed && raised >= failed)
        {
            // Settled just below the known failure: our improvement on seed 001 (no climb back into the timeout).
            if (Limits.ReprobeAfterSuccesses is { } every && successes >= every)
                return new(Limits, failed, failed, 0, probing: true);
            return new(Limits, Interval, LastFailed, successes, probing: false);
        }

        return new(Limits, raised, LastFailed, 0, probing: false);
    }

    /// <summary>
    /// Seed 001 step 2: "if the connection times out before the heartbeat interval has expired, the heartbeat interval is
    /// lowered" — by Increment (the most the seed allows), never below Min; the failed interval is remembered.
    /// </summary>
    public AdaptiveHeartbeat AfterTimeout()
    {
        var lowered = Limits.Clamp(Interval - Limits.Increment);
        return new(Limits, lowered, Interval, 0, probing: false);
    }

    /// <summary>
    /// Seed 001: "The heartbeat interval is not adjusted if the response failure has a known cause" (outstation reset the
    /// connection, link reported down, operator action). Nothing changes, not even the success count.
    /// </summary>
    public AdaptiveHeartbeat AfterKnownCauseFailure() => this;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"heartbeat {Interval:c} (last failed {(LastFailed is { } f ? f.ToString("c", CultureInfo.InvariantCulture) : "none")}, {Successes} ok{(IsProbing ? ", probing" : IsSettled ? ", settled" : "")})");
}
