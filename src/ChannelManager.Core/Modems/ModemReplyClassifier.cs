using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace ChannelManager.Core.Modems;

/// <summary>
/// Maps one modem line to a <see cref="ModemReply"/> (context-free) and a reply in a phase to an
/// <see cref="OutcomeCode"/> (design.md §3, seed 004). Total: every string gets a kind, nothing throws.
/// </summary>
public static class ModemReplyClassifier
{
    /// <summary>Default cap on one line (characters); longer lines are garbage, not replies (AtModemOptions.MaxLineLength).</summary>
    public const int DefaultMaxLineLength = 256;

    /// <summary>
    /// V0 numeric result codes. 0–8 are V.250 §5.7.1 Table 1 (5 is CONNECT 1200 in the Hayes set). 9–32 are the
    /// Conexant/Rockwell table (Conexant Command Reference Manual Table 3-14; the same values in Tandy faxback #3252);
    /// other vendors reuse 10+ differently (ZyXEL 24 = CONNECT 7200, USR 11 = RINGING), which is why the
    /// default init string selects verbose results (V1). Unlisted numbers stay <see cref="ModemReplyKind.Unknown"/>.
    /// </summary>
    private static readonly Dictionary<int, (ModemReplyKind Kind, string Verbose)> Numeric = new()
    {
        [0] = (ModemReplyKind.Ok, "OK"),
        [1] = (ModemReplyKind.Connect, "CONNECT"),
        [2] = (ModemReplyKind.Ring, "RING"),
        [3] = (ModemReplyKind.NoCarrier, "NO CARRIER"),
        [4] = (ModemReplyKind.Error, "ERROR"),
        [5] = (ModemReplyKind.Connect, "CONNECT 1200"),
        [6] = (ModemReplyKind.NoDialTone, "NO DIALTONE"),
        [7] = (ModemReplyKind.Busy, "BUSY"),
        [8] = (ModemReplyKind.NoAnswer, "NO ANSWER"),
        [9] = (ModemReplyKind.Connect, "CONNECT 600"),
        [10] = (ModemReplyKind.Connect, "CONNECT 2400"),
        [11] = (ModemReplyKind.Connect, "CONNECT 4800"),
        [12] = (ModemReplyKind.Connect, "CONNECT 9600"),
        [13] = (ModemReplyKind.Connect, "CONNECT 7200"),
        [14] = (ModemReplyKind.Connect, "CONNECT 12000"),
        [15] = (ModemReplyKind.Connect, "CONNECT 14400"),
        [16] = (ModemReplyKind.Connect, "CONNECT 19200"),
        [17] = (ModemReplyKind.Connect, "CONNECT 38400"),
        [18] = (ModemReplyKind.Connect, "CONNECT 57600"),
        [19] = (ModemReplyKind.Connect, "CONNECT 115200"),
        [22] = (ModemReplyKind.Connect, "CONNECT 75TX/1200RX"),
        [23] = (ModemReplyKind.Connect, "CONNECT 1200TX/75RX"),
        [24] = (ModemReplyKind.Delayed, "DELAYED"),
        [32] = (ModemReplyKind.Blacklisted, "BLACKLISTED"),
        // Rockwell/Conexant intermediate reports (Tandy faxback #3252; W. Buchanan, "Computer Busses", Table C.1).
        [40] = (ModemReplyKind.Intermediate, "CARRIER 300"),
        [44] = (ModemReplyKind.Intermediate, "CARRIER 1200/75"),
        [45] = (ModemReplyKind.Intermediate, "CARRIER 75/1200"),
        [46] = (ModemReplyKind.Intermediate, "CARRIER 1200"),
        [47] = (ModemReplyKind.Intermediate, "CARRIER 2400"),
        [48] = (ModemReplyKind.Intermediate, "CARRIER 4800"),
        [66] = (ModemReplyKind.Intermediate, "COMPRESSION: CLASS 5"),
        [67] = (ModemReplyKind.Intermediate, "COMPRESSION: V.42bis"),
        [69] = (ModemReplyKind.Intermediate, "COMPRESSION: NONE"),
        [70] = (ModemReplyKind.Intermediate, "PROTOCOL: NONE"),
        [77] = (ModemReplyKind.Intermediate, "PROTOCOL: LAPM"),
        [80] = (ModemReplyKind.Intermediate, "PROTOCOL: ALT"),
    };

