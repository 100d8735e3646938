namespace ChannelManager.Core.Modems;

/// <summary>What a line from the modem is (V.250 §5.7 result codes, 3GPP TS 27.007 §9.2 errors, vendor variants).</summary>
public enum ModemReplyKind
{
    /// <summary>V.250 §5.7.1 Table 1 code 0.</summary>
    Ok,
    /// <summary>V.250 code 1 and every extended form ("CONNECT 33600/ARQ/V42BIS"); final for ATD/ATA.</summary>
    Connect,
    /// <summary>V.250 code 2: an unsolicited result code (incoming call).</summary>
    Ring,
    /// <summary>V.250 code 3.</summary>
    NoCarrier,
    /// <summary>V.250 code 4.</summary>
    Error,
    /// <summary>V.250 code 6 ("NO DIALTONE"; Conexant/ZyXEL print "NO DIAL TONE").</summary>
    NoDialTone,
    /// <summary>V.250 code 7.</summary>
    Busy,
    /// <summary>V.250 code 8.</summary>
    NoAnswer,
    /// <summary>Conexant/Rockwell numeric 32: the modem's own repeat-call blacklist (research/repeat-call-rules.md §2).</summary>
    Blacklisted,
    /// <summary>Conexant/Rockwell numeric 24: the modem's minimum redial gap has not elapsed.</summary>
    Delayed,
    /// <summary>Si2457/Actiontec: the modem's blacklist is full, new numbers refused.</summary>
    BlacklistFull,
    /// <summary>German Wahlsperre (ELSA): dialling locked by the modem.</summary>
    DialLocked,
    /// <summary>3GPP TS 27.007 §9.2: "+CME ERROR: &lt;err&gt;" is a final result code.</summary>
    CmeError,
    /// <summary>3GPP TS 27.005 §3.2.5: "+CMS ERROR: &lt;err&gt;".</summary>
    CmsError,
    /// <summary>Intermediate result (V.250 §6.6 reporting, vendor CARRIER/PROTOCOL/COMPRESSION lines, RINGING).</summary>
    Intermediate,
    /// <summary>Unsolicited result code other than RING (+CRING, +CLIP, +CREG, +CMTI...).</summary>
    Unsolicited,
    /// <summary>An information text line, e.g. an ATI answer or a "+CSQ: 20,99" query response.</summary>
    Information,
    /// <summary>The command line echoed back (E1, V.250 §6.2.4).</summary>
    Echo,
    /// <summary>Binary/non-printable bytes or an over-long line: noise, a wrong baud rate, or data-mode bytes.</summary>
    Garbage,
    /// <summary>Printable text this engine does not know.</summary>
    Unknown,
}

/// <summary>Where in a call a reply arrived; the same text means different things (seed 004, design.md §3).</summary>
public enum ModemPhase
{
    /// <summary>ATZ, init string, AT, ATI, ATH: no dial attempted.</summary>
    Command,
    /// <summary>After ATD/ATA until the final result.</summary>
    Dial,
    /// <summary>After CONNECT: data mode and escape.</summary>
    Online,
}

/// <summary>One classified line from the modem.</summary>
/// <param name="Kind">What the line is.</param>
/// <param name="Text">The line as received (CR/LF stripped; non-printable bytes escaped as \xNN).</param>
/// <param name="NumericCode">The V0 numeric code, where the line was numeric.</param>
/// <param name="ConnectDetail">Everything after "CONNECT" (speed, protocol, compression), where given.</param>
/// <param name="ErrorCode">The &lt;err&gt; of +CME/+CMS ERROR, numeric or mapped from the verbose text.</param>
public readonly record struct ModemReply(ModemReplyKind Kind, string Text, int? NumericCode = null, string? ConnectDetail = null, int? ErrorCode = null)
{
    /// <summary>V.250 §5.7.1: a final result code ends the command (OK, CONNECT, ERROR, BUSY ...; +CME/+CMS ERROR per 27.007/27.005).</summary>
    public bool IsFinal => Kind is ModemReplyKind.Ok or ModemReplyKind.Connect or ModemReplyKind.NoCarrier or ModemReplyKind.Error
        or ModemReplyKind.NoDialTone or ModemReplyKind.Busy or ModemReplyKind.NoAnswer or ModemReplyKind.Blacklisted
        or ModemReplyKind.Delayed or ModemReplyKind.BlacklistFull or ModemReplyKind.DialLocked or ModemReplyKind.CmeError
        or ModemReplyKind.CmsError;

    /// <summary>Unsolicited result codes (V.250 §5.7.1 "RING"; 27.007 +CRING/+CLIP/+CREG...) may arrive at any time.</summary>
    public bool IsUnsolicited => Kind is ModemReplyKind.Ring or ModemReplyKind.Unsolicited;

    /// <summary>Lines that cannot be a sensible answer to any command this engine sends.</summary>
    public bool IsUnexpected => Kind is ModemReplyKind.Garbage or ModemReplyKind.Unknown;

    public override string ToString() => $"{Kind}: {Text}";
}
