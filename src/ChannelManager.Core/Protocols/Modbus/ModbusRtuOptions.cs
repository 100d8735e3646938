using System.ComponentModel.DataAnnotations;
using ChannelManager.Core.Transport;
using Microsoft.Extensions.Options;

namespace ChannelManager.Core.Protocols.Modbus;

/// <summary>Settings of a <see cref="ModbusRtuMaster"/> for one outstation.</summary>
public sealed class ModbusRtuOptions
{
    /// <summary>The outstation's unit (slave) address, 1-247 (§2.2: 0 is broadcast and gets no reply).</summary>
    [Range(1, 247)]
    public byte UnitId { get; set; } = 1;

    /// <summary>The line rate the timing is computed from (on a dial-up link: the modem's DTE rate).</summary>
    [Range(300, 921600)]
    public int BaudRate { get; set; } = 9600;

    /// <summary>Even is the RTU default (Modbus over Serial Line V1.02 §2.5.1); set it as the line is really framed.</summary>
    public SerialParity Parity { get; set; } = SerialParity.Even;

    [Range(7, 8)]
    public int DataBits { get; set; } = 8;

    public SerialStopBits StopBits { get; set; } = SerialStopBits.One;

    /// <summary>How long to wait for the first byte of a reply before the attempt is a command timeout.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Extra attempts after a command timeout (seed 004 footnote ***); 2 means up to 3 requests.</summary>
    [Range(0, 10)]
    public int TimeoutRetries { get; set; } = 2;

    /// <summary>The silent interval before each request; null = t3.5 computed from the framing (§2.5.1.1).</summary>
    public TimeSpan? InterFrameDelay { get; set; }

    /// <summary>
    /// The longest silence tolerated inside a reply before it is declared truncated. Null = t1.5 from the
    /// framing, but never less than <see cref="MinimumInterCharacterTimeout"/>: a PC cannot time 750 µs
    /// (Linux timers ≈ 1 ms, USB-serial latency 1-16 ms) and modems with V.42 error correction or a raw-TCP
    /// serial server deliver a frame in bursts, so a strict t1.5 would cut healthy frames (docs/protocol-driver.md).
    /// </summary>
    public TimeSpan? InterCharacterTimeout { get; set; }

    /// <summary>When set, a low DCD on a transport with control lines ends the transaction as ConnectionLost.</summary>
    public bool MonitorCarrierDetect { get; set; }

    /// <summary>The floor applied to the computed inter-character timeout.</summary>
    public static readonly TimeSpan MinimumInterCharacterTimeout = TimeSpan.FromMilliseconds(50);

    /// <summary>Bits per character: start + data + parity + stop (11 for 8E1 and 8N2, 10 for 8N1).</summary>
    public int CharacterBits => new SerialFraming(BaudRate, DataBits, Parity, StopBits).BitsPerCharacter;

    public TimeSpan EffectiveInterFrameDelay => InterFrameDelay ?? ModbusRtuTiming.InterFrameDelay(BaudRate, CharacterBits);

    public TimeSpan EffectiveInterCharacterTimeout
    {
        get
        {
            if (InterCharacterTimeout is { } set)
            {
                return set;
            }

            var computed = ModbusRtuTiming.InterCharacterLimit(BaudRate, CharacterBits);
            return computed > MinimumInterCharacterTimeout ? computed : MinimumInterCharacterTimeout;
        }
    }
}

/// <summary>Source-generated DataAnnotations validator (style.md "Validated options").</summary>
[OptionsValidator]
public sealed partial class ModbusRtuOptionsValidator : IValidateOptions<ModbusRtuOptions>;
