using System.ComponentModel.DataAnnotations;
using System.Globalization;

namespace ChannelManager.Transport.Tcp;

/// <summary>A raw-TCP serial server port (ser2net "raw" mode, Moxa NPort "TCP server" mode).</summary>
public sealed class TcpTransportOptions
{
    [Required]
    public string Host { get; set; } = string.Empty;

    [Range(1, 65535)]
    public int Port { get; set; }

    [Range(typeof(TimeSpan), "00:00:00.100", "00:02:00")]
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    [Range(typeof(TimeSpan), "00:00:00.050", "00:01:00")]
    public TimeSpan WriteTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>TCP keep-alive so a serial server that vanished is noticed even while the modem is idle.</summary>
    public bool KeepAlive { get; set; } = true;

    public string Endpoint => $"tcp://{Host}:{Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Parses <c>tcp://host:port</c>; a clear error names what is wrong.</summary>
    public static TcpTransportOptions Parse(string endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme != "tcp" || string.IsNullOrEmpty(uri.Host) || uri.Port <= 0
            || uri.AbsolutePath is not ("" or "/"))
        {
            throw new FormatException($"'{endpoint}' is not a TCP serial-server endpoint; expected tcp://host:port.");
        }

        return new TcpTransportOptions { Host = uri.Host, Port = uri.Port };
    }
}
