using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace ChannelManager.Core.Protocols.Modbus;

/// <summary>Settings of a <see cref="ModbusTcpMaster"/> for one outstation (Modbus Messaging on TCP/IP V1.0b).</summary>
public sealed class ModbusTcpOptions
{
    /// <summary>
    /// MBAP unit identifier (§4.4.1.1). A gateway routes it to a serial slave 1-247; a device addressed directly
    /// usually ignores it. 0 and 248-255 are not accepted here because the replies are checked by the RTU classifier,
    /// which needs a real slave address.
    /// </summary>
    [Range(1, 247)]
    public byte UnitId { get; set; } = 1;

    /// <summary>How long to wait for the reply to one request (on a cellular link round trips of 1-2 s are normal).</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>Extra attempts after a response timeout (seed 004 footnote ***), each with a new transaction id.</summary>
    [Range(0, 10)]
    public int TimeoutRetries { get; set; } = 1;
}

/// <summary>Source-generated DataAnnotations validator (style.md "Validated options").</summary>
[OptionsValidator]
public sealed partial class ModbusTcpOptionsValidator : IValidateOptions<ModbusTcpOptions>;
