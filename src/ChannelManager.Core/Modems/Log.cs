using Microsoft.Extensions.Logging;

namespace ChannelManager.Core.Modems;

/// <summary>Modem engine log messages; EventIds 2xxx (Transport 1xxx, Modems 2xxx).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Debug, Message = "{ModemName} -> {Command}")]
    public static partial void CommandSent(ILogger logger, string modemName, string command);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Trace, Message = "{ModemName} <- {ReplyKind} {Reply}")]
    public static partial void LineReceived(ILogger logger, string modemName, ModemReplyKind replyKind, string reply);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Information, Message = "{ModemName} unsolicited {Reply}")]
    public static partial void Unsolicited(ILogger logger, string modemName, string reply);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Information, Message = "{ModemName} {Operation} ended {OutcomeCode} after {Elapsed}: {Reply}")]
    public static partial void OperationEnded(ILogger logger, string modemName, string operation, OutcomeCode outcomeCode, TimeSpan elapsed, string reply);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Debug, Message = "{ModemName} state {FromState} -> {ToState} on {Trigger}")]
    public static partial void StateChanged(ILogger logger, string modemName, ModemState fromState, ModemState toState, ModemTrigger trigger);

    [LoggerMessage(EventId = 2006, Level = LogLevel.Information, Message = "{ModemName} carrier lost in data state")]
    public static partial void CarrierLost(ILogger logger, string modemName);

    [LoggerMessage(EventId = 2007, Level = LogLevel.Warning, Message = "{ModemName} link ended: {Reason}")]
    public static partial void LinkEnded(ILogger logger, string modemName, string reason);
}
