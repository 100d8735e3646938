using ChannelManager.Core;
using Microsoft.Extensions.Logging;

namespace ChannelManager.Host.Hosting;

/// <summary>Host log messages (EventId block 7xxx; style.md "Logging").</summary>
internal static partial class Log
{
    [LoggerMessage(7001, LogLevel.Information, "ChannelManager started: {ModemCount} modems, {OutstationCount} outstations, state in {StorePath}")]
    public static partial void Started(ILogger logger, int modemCount, int outstationCount, string storePath);

    [LoggerMessage(7002, LogLevel.Information, "ChannelManager stopping: scheduling stopped, in-flight calls hang up")]
    public static partial void Stopping(ILogger logger);

    [LoggerMessage(7003, LogLevel.Information, "ChannelManager stopped; closing the state store")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(7004, LogLevel.Critical, "ChannelManager stopped on a failure")]
    public static partial void Failed(ILogger logger, Exception exception);

    [LoggerMessage(7005, LogLevel.Warning, "Ledger of {Number} reset by operator {Operator}: {Reason}")]
    public static partial void LedgerReset(ILogger logger, string number, string @operator, string reason);

    [LoggerMessage(7006, LogLevel.Information, "On-demand poll of {Outstation} on {ModemName}: {OutcomeCode} ({OutcomeCategory})")]
    public static partial void PollDone(ILogger logger, string outstation, string? modemName, OutcomeCode outcomeCode, OutcomeCategory outcomeCategory);

    [LoggerMessage(7007, LogLevel.Information, "Probe of {ModemName}: AT {OutcomeCode}")]
    public static partial void Probed(ILogger logger, string modemName, OutcomeCode outcomeCode);
}
