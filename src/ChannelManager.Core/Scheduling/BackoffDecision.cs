namespace ChannelManager.Core.Scheduling;

/// <summary>
/// What a <see cref="BackoffPolicy"/> says after a failure: retry at <see cref="RetryAt"/> (= now + Delay), or
/// give up (retries exhausted: the operator gets an alarm, as seed 000's DM client "sends a message to the
/// user's Inbox with the session results"). <see cref="CountsAsFailure"/> is false for the short server-busy /
/// channel-allocation retry, which must not advance the outstation's failure count (seed 004).
/// </summary>
public readonly record struct BackoffDecision(bool GiveUp, TimeSpan Delay, DateTimeOffset RetryAt, string Reason, bool CountsAsFailure = true)
{
    public static BackoffDecision Retry(DateTimeOffset now, TimeSpan delay, string reason, bool countsAsFailure = true) =>
        new(false, delay, now + delay, reason, countsAsFailure);

    public static BackoffDecision Stop(DateTimeOffset now, string reason) => new(true, TimeSpan.Zero, now, reason);
}
