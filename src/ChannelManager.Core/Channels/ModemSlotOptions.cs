namespace ChannelManager.Core.Channels;

/// <summary>Pool membership and role of one modem.</summary>
public sealed record ModemRole
{
    /// <summary>Pools this modem serves; empty means the default pool only.</summary>
    public IReadOnlyList<string> Pools { get; init; } = [];

    /// <summary>Answers incoming calls (RING → ATA).</summary>
    public bool AnswerCalls { get; init; }

    /// <summary>
    /// Kept free for incoming alarm calls: never allocated for dial-out (research/peers.md §2.3, Geo
    /// SCADA "Dial In Only"), so outgoing polls cannot block an outstation's call-in.
    /// </summary>
    public bool ReservedForDialIn { get; init; }

    public static ModemRole Default { get; } = new();
}
