namespace ChannelManager.Core.Protocols;

/// <summary>
/// The outcome of one transaction run by an <see cref="IProtocolDriver"/>: <see cref="OutcomeCode.Success"/>
/// or the ProtocolCommand code of the command that failed (design.md §3), plus one
/// <see cref="CommandResult"/> per command that was run (the failed one last).
/// </summary>
public sealed record ProtocolResult(OutcomeCode Code, IReadOnlyList<CommandResult> Commands)
{
    public bool IsSuccess => Code == OutcomeCode.Success;

    /// <summary>When the driver started and finished (design.md §3: every outcome carries timestamps).</summary>
    public DateTimeOffset StartedAt { get; init; }

    public DateTimeOffset EndedAt { get; init; }

    /// <summary>The command that ended the transaction with a failure, if any.</summary>
    public CommandResult? FailedCommand => Code != OutcomeCode.Success && Commands.Count > 0 ? Commands[^1] : null;

    /// <summary>Requests put on the wire across all commands, timeout retries included.</summary>
    public int TotalAttempts => Commands.Sum(c => c.Attempts);

    /// <summary>
    /// The outstation said it is busy (Modbus exception 06). The scheduler treats this like seed 000's
    /// HTTP 503: a known cause, retry later, not a sign the link is bad.
    /// </summary>
    public bool ServerBusy => FailedCommand?.ServerBusy ?? false;

    public string? Detail => FailedCommand?.Detail;
}

/// <summary>
/// What happened to one command. <see cref="Request"/> and <see cref="Response"/> are the raw bytes of the
/// last attempt (for the event log: design.md §3 "the raw ... frame bytes that caused it"); the response
/// holds everything received in that attempt, garbage included.
/// </summary>
public sealed record CommandResult(ProtocolCommand Command, OutcomeCode Code, int Attempts)
{
    public bool IsSuccess => Code == OutcomeCode.Success;

    public ReadOnlyMemory<byte> Request { get; init; }

    public ReadOnlyMemory<byte> Response { get; init; }

    /// <summary>16-bit values read (Modbus holding/input registers).</summary>
    public IReadOnlyList<ushort> Registers { get; init; } = [];

    /// <summary>Single-bit values read (Modbus coils/discrete inputs).</summary>
    public IReadOnlyList<bool> Bits { get; init; } = [];

    /// <summary>The protocol's exception/negative-response code as sent on the wire (Modbus: 1-11).</summary>
    public byte? ExceptionCode { get; init; }

    /// <summary>True when the outstation reported it is busy (see <see cref="ProtocolResult.ServerBusy"/>).</summary>
    public bool ServerBusy { get; init; }

    /// <summary>What was wrong, in words, for logs and the CLI (null on success).</summary>
    public string? Detail { get; init; }
}
