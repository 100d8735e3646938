using Microsoft.Extensions.Logging;

namespace ChannelManager.Core.Scheduling;

/// <summary>Scheduler log events (EventId block 5xxx).</summary>
internal static partial class Log
{
    [LoggerMessage(5001, LogLevel.Information, "Scheduler resumed {OutstationCount} outstations: {PendingRetries} pending retries, {RecoveredAttempts} interrupted dials counted as failed")]
    public static partial void Resumed(ILogger logger, int outstationCount, int pendingRetries, int recoveredAttempts);

    [LoggerMessage(5002, LogLevel.Debug, "Polling {Outstation} ({Number}): {Reason}")]
    public static partial void PollStarted(ILogger logger, string outstation, string number, string reason);

    [LoggerMessage(5003, LogLevel.Information, "Poll of {Outstation} on {ModemName}: {OutcomeCode}; next due {NextDue}")]
    public static partial void PollCompleted(ILogger logger, string outstation, string? modemName, OutcomeCode outcomeCode, DateTimeOffset? nextDue);

    [LoggerMessage(5004, LogLevel.Warning, "Retry of {Outstation} after {FailedAttempts} failure(s) at {RetryAt}: {Reason}")]
    public static partial void RetryScheduled(ILogger logger, string outstation, int failedAttempts, DateTimeOffset retryAt, string reason);

    [LoggerMessage(5005, LogLevel.Error, "ALARM {AlarmKind} for {Outstation} ({Number}): {Cause}")]
    public static partial void Alarm(ILogger logger, AlarmKind alarmKind, string outstation, string number, string cause);

    [LoggerMessage(5006, LogLevel.Warning, "Poll of {Outstation} waited {Waited} for a free modem: queue timeout, rescheduled at {NextDue}")]
    public static partial void QueueTimeout(ILogger logger, string outstation, TimeSpan waited, DateTimeOffset nextDue);

    [LoggerMessage(5007, LogLevel.Information, "Repeat-call guard defers {Outstation} ({Number}): {Refusal}, next check {NextCheck}")]
    public static partial void GuardDeferred(ILogger logger, string outstation, string number, GuardRefusal refusal, DateTimeOffset nextCheck);

    [LoggerMessage(5008, LogLevel.Warning, "Dial to {Outstation} ({Number}) was interrupted by a restart: counted as failed")]
    public static partial void RecoveredAttempt(ILogger logger, string outstation, string number);

    [LoggerMessage(5009, LogLevel.Critical, "Scheduler stopped: a poll or the state store failed")]
    public static partial void Faulted(ILogger logger, Exception exception);
}
