namespace ChannelManager.HardwareSim.Modems;

/// <summary>
/// Result codes with their V.250 numeric (V0) values (V.250 §5.7.2 table 1 and the Hayes set:
/// 6 NO DIALTONE, 7 BUSY, 8 NO ANSWER). BLACKLISTED and DELAYED have no numeric code in V.250;
/// in V0 they are sent as 4 (ERROR), which is also what X0–X3 turn them into.
/// </summary>
internal enum ResultCode : byte
{
    Ok = 0,
    Connect = 1,
    Ring = 2,
    NoCarrier = 3,
    Error = 4,
    NoDialTone = 6,
    Busy = 7,
    NoAnswer = 8,
    Blacklisted = 200,
    Delayed = 201,
}

internal static class ResultCodeText
{
    public static string Verbose(ResultCode code) => code switch
    {
        ResultCode.Ok => "OK",
        ResultCode.Connect => "CONNECT",
        ResultCode.Ring => "RING",
        ResultCode.NoCarrier => "NO CARRIER",
        ResultCode.Error => "ERROR",
        ResultCode.NoDialTone => "NO DIALTONE",
        ResultCode.Busy => "BUSY",
        ResultCode.NoAnswer => "NO ANSWER",
        ResultCode.Blacklisted => "BLACKLISTED",
        ResultCode.Delayed => "DELAYED",
        _ => throw new ArgumentOutOfRangeException(nameof(code), code, null),
    };

    public static int Numeric(ResultCode code) => code is ResultCode.Blacklisted or ResultCode.Delayed ? (int)ResultCode.Error : (int)code;

    /// <summary>
    /// The Hayes X command's result-code sets: X0 basic codes only (no speed on CONNECT), X1 adds
    /// the speed, X2 adds NO DIALTONE, X3 adds BUSY and NO ANSWER, X4 all. A code the level does not
    /// include falls back to NO CARRIER; call-barring codes fall back to ERROR (Westermo).
    /// </summary>
    public static ResultCode ApplyLevel(ResultCode code, int level) => code switch
    {
        ResultCode.NoDialTone when level is 0 or 1 or 3 => ResultCode.NoCarrier,
        ResultCode.Busy or ResultCode.NoAnswer when level < 3 => ResultCode.NoCarrier,
        ResultCode.Blacklisted or ResultCode.Delayed when level < 4 => ResultCode.Error,
        _ => code,
    };
}
