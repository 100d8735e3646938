namespace ChannelManager.HardwareSim.Modems;

/// <summary>
/// Modem-side faults (seed 004 row 1: channel allocation / set-up failures, counted against the
/// modem). Settable at run time through <see cref="ModemBehaviour.Fault"/>.
/// </summary>
public enum ModemFault
{
    None,

    /// <summary>Every command line gets ERROR (a wedged or misconfigured modem).</summary>
    ErrorToEverything,

    /// <summary>Reads and discards everything in command state and answers nothing, not even the echo.</summary>
    Hung,

    /// <summary>ATD waits S6 seconds for dial tone, then NO DIALTONE (X2/X4; NO CARRIER at X0/X1/X3).</summary>
    NoDialTone,

    /// <summary>ATD is refused with DELAYED (X4; ERROR at X0–X3, as Westermo modems do): the modem's own call-barring timer.</summary>
    Delayed,

    /// <summary>Every command line is answered with binary noise instead of a result code (wrong baud rate, line noise).</summary>
    Garbage,

    /// <summary>
    /// ERROR to any command line containing '&amp;' — that is, to init strings (AT&amp;F, ATE0V1&amp;D2)
    /// — while plain AT, ATI and ATD still work: the modem fails initialisation only.
    /// </summary>
    InitError,
}

/// <summary>How the modem presents caller ID after the first RING.</summary>
public enum CallerIdFormat
{
    None,

    /// <summary>3GPP TS 27.007 §7.18: <c>+CLIP: "number",type</c> (enabled by AT+CLIP=1).</summary>
    Clip,

    /// <summary>Hayes/Rockwell style <c>NMBR = number</c> (enabled by AT+VCID=1 or AT#CID=1).</summary>
    Nmbr,
}
