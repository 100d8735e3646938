using Microsoft.Extensions.Logging;

namespace ChannelManager.Core.Protocols.Modbus;

/// <summary>Modbus RTU log events, EventId block 4xxx (Protocols).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning,
        Message = "Modbus unit {UnitId} {Function}: no reply within {Timeout}, attempt {Attempt} of {MaxAttempts}")]
    public static partial void ResponseTimeout(ILogger logger, byte unitId, ModbusFunction function, TimeSpan timeout, int attempt, int maxAttempts);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information,
        Message = "Modbus unit {UnitId} {Function} failed after {Attempts} attempt(s): {OutcomeCode} ({Detail})")]
    public static partial void CommandFailed(ILogger logger, byte unitId, ModbusFunction function, int attempts, OutcomeCode outcomeCode, string? detail);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Debug,
        Message = "Modbus unit {UnitId}: skipped {Count} byte(s) of line noise before the reply")]
    public static partial void SkippedNoise(ILogger logger, byte unitId, int count);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Debug,
        Message = "Modbus unit {UnitId}: discarded {Count} late byte(s) after a retried command")]
    public static partial void DiscardedLateReply(ILogger logger, byte unitId, int count);
}
