using System.Threading.Channels;
using ChannelManager.Core.Modems;
using ChannelManager.Core.Transport;

namespace ChannelManager.Core.Channels;

/// <summary>
/// What the Channel Manager needs of one modem: the AT engine (<c>AtModem</c>) in production, a
/// substitute in unit tests. Every operation returns a typed <see cref="ModemResult"/>; none throws for
/// anything the modem or its port can do.
/// </summary>
public interface IModemDevice : IAsyncDisposable
{
    string Name { get; }

    Task<ModemResult> InitializeAsync(CancellationToken cancellationToken);

    Task<ModemResult> CheckAsync(CancellationToken cancellationToken);

    Task<ModemResult> DialAsync(string dialString, CancellationToken cancellationToken);

    Task<ModemResult> AnswerAsync(CancellationToken cancellationToken);

    /// <summary>The link in data mode, valid after a successful dial or answer; reads 0 on carrier loss.</summary>
    IChannelTransport DataChannel { get; }

    Task<ModemResult> HangUpAsync(CancellationToken cancellationToken);

    /// <summary>Escalating recovery of a hung modem: escape, ATH, ATZ, DTR drop where wired, reopen the port.</summary>
    Task<ModemResult> ResetAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Closes the link to the modem (the TCP connection to its serial server, or its port) until the next operation
    /// reopens it. Active/active (docs/scale-out.md §6): a modem handed to another host must give up the serial server's
    /// connection first — most accept one client per port, so the new owner's set-up would otherwise fail and count
    /// against a healthy modem. Never called during a call.
    /// </summary>
    Task ReleaseLinkAsync(CancellationToken cancellationToken);

    /// <summary>Unsolicited result codes (RING, +CLIP, +CREG …) seen while the modem is in command mode.</summary>
    ChannelReader<ModemReply> Unsolicited { get; }
}
