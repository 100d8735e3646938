namespace ChannelManager.Core.Modems;

/// <summary>How one modem operation ended.</summary>
/// <param name="Code">The typed outcome (design.md §3).</param>
/// <param name="RawReply">Every line received for the operation, joined with '\n', for the event log.</param>
/// <param name="FinalReply">The line that ended it, if a line did (null for timeouts, transport faults, cancellation).</param>
/// <param name="Elapsed">Time from the first byte written to the result, on the injected TimeProvider.</param>
public sealed record ModemResult(OutcomeCode Code, string RawReply, ModemReply? FinalReply, TimeSpan Elapsed)
{
    public bool IsSuccess => Code == OutcomeCode.Success;

    public OutcomeCategory Category => Code.Category();
}
