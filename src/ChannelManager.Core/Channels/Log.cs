using Microsoft.Extensions.Logging;

namespace ChannelManager.Core.Channels;

/// <summary>Channel Manager log events (EventId block 3xxx).</summary>
internal static partial class Log
{
    [LoggerMessage(3001, LogLevel.Information, "Dialling {Outstation} ({Number}) on {ModemName}")]
    public static partial void Dialling(ILogger logger, string outstation, string number, string modemName);

    [LoggerMessage(3002, LogLevel.Information, "Dial to {Outstation} on {ModemName}: {OutcomeCode} ({OutcomeCategory})")]
    public static partial void DialResult(ILogger logger, string outstation, string modemName, OutcomeCode outcomeCode, OutcomeCategory outcomeCategory);

    [LoggerMessage(3003, LogLevel.Warning, "Modem {ModemName} faulted: {OutcomeCode}; error count {ErrorCount}; quarantined for {Quarantine}")]
    public static partial void ModemFaulted(ILogger logger, string modemName, OutcomeCode outcomeCode, long errorCount, TimeSpan quarantine);

    [LoggerMessage(3004, LogLevel.Information, "Modem {ModemName} recovered: health check passed")]
    public static partial void ModemRecovered(ILogger logger, string modemName);

    [LoggerMessage(3005, LogLevel.Warning, "No modem available for {Outstation}: {Reason}")]
    public static partial void NoModemAvailable(ILogger logger, string outstation, string reason);

    [LoggerMessage(3006, LogLevel.Warning, "Protocol failure with {Outstation} on {ModemName}: {OutcomeCode}")]
    public static partial void ProtocolFailure(ILogger logger, string outstation, string modemName, OutcomeCode outcomeCode);

    [LoggerMessage(3007, LogLevel.Information, "Incoming call on {ModemName} from {CallerId}: {OutcomeCode}")]
    public static partial void Answered(ILogger logger, string modemName, string callerId, OutcomeCode outcomeCode);

    [LoggerMessage(3008, LogLevel.Warning, "Modem {ModemName} could not hang up: {Number} is not dialled until the modem proves on-hook")]
    public static partial void LineHeld(ILogger logger, string modemName, string number);
}
