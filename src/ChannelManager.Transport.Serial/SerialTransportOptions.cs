using System.ComponentModel.DataAnnotations;
using ChannelManager.Core.Transport;

namespace ChannelManager.Transport.Serial;

/// <summary>A serial modem port: a COM port, /dev/ttyS*, /dev/ttyUSB* or a socat pty symlink.</summary>
public sealed class SerialTransportOptions
{
    [Required]
    public string PortName { get; set; } = string.Empty;

    [Range(300, 921600)]
    public int BaudRate { get; set; } = 9600;

    [Range(5, 8)]
    public int DataBits { get; set; } = 8;

    public SerialParity Parity { get; set; } = SerialParity.None;

    public SerialStopBits StopBits { get; set; } = SerialStopBits.One;

    /// <summary>RTS/CTS hardware flow control, as most external modems expect (&amp;K3). Off on ptys.</summary>
    public bool HardwareFlowControl { get; set; }

    /// <summary>Bounds every write: after link loss a write on Linux can block forever (design.md §7).</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:01:00")]
    public TimeSpan WriteTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Bounds Close(): it can block after link loss; the port is then abandoned, not waited for.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:01:00")]
    public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(2);

    public SerialFraming Framing => new(BaudRate, DataBits, Parity, StopBits);
}
