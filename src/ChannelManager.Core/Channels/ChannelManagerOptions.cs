using System.ComponentModel.DataAnnotations;

namespace ChannelManager.Core.Channels;

/// <summary>How a modem is chosen among the free ones (research/peers.md: Geo SCADA offers both).</summary>
public enum ModemSelection
{
    /// <summary>Round-robin from the last modem used (design.md §2), modems with a lower quality score last.</summary>
    RoundRobin,

    /// <summary>Highest quality score first, round-robin among equals.</summary>
    HighestQuality,
}

/// <summary>Pool-wide behaviour of the Channel Manager. Defaults are the conservative values of research/peers.md.</summary>
public sealed class ChannelManagerOptions
{
    /// <summary>How long a request may wait for a free modem before it gets NoModemAvailable (Citect MaxQueueTime).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "12:00:00")]
    public TimeSpan MaxQueueTime { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Interval of the AT check on idle modems.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan HealthCheckInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>First quarantine of a faulted modem; doubles on each further fault up to <see cref="QuarantineMax"/>.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan QuarantineInitial { get; set; } = TimeSpan.FromSeconds(30);

    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00")]
    public TimeSpan QuarantineMax { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// Minimum on-hook time of one modem between calls (research/repeat-call-rules.md §3.3 "line rules":
    /// ≥10 s; VTScada DialResetTime 10 s, Citect ModemRetryDelay 10 s).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan MinOnHookTime { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Bound on a hang-up, so a hung modem cannot hold a caller.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:05:00")]
    public TimeSpan HangUpTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Geo SCADA-style quality factor ceiling: +1 per good call or check, −1 per modem fault, floor 1.</summary>
    [Range(1, 100)]
    public int MaxQuality { get; set; } = 10;

    public ModemSelection Selection { get; set; } = ModemSelection.RoundRobin;

    /// <summary>Rings before a dial-in modem answers (S0 semantics, but counted here so the host decides).</summary>
    [Range(1, 20)]
    public int RingsBeforeAnswer { get; set; } = 1;
}
