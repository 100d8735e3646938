using System.Globalization;
using ChannelManager.Core.Protocols.Modbus;

namespace ChannelManager.HardwareSim.Outstations;

public enum OutstationFaultKind
{
    /// <summary>The request is lost: nothing executed, nothing sent (master: CommandTimeout).</summary>
    NoReply,

    /// <summary>The reply's CRC is corrupted (master: MalformedFrame).</summary>
    BadCrc,

    /// <summary>An exception reply with <see cref="OutstationFault.Code"/> instead of executing (master: ExceptionResponse).</summary>
    Exception,

    /// <summary>The reply is sent after <see cref="OutstationFault.Delay"/> (master: Success or CommandTimeout).</summary>
    SlowReply,

    /// <summary>Only the first half of the reply is sent (master: MalformedFrame, truncated).</summary>
    PartialFrame,

    /// <summary>A correct reply, but addressed from another unit (master: MalformedFrame, address).</summary>
    WrongUnit,
}

/// <summary>A scripted misbehaviour of <see cref="ModbusRtuOutstation"/> for one request (or all, when persistent).</summary>
public sealed record OutstationFault(OutstationFaultKind Kind, ModbusExceptionCode Code = ModbusExceptionCode.ServerDeviceFailure, TimeSpan Delay = default)
{
    public static OutstationFault NoReply { get; } = new(OutstationFaultKind.NoReply);

    public static OutstationFault BadCrc { get; } = new(OutstationFaultKind.BadCrc);

    public static OutstationFault PartialFrame { get; } = new(OutstationFaultKind.PartialFrame);

    public static OutstationFault WrongUnit { get; } = new(OutstationFaultKind.WrongUnit);

    public static OutstationFault Exception(ModbusExceptionCode code) => new(OutstationFaultKind.Exception, code);

    public static OutstationFault SlowReply(TimeSpan delay) => new(OutstationFaultKind.SlowReply, Delay: delay);

    /// <summary>Parses the CLI form: noreply, badcrc, partial, wrongunit, exception:CODE, slow:MILLISECONDS.</summary>
    public static OutstationFault? Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split(':', 2);
        var arg = parts.Length > 1 ? parts[1] : null;
        return parts[0].ToLowerInvariant() switch
        {
            "noreply" => NoReply,
            "badcrc" => BadCrc,
            "partial" => PartialFrame,
            "wrongunit" => WrongUnit,
            "exception" when byte.TryParse(arg, NumberStyles.Integer, CultureInfo.InvariantCulture, out var code) => Exception((ModbusExceptionCode)code),
            "slow" when int.TryParse(arg, NumberStyles.Integer, CultureInfo.InvariantCulture, out var ms) && ms >= 0 => SlowReply(TimeSpan.FromMilliseconds(ms)),
            _ => null,
        };
    }
}
