using Microsoft.Extensions.Logging;

namespace ChannelManager.Core.Channels.Persistent;

/// <summary>Persistent (always-connected IP) channel log events, EventId block 35xx (Channels).</summary>
internal static partial class Log
{
    [LoggerMessage(3501, LogLevel.Information, "{Outstation}: connected to {Endpoint}")]
    public static partial void Connected(ILogger logger, string outstation, string endpoint);

    [LoggerMessage(3502, LogLevel.Warning, "{Outstation}: connect to {Endpoint} failed ({Detail}); {Decision}")]
    public static partial void ConnectFailed(ILogger logger, string outstation, string endpoint, string detail, string decision);

    [LoggerMessage(3503, LogLevel.Warning, "{Outstation}: {EventKind} ({Detail}); {Heartbeat}")]
    public static partial void LinkEvent(ILogger logger, string outstation, ChannelEventKind eventKind, string detail, string heartbeat);

    [LoggerMessage(3504, LogLevel.Debug, "{Outstation}: heartbeat answered after {Interval}; {Heartbeat}")]
    public static partial void HeartbeatAnswered(ILogger logger, string outstation, TimeSpan interval, string heartbeat);

    [LoggerMessage(3505, LogLevel.Warning, "{Outstation}: cannot save the learned heartbeat: {Detail}")]
    public static partial void HeartbeatNotSaved(ILogger logger, string outstation, string detail);
}