    /// <summary>
    /// +CME ERROR codes that mean "the device refuses to place this call": 3GPP TS 27.007 §9.2.1 56 (fixed dial
    /// number only) and 62 (call barred); 257 is "call barred" in MultiTech's GSM AT manual (research/repeat-call-rules.md §2).
    /// </summary>
    private static readonly HashSet<int> CallBarredCme = [56, 62, 257];

    /// <summary>3GPP TS 27.007 §9.2.1 verbose texts (AT+CMEE=2) whose numeric code we need to know.</summary>
    private static readonly Dictionary<string, int> VerboseCme = new(StringComparer.OrdinalIgnoreCase)
    {
        ["phone failure"] = 0,
        ["no connection to phone"] = 1,
        ["operation not allowed"] = 3,
        ["operation not supported"] = 4,
        ["SIM not inserted"] = 10,
        ["SIM PIN required"] = 11,
        ["SIM PUK required"] = 12,
        ["SIM failure"] = 13,
        ["SIM busy"] = 14,
        ["SIM wrong"] = 15,
        ["incorrect password"] = 16,
        ["dial string too long"] = 26,
        ["invalid characters in dial string"] = 27,
        ["no network service"] = 30,
        ["network timeout"] = 31,
        ["network not allowed - emergency calls only"] = 32,
        ["fixed dial number only allowed - called number is not a fixed dial number"] = 56,
        ["call barred"] = 62,
        ["unknown"] = 100,
    };

    /// <summary>Unsolicited result codes of 3GPP TS 27.007 (§6.11 +CRING, §7.6 +CLIP, §7.2 +CREG, §10.1.20 +CGREG, §10.1.22 +CEREG, §7.12 +CCWA, §7.17 +CSSI/+CSSU, §7.15 +CUSD, §8.9 +CIEV) and 27.005 §3.4.1 (+CMTI, +CMT, +CBM, +CDS).</summary>
    private static readonly string[] UnsolicitedPrefixes =
        ["+CRING:", "+CLIP:", "+CREG:", "+CGREG:", "+CEREG:", "+CCWA:", "+CSSI:", "+CSSU:", "+CUSD:", "+CIEV:", "+CMTI:", "+CMT:", "+CBM:", "+CDS:", "+CDSI:", "+CBMI:"];

    /// <summary>Intermediate reports: V.250 §6.6.2 (+MCR/+MRR), V.250 §6.5.2/6.6 (+ER, +DR), V.42 protocol and compression lines, call progress.</summary>
    private static readonly string[] IntermediatePrefixes =
        ["CARRIER ", "PROTOCOL:", "COMPRESSION:", "+MCR:", "+MRR:", "+ER:", "+DR:", "+ILRR:", "+COLP:", "+CR:"];

    private static readonly string[] IntermediateWords = ["RINGING", "RINGBACK", "DIALING", "DIALLING"];

    /// <summary>Whole-line result words (V.250 §5.7.1 Table 1 and the blacklisting replies of research §2), any case.</summary>
    private static readonly Dictionary<string, ModemReplyKind> Words = new(StringComparer.OrdinalIgnoreCase)
    {
        ["OK"] = ModemReplyKind.Ok,
        ["RING"] = ModemReplyKind.Ring,
        ["NO CARRIER"] = ModemReplyKind.NoCarrier,
        ["ERROR"] = ModemReplyKind.Error,
        ["NO DIALTONE"] = ModemReplyKind.NoDialTone,
        ["NO DIAL TONE"] = ModemReplyKind.NoDialTone,
        ["BUSY"] = ModemReplyKind.Busy,
        ["NO ANSWER"] = ModemReplyKind.NoAnswer,
        ["BLACKLISTED"] = ModemReplyKind.Blacklisted,
        ["DELAYED"] = ModemReplyKind.Delayed,
        ["BLACKLIST FULL"] = ModemReplyKind.BlacklistFull,
        ["DIAL LOCKED"] = ModemReplyKind.DialLocked,
    };

    /// <summary>CONNECT details seen so far ("33600", "9600/ARQ"): a modem reports a few rates, so the detail string is shared, not cut anew per call.</summary>
    private static readonly ConcurrentDictionary<string, string> Details = new(StringComparer.Ordinal);

    /// <summary>Bound on <see cref="Details"/>: past it a detail is cut per call as before (a modem reporting ever-new texts cannot grow it).</summary>
    private const int MaxDetails = 256;

