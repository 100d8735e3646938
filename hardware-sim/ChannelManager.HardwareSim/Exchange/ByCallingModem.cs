namespace ChannelManager.HardwareSim.Exchange;

/// <summary>
/// A line whose behaviour depends on which modem's line the call comes from: <paramref name="ByModem"/> maps a
/// modem name to what the line does for it, every other modem gets <paramref name="Otherwise"/>. Models a route
/// one exchange line cannot reach (trunk barring on that line, a private wire reachable from one site only, an
/// RTU that screens caller ID): from the wrong modem the call fails on the line, from the others it works.
/// Resolved by <see cref="PstnExchange"/> when the call begins, so a modem only ever sees the resulting behaviour.
/// </summary>
public sealed record ByCallingModem(LineBehaviour Otherwise, IReadOnlyDictionary<string, LineBehaviour> ByModem) : LineBehaviour
{
    internal LineBehaviour For(string modemName) => ByModem.TryGetValue(modemName, out var b) ? b : Otherwise;
}
