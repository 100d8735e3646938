using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace ChannelManager.Core.Modems;

/// <summary>Per-modem AT settings (design.md §6 "Modems"). Validated; every duration is a TimeSpan.</summary>
public sealed partial class AtModemOptions
{
    /// <summary>V.250 §6.3.11: S7 "connection completion timeout" default (s) when the init string does not set it.</summary>
    public const int DefaultS7Seconds = 50;

    [Required(AllowEmptyStrings = false)]
    public string Name { get; set; } = string.Empty;

    /// <summary>
    /// Sent after the reset command; OK expected. E0 echo off, V1 verbose results, Q0 results on, X4 extended
    /// results (BUSY, NO DIALTONE), &amp;D2 hang up on DTR drop (V.250 §6.2.9).
    /// </summary>
    [Required(AllowEmptyStrings = false)]
    [RegularExpression("^(?i:AT)[\\x20-\\x7E]*$", ErrorMessage = "InitString must start with AT and hold printable ASCII only.")]
    public string InitString { get; set; } = "ATE0V1Q0X4&D2";

    /// <summary>Sent before the init string (null or empty: skip). ATZ restores the stored profile.</summary>
    [RegularExpression("^(?i:AT)[\\x20-\\x7E]*$", ErrorMessage = "ResetCommand must start with AT and hold printable ASCII only.")]
    public string? ResetCommand { get; set; } = "ATZ";

    /// <summary>How long a plain command (AT, ATI, init, ATH) may take before the modem counts as not responding.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00")]
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>ATZ restarts the modem's firmware on many models, which takes longer than a plain command.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00")]
    public TimeSpan ResetTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Null: S7 (from an "S7=n" in <see cref="InitString"/>, else 50 s) plus <see cref="DialTimeoutMargin"/>.</summary>
    [Range(typeof(TimeSpan), "00:00:05", "00:10:00")]
    public TimeSpan? DialTimeout { get; set; }

    /// <summary>Added to S7 so the modem's own NO CARRIER normally arrives before our timeout does.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:02:00")]
    public TimeSpan DialTimeoutMargin { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Silence before and after "+++" (Hayes S12 default 50 × 20 ms = 1 s).</summary>
    [Range(typeof(TimeSpan), "00:00:00.020", "00:00:05")]
    public TimeSpan EscapeGuardTime { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long DTR is held off to make an &amp;D2 modem hang up (V.250 §6.2.9), where the transport has control lines.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:00:05")]
    public TimeSpan DtrDropTime { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Longest line accepted; longer is garbage (noise, wrong baud rate) and never grows a buffer without bound.</summary>
    [Range(16, 4096)]
    public int MaxLineLength { get; set; } = ModemReplyClassifier.DefaultMaxLineLength;

    /// <summary>
    /// Sent to abort a dial in progress. V.250 §6.3.1: any character from the DTE before the connection
    /// completes aborts the attempt; CR is harmless if the modem has already returned to command state.
    /// </summary>
    [Required(AllowEmptyStrings = true)] // "\r" is whitespace; the pattern below requires 1–4 characters
    [RegularExpression("^[\\x00-\\x7F]{1,4}$", ErrorMessage = "DialAbortText must be 1 to 4 ASCII characters.")]
    public string DialAbortText { get; set; } = "\r";

    /// <summary>
    /// In data mode a partial "\r\nNO CARRIER\r\n" is held back until disambiguated; after this long without more
    /// bytes it is released to the protocol driver as data (a Modbus frame may end in 0x0D).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:00:02")]
    public TimeSpan DataHoldBackTime { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>How often data-mode reads look at the CD line (only where the transport has control lines).</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:00:10")]
    public TimeSpan CarrierPollInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>The ATD timeout actually used: <see cref="DialTimeout"/>, or S7 + margin.</summary>
    public TimeSpan EffectiveDialTimeout => DialTimeout ?? TimeSpan.FromSeconds(S7Seconds) + DialTimeoutMargin;

    /// <summary>S7 as set by the init string ("S7=45"), else the V.250 default 50 s.</summary>
    public int S7Seconds
    {
        get
        {
            var m = S7Pattern().Match(InitString ?? string.Empty);
            return m.Success && int.TryParse(m.Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var s) && s is >= 1 and <= 255
                ? s
                : DefaultS7Seconds;
        }
    }

    /// <summary>Throws <see cref="OptionsValidationException"/> naming every invalid setting (bad config is an exception).</summary>
    public void Validate()
    {
        var result = new AtModemOptionsValidator().Validate(Name, this);
        if (result.Failed)
        {
            throw new OptionsValidationException(Name ?? nameof(AtModemOptions), typeof(AtModemOptions), result.Failures);
        }
    }

    [GeneratedRegex(@"S7=(\d{1,3})", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex S7Pattern();
}

/// <summary>Source-generated DataAnnotations validator (style.md "Validated options").</summary>
[OptionsValidator]
public sealed partial class AtModemOptionsValidator : IValidateOptions<AtModemOptions>;
