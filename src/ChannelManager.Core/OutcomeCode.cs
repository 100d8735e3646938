namespace ChannelManager.Core;

/// <summary>
/// Every way a transaction can end (design.md §3, seed 004's three failure categories plus scheduling).
/// The names are the wire/API contract: they are printed by the CLI and stored in the event log.
/// </summary>
public enum OutcomeCode
{
    Success = 0,

    // Channel allocation / set-up failures (seed 004 row 1): the modem's fault, retried by the
    // Channel Manager on the next modem; never counted against the outstation.
    NoModemAvailable = 100,
    ModemError = 101,
    ModemNotResponding = 102,
    NoDialTone = 103,
    CallBarredByModem = 104,
    TransportFailure = 105,

    // Connection establishment failures (seed 004 row 2): a dial went out; never retried by the
    // Channel Manager (repeat-call rules), counted against the outstation.
    Busy = 200,
    NoAnswer = 201,
    NoCarrier = 202,
    DialTimeout = 203,

    // Protocol command failures (seed 004 row 3): after CONNECT, counted against the outstation.
    CommandTimeout = 300,
    MalformedFrame = 301,
    ExceptionResponse = 302,
    UnexpectedResponse = 303,
    ConnectionLost = 304,

    // Scheduling (application layer).
    RepeatCallLimit = 400,
    QueueTimeout = 401,
    Cancelled = 402,
}

/// <summary>The failure category of design.md §3 (seed 004's table, plus the scheduler's own).</summary>
public enum OutcomeCategory
{
    Success,
    ChannelAllocation,
    ConnectionEstablishment,
    ProtocolCommand,
    Scheduling,
}

/// <summary>Which thing a failure is counted against (seed 004: "No fault or error increment is recorded for the outstation").</summary>
public enum FaultAttribution
{
    None,
    Modem,
    Outstation,
}

public static class OutcomeCodeExtensions
{
    public static OutcomeCategory Category(this OutcomeCode code) => (int)code switch
    {
        0 => OutcomeCategory.Success,
        >= 100 and < 200 => OutcomeCategory.ChannelAllocation,
        >= 200 and < 300 => OutcomeCategory.ConnectionEstablishment,
        >= 300 and < 400 => OutcomeCategory.ProtocolCommand,
        >= 400 and < 500 => OutcomeCategory.Scheduling,
        _ => throw new ArgumentOutOfRangeException(nameof(code), code, "Not an OutcomeCode."),
    };

    /// <summary>
    /// Seed 004: allocation/set-up failures go against the modem; connection and protocol failures
    /// against the outstation. <see cref="OutcomeCode.NoModemAvailable"/> is the pool's state, not
    /// one modem's fault, and scheduling refusals (<see cref="OutcomeCode.RepeatCallLimit"/>) are
    /// recorded against the outstation's request without touching any modem.
    /// </summary>
    public static FaultAttribution CountedAgainst(this OutcomeCode code) => code switch
    {
        OutcomeCode.Success or OutcomeCode.NoModemAvailable or OutcomeCode.Cancelled => FaultAttribution.None,
        _ => code.Category() switch
        {
            OutcomeCategory.ChannelAllocation => FaultAttribution.Modem,
            _ => FaultAttribution.Outstation,
        },
    };

    /// <summary>True where a dial actually reached the line, so the repeat-call ledger counts it (research/repeat-call-rules.md §3.2).</summary>
    public static bool ReachedTheLine(this OutcomeCode code) =>
        code.Category() is OutcomeCategory.ConnectionEstablishment or OutcomeCategory.ProtocolCommand || code == OutcomeCode.Success;
}
