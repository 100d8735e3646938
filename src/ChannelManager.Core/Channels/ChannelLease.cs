using ChannelManager.Core.Transport;

namespace ChannelManager.Core.Channels;

/// <summary>
/// An open connection to an outstation on one modem. The protocol driver uses <see cref="Link"/>;
/// disposing the lease hangs up (bounded in time) and returns the modem to the pool in a known state.
/// </summary>
public sealed class ChannelLease : IAsyncDisposable
{
    private readonly ModemChannelManager _owner;
    private int _released;

    internal ChannelLease(ModemChannelManager owner, ModemSlot slot, CallOutcome connect)
    {
        _owner = owner;
        Slot = slot;
        Connect = connect;
    }

    public string ModemName => Slot.Name;

    /// <summary>The data-mode link: its reads end (0) when the carrier drops.</summary>
    public IChannelTransport Link => Slot.Device.DataChannel;

    /// <summary>How the connection was made (modems tried, CONNECT line, times).</summary>
    public CallOutcome Connect { get; }

    internal ModemSlot Slot { get; }

    /// <summary>
    /// Records the protocol transaction's outcome against the outstation (seed 004 row 3: never the
    /// modem). A lost connection also asks for a health check of the modem, in case the modem, not the
    /// line, dropped it.
    /// </summary>
    public void ReportProtocolOutcome(OutcomeCode code) => _owner.RecordProtocolOutcome(this, code);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            await _owner.ReleaseAsync(Slot, hangUp: true).ConfigureAwait(false);
        }
    }
}

/// <summary>The answer to <see cref="ModemChannelManager.ConnectAsync"/>: always an outcome, a lease only on success.</summary>
public sealed record ConnectResult(CallOutcome Outcome, ChannelLease? Lease);

/// <summary>An incoming call answered on a dial-in modem, handed to the protocol layer as an unsolicited session.</summary>
/// <param name="ModemName">The modem that answered.</param>
/// <param name="CallerId">Caller line identity where the modem reported one (+CLIP / NMBR), else null: identify by protocol address.</param>
/// <param name="Link">The data-mode link.</param>
/// <param name="ConnectReply">The CONNECT line.</param>
public sealed record IncomingCall(string ModemName, string? CallerId, IChannelTransport Link, string ConnectReply);
