namespace ChannelManager.Core.Persistence;

/// <summary>
/// The learned heartbeat of each always-connected outstation (issue 7 item 2: "persisted per outstation and reused
/// after restart"). Kept apart from <see cref="IStateStore"/>: losing it costs only a re-learn, never a repeat-call rule.
/// </summary>
public interface IHeartbeatStore
{
    /// <summary>The saved state of <paramref name="outstation"/>, or null if none was saved.</summary>
    Task<LearnedHeartbeat?> LoadHeartbeatAsync(string outstation, CancellationToken cancellationToken);

    /// <summary>Saves (replaces) the state of <paramref name="outstation"/>; durable when the call returns.</summary>
    Task SaveHeartbeatAsync(string outstation, LearnedHeartbeat heartbeat, CancellationToken cancellationToken);
}

/// <summary>What <see cref="Scheduling.AdaptiveHeartbeat.Restore"/> needs: the interval and the remembered failure.</summary>
public sealed record LearnedHeartbeat(TimeSpan Interval, TimeSpan? LastFailed, DateTimeOffset UpdatedAt);
