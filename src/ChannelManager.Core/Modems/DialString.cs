namespace ChannelManager.Core.Modems;

/// <summary>
/// Validates an outstation's telephone number before it can ever reach <c>ATD</c>. The number is
/// concatenated into a modem command line, so anything that is not a dial character is a way to
/// inject AT commands (<c>0123;ATH</c>, <c>0123\r+++</c>): it is refused at config load and API input.
/// </summary>
/// <remarks>
/// Allowed, from ITU-T V.250 §6.3.1 (dial modifiers): digits <c>0–9</c>, <c>*</c>, <c>#</c>, a single
/// leading <c>+</c> (international prefix), <c>,</c> (pause), <c>W</c> (wait for dial tone),
/// <c>P</c> / <c>T</c> (pulse / tone). The separators V.250 tells the modem to ignore — space,
/// <c>-</c>, <c>.</c>, <c>(</c>, <c>)</c> — are accepted so numbers can be written as printed.
/// Refused: <c>;</c> (V.250: return to command state after dialling, then the rest of the line is run
/// as commands), CR/LF and other control characters, letters other than the modifiers (so no
/// <c>AT</c>), a <c>+</c> anywhere but first (so no <c>+++</c>), and more than
/// <see cref="MaxLength"/> characters (V.250 §5.2.4: a modem need only buffer 40 characters of a
/// command line after <c>AT</c>).
/// </remarks>
public static class DialString
{
    /// <summary>Longest accepted number, separators included.</summary>
    public const int MaxLength = 40;

    /// <summary>Null when <paramref name="number"/> may be dialled; otherwise why it may not, for a
    /// message such as <c>Outstations[3].Number: …</c>.</summary>
    public static string? Validate(string? number)
    {
        if (string.IsNullOrWhiteSpace(number))
        {
            return "is required (the outstation's telephone number)";
        }

        if (number.Length > MaxLength)
        {
            return $"is {number.Length} characters long; at most {MaxLength} are allowed (V.250 command line length)";
        }

        var digits = 0;
        for (var i = 0; i < number.Length; i++)
        {
            var c = number[i];
            if (char.IsAsciiDigit(c))
            {
                digits++;
                continue;
            }

            if (IsDialModifier(c) || IsIgnoredSeparator(c))
            {
                continue;
            }

            if (c == '+')
            {
                if (i == FirstSignificant(number))
                {
                    continue;
                }

                return $"has '+' at position {i + 1}; '+' is allowed only as the leading international prefix";
            }

            return $"has {Describe(c)} at position {i + 1}; only digits, * # , W P T, a leading + and the separators space - . ( ) are allowed";
        }

        return digits == 0 ? "has no digits to dial" : null;
    }

    public static bool IsValid(string? number) => Validate(number) is null;

    private static bool IsDialModifier(char c) => c is '*' or '#' or ',' or 'W' or 'w' or 'P' or 'p' or 'T' or 't';

    private static bool IsIgnoredSeparator(char c) => c is ' ' or '-' or '.' or '(' or ')';

    private static int FirstSignificant(string number)
    {
        for (var i = 0; i < number.Length; i++)
        {
            if (!IsIgnoredSeparator(number[i]))
            {
                return i;
            }
        }

        return -1;
    }

    private static string Describe(char c) => c switch
    {
        '\r' => "a carriage return (CR)",
        '\n' => "a line feed (LF)",
        ';' => "';' (V.250: returns the modem to command state, so the rest would run as AT commands)",
        _ when char.IsControl(c) => $"control character 0x{(int)c:X2}",
        _ => $"'{c}'",
    };
}