    private static readonly char[] Blanks = [' ', '\t'];

    public static ModemReply Classify(string line) => Classify(line, DefaultMaxLineLength);

    /// <summary>Classifies one line (terminators already stripped). Never throws.</summary>
    public static ModemReply Classify(string? line, int maxLineLength)
    {
        line ??= string.Empty;
        maxLineLength = Math.Max(1, maxLineLength);
        if (line.Length > maxLineLength)
        {
            // An over-long line is noise or data-mode bytes, never a result code: keep the first bytes as evidence.
            return new ModemReply(ModemReplyKind.Garbage, Escape(line.AsSpan(0, maxLineLength)) + "...");
        }

        if (HasNonPrintable(line))
        {
            return new ModemReply(ModemReplyKind.Garbage, Escape(line));
        }

        var text = line.Trim(Blanks);
        if (text.Length == 0)
        {
            return new ModemReply(ModemReplyKind.Unknown, text);
        }

        if (text.Length <= 3 && !text.AsSpan().ContainsAnyExceptInRange('0', '9'))
        {
            var code = int.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture);
            return Numeric.TryGetValue(code, out var n)
                ? new ModemReply(n.Kind, text, code, n.Kind == ModemReplyKind.Connect ? DetailOf(n.Verbose) : null)
                : new ModemReply(ModemReplyKind.Unknown, text, code);
        }

        // Case-insensitive matching on the text itself (no upper-cased copy): classification allocates nothing for
        // the lines a modem repeats (issue 9; the line's string is shared by AtLineAssembler).
        if (Starts(text, "AT") || Starts(text, "A/"))
        {
            // V.250 §5.2.1: every command line starts with AT (A/ repeats the last one); a modem never sends it.
            return new ModemReply(ModemReplyKind.Echo, text);
        }

        if (Words.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(text, out var k))
        {
            return new ModemReply(k, text);
        }

        if (text.Equals("CONNECT", StringComparison.OrdinalIgnoreCase) || Starts(text, "CONNECT ") || Starts(text, "CONNECT/"))
        {
            return new ModemReply(ModemReplyKind.Connect, text, ConnectDetail: DetailOf(text));
        }

        // "DELAYED 5" / "DELAYED 5 MIN" style variants carry the remaining wait.
        if (Starts(text, "DELAYED "))
        {
            return new ModemReply(ModemReplyKind.Delayed, text);
        }

        if (Starts(text, "+CME ERROR:"))
        {
            return new ModemReply(ModemReplyKind.CmeError, text, ErrorCode: ErrorCodeOf(text["+CME ERROR:".Length..], VerboseCme));
        }

        if (Starts(text, "+CMS ERROR:"))
        {
            return new ModemReply(ModemReplyKind.CmsError, text, ErrorCode: ErrorCodeOf(text["+CMS ERROR:".Length..], null));
        }

        if (StartsWithAny(text, UnsolicitedPrefixes))
        {
            return new ModemReply(ModemReplyKind.Unsolicited, text);
        }

        if (StartsWithAny(text, IntermediatePrefixes) || IsAnyOf(text, IntermediateWords))
        {
            return new ModemReply(ModemReplyKind.Intermediate, text);
        }

        if (text.StartsWith('+') && text.Contains(':', StringComparison.Ordinal))
        {
            // V.250 §5.7.2 information text of an extended command ("+CSQ: 20,99", "+GMI: ...").
            return new ModemReply(ModemReplyKind.Information, text);
        }

