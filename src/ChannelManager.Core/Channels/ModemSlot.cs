namespace ChannelManager.Core.Channels;

/// <summary>What a modem is doing now, as the pool sees it.</summary>
public enum ModemAvailability
{
    Idle,
    InCall,
    Checking,
    Quarantined,
    OutOfService,
    /// <summary>Active/active: a peer host holds this modem's lease (docs/scale-out.md §6); not a fault, just not ours.</summary>
    HeldByPeer,
}

/// <summary>
/// The Channel Manager's book-keeping for one modem. Mutable, but only touched under the manager's
/// lock; readers get <see cref="ModemSnapshot"/> values.
/// </summary>
internal sealed class ModemSlot(IModemDevice device, ModemRole role, int index, int maxQuality)
{
    public IModemDevice Device { get; } = device;

    public ModemRole Role { get; } = role;

    public int Index { get; } = index;

    public string Name => Device.Name;

    public ModemAvailability Availability { get; set; } = ModemAvailability.Idle;

    /// <summary>Set while a check or call holds the modem; quarantine/fault state survives it.</summary>
    public bool Faulted { get; set; }

    public int Quality { get; set; } = maxQuality;

    public int ConsecutiveFaults { get; set; }

    public DateTimeOffset? QuarantinedUntil { get; set; }

    public OutcomeCode? LastFault { get; set; }

    public string? LastFaultReply { get; set; }

    public DateTimeOffset? LastOnHook { get; set; }

    public DateTimeOffset? LastChecked { get; set; }

    /// <summary>Set after a connection was lost mid-call: the next health pass checks this modem first.</summary>
    public bool RecheckRequested { get; set; }

    public string? CurrentOutstation { get; set; }

    public string? CurrentNumber { get; set; }

    public DateTimeOffset? CallStartedAt { get; set; }

    /// <summary>Out of service by the operator, or held by a peer host: either way no call, check or answer here.</summary>
    public bool OutOfService { get => _outOfService || HeldByPeer; set => _outOfService = value; }

    /// <summary>Active/active: another host holds this modem's lease (set by the host's ownership service).</summary>
    public bool HeldByPeer { get; set; }

    private bool _outOfService;

    /// <summary>
    /// The number this modem may still be connected to: its hang-up and the recovery after it failed (a hung modem with no
    /// DTR line), so the call may still hold the line. Cleared only when the modem proves on-hook (a successful reset or
    /// init, whose ATZ clears any call); until then no modem dials that number (it would find it engaged: a wasted,
    /// counted attempt).
    /// </summary>
    public string? HeldNumber { get; set; }

    public ModemStatistics Statistics { get; set; } = new();

    /// <summary>A modem that names no pool serves the default pool; a request that names none asks for it.</summary>
    public bool Serves(string? pool)
    {
        var wanted = pool ?? ChannelPools.Default;
        return Role.Pools.Count == 0
            ? string.Equals(wanted, ChannelPools.Default, StringComparison.OrdinalIgnoreCase)
            : Role.Pools.Contains(wanted, StringComparer.OrdinalIgnoreCase);
    }

    public ModemSnapshot Snapshot() => new(
        Name,
        HeldByPeer && Availability == ModemAvailability.OutOfService ? ModemAvailability.HeldByPeer : Availability,
        Faulted,
        Quality,
        LastFault,
        LastFaultReply,
        QuarantinedUntil,
        CurrentOutstation,
        CurrentNumber,
        CallStartedAt,
        Role.Pools,
        Role.AnswerCalls,
        Role.ReservedForDialIn,
        Statistics);
}

public static class ChannelPools
{
    /// <summary>The pool of a modem that names none, and of a request that names none.</summary>
    public const string Default = "default";
}

/// <summary>A modem's state for the host, API and dashboard (issue 4 item 7).</summary>
public sealed record ModemSnapshot(
    string Name,
    ModemAvailability Availability,
    bool Faulted,
    int Quality,
    OutcomeCode? LastFault,
    string? LastFaultReply,
    DateTimeOffset? QuarantinedUntil,
    string? CurrentOutstation,
    string? CurrentNumber,
    DateTimeOffset? CallStartedAt,
    IReadOnlyList<string> Pools,
    bool AnswerCalls,
    bool ReservedForDialIn,
    ModemStatistics Statistics);
