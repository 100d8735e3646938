using Microsoft.Extensions.Logging;

namespace ChannelManager.Host.Api;

/// <summary>HTTP API log events (EventId block 8xxx).</summary>
internal static partial class ApiLog
{
    [LoggerMessage(8001, LogLevel.Warning, "API refused {Method} {Path}: {Reason}")]
    public static partial void Refused(ILogger logger, string method, string path, string reason);

    [LoggerMessage(8002, LogLevel.Information, "Operator poll of {Outstation} requested through the API")]
    public static partial void PollRequested(ILogger logger, string outstation);

    [LoggerMessage(8003, LogLevel.Warning, "Ledger of {Number} reset through the API by {Operator}: {Reason}")]
    public static partial void LedgerReset(ILogger logger, string number, string @operator, string reason);

    [LoggerMessage(8004, LogLevel.Warning, "Modem {ModemName} out of service = {OutOfService} through the API by {Operator}: {Reason}")]
    public static partial void OutOfService(ILogger logger, string modemName, bool outOfService, string @operator, string reason);

    [LoggerMessage(8006, LogLevel.Warning, "Operator poll of {Outstation} refused: this host ({HostId}) is a standby; the active host is {ActiveHost}")]
    public static partial void PollOnStandby(ILogger logger, string outstation, string hostId, string activeHost);

    [LoggerMessage(8016, LogLevel.Warning, "Operator poll of {Outstation} refused: host {Owner} owns it, not this host ({HostId})")]
    public static partial void PollNotOwned(ILogger logger, string outstation, string hostId, string owner);

    [LoggerMessage(8005, LogLevel.Information, "HTTP API and dashboard listening on {Url}")]
    public static partial void Listening(ILogger logger, string url);
}
