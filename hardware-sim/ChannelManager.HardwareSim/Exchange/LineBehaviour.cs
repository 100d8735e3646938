using ChannelManager.Core.Transport;

namespace ChannelManager.HardwareSim.Exchange;

/// <summary>
/// What the simulated PSTN does when a modem dials a number. The modem turns each into the result
/// code a real modem would give (V.250 §6.3.1 dial results), filtered by its X level.
/// </summary>
public abstract record LineBehaviour
{
    private protected LineBehaviour()
    {
    }

    /// <summary>
    /// The callee picks up after <paramref name="Delay"/>: the modem reports CONNECT and bridges data
    /// mode to <paramref name="Serve"/>, which runs on the callee's end of an in-memory pair until the
    /// link ends (returning from it is the callee hanging up: the modem reports NO CARRIER).
    /// A delay longer than the modem's S7 means the modem gives up first (NO CARRIER).
    /// </summary>
    public sealed record Answer(TimeSpan Delay, Func<IChannelTransport, CancellationToken, Task> Serve) : LineBehaviour;

    /// <summary>Busy tone after <paramref name="After"/>: the modem reports BUSY (X3/X4) or NO CARRIER (X0–X2).</summary>
    public sealed record Busy(TimeSpan After = default) : LineBehaviour;

    /// <summary>Rings out; the modem reports NO ANSWER after <paramref name="After"/> (X3/X4) or NO CARRIER (X0–X2).</summary>
    public sealed record NoAnswer(TimeSpan After = default) : LineBehaviour;

    /// <summary>Answered by something that is not a modem (voice, fax, dead line): NO CARRIER after <paramref name="After"/>.</summary>
    public sealed record NoCarrier(TimeSpan After = default) : LineBehaviour;

    /// <summary>
    /// No tone and no answer at all. The modem gives up when its S7 (wait for carrier) expires and
    /// reports NO CARRIER; with <paramref name="ModemStaysSilent"/> it reports nothing at all, so the
    /// host's own dial timeout must fire (OutcomeCode.DialTimeout).
    /// </summary>
    public sealed record Silent(bool ModemStaysSilent = false) : LineBehaviour;

    /// <summary>The nth call to the number gets the nth behaviour; the last one repeats.</summary>
    public sealed record Sequence(params LineBehaviour[] Steps) : LineBehaviour;
}