        return new ModemReply(ModemReplyKind.Unknown, text);
    }

    /// <summary>
    /// The outcome a reply ends a command with, or null for lines that do not end one (intermediate,
    /// unsolicited, information, echo). Garbage and unknown text end a command: an unexpected reply is a
    /// modem error (seed 004 "Modem unexpected response") before CONNECT and an unexpected response after it.
    /// </summary>
    public static OutcomeCode? TryGetOutcome(ModemReply reply, ModemPhase phase)
    {
        if (!reply.IsFinal && !reply.IsUnexpected)
        {
            return null;
        }

        return phase switch
        {
            ModemPhase.Command => reply.Kind == ModemReplyKind.Ok ? OutcomeCode.Success : OutcomeCode.ModemError,
            ModemPhase.Dial => DialOutcome(reply),
            _ => reply.Kind switch
            {
                ModemReplyKind.Ok => OutcomeCode.Success,
                ModemReplyKind.NoCarrier => OutcomeCode.ConnectionLost,
                _ => OutcomeCode.UnexpectedResponse,
            },
        };
    }

    /// <summary>The outcome of a reply that ends a command; throws for a line that does not end one (a caller bug).</summary>
    public static OutcomeCode ToOutcome(ModemReply reply, ModemPhase phase) =>
        TryGetOutcome(reply, phase) ?? throw new ArgumentException($"'{reply.Text}' ({reply.Kind}) does not end a command.", nameof(reply));

    /// <summary>True for +CME ERROR codes meaning the device bars the call (27.007 §9.2.1 56, 62; MultiTech 257).</summary>
    public static bool IsCallBarred(ModemReply reply) =>
        reply.Kind == ModemReplyKind.CmeError && reply.ErrorCode is { } code && CallBarredCme.Contains(code);

    /// <summary>Renders control and non-ASCII characters as \xNN (and CR/LF as \r \n) for logs and outcomes.</summary>
    public static string Escape(ReadOnlySpan<char> text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            _ = c switch
            {
                '\r' => sb.Append("\\r"),
                '\n' => sb.Append("\\n"),
                '\\' => sb.Append("\\\\"),
                < ' ' or > '~' => sb.Append(CultureInfo.InvariantCulture, $"\\x{(int)c & 0xFF:X2}"),
                _ => sb.Append(c),
            };
        }

        return sb.ToString();
    }

    private static OutcomeCode DialOutcome(ModemReply reply) => reply.Kind switch
    {
        ModemReplyKind.Connect => OutcomeCode.Success,
        // Seed 004: errors that prevent a dial from being attempted are the modem's (channel allocation).
        ModemReplyKind.NoDialTone or ModemReplyKind.DialLocked => OutcomeCode.NoDialTone,
        ModemReplyKind.Blacklisted or ModemReplyKind.Delayed or ModemReplyKind.BlacklistFull => OutcomeCode.CallBarredByModem,
        ModemReplyKind.CmeError when IsCallBarred(reply) => OutcomeCode.CallBarredByModem,
        // Seed 004: connection establishment failures, the outstation's.
        ModemReplyKind.Busy => OutcomeCode.Busy,
        ModemReplyKind.NoAnswer => OutcomeCode.NoAnswer,
        ModemReplyKind.NoCarrier => OutcomeCode.NoCarrier,
        // ERROR, other CME/CMS errors, OK to ATD, garbage: "Modem unexpected response".
        _ => OutcomeCode.ModemError,
    };

    private static string? DetailOf(string connect)
    {
        var rest = connect.Length > "CONNECT".Length ? connect.AsSpan("CONNECT".Length).Trim() : [];
        if (rest.Length == 0)
        {
            return null;
        }

        if (Details.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(rest, out var known))
        {
            return known;
        }

        var detail = rest.ToString();
        if (Details.Count < MaxDetails)
        {
            Details.TryAdd(detail, detail);
        }

        return detail;
    }

    private static bool Starts(string text, string prefix) => text.StartsWith(prefix, StringComparison.OrdinalIgnoreCase);

    private static bool StartsWithAny(string text, string[] prefixes)
    {
        foreach (var p in prefixes)
        {
            if (Starts(text, p))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsAnyOf(string text, string[] words)
    {
        foreach (var w in words)
        {
            if (text.Equals(w, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static int? ErrorCodeOf(string rest, Dictionary<string, int>? verbose)
    {
        rest = rest.Trim();
        if (int.TryParse(rest, NumberStyles.None, CultureInfo.InvariantCulture, out var code))
        {
            return code;
        }

        if (verbose is null)
        {
            return null;
        }

        if (verbose.TryGetValue(rest, out code))
        {
            return code;
        }

        // Long 27.007 texts are often shortened by vendors ("fixed dial number only allowed").
        foreach (var (text, value) in verbose)
        {
            if (text.StartsWith(rest, StringComparison.OrdinalIgnoreCase) && rest.Length >= 12)
            {
                return value;
            }
        }

        return null;
    }

    private static bool HasNonPrintable(string line)
    {
        foreach (var c in line)
        {
            if (c is (< ' ' and not '\t') or > '~')
            {
                return true;
            }
        }

        return false;
    }
}
