namespace ChannelManager.Core.Transport;

/// <summary>
/// A duplex byte stream to a modem (serial COM port, pty, raw-TCP serial server) or, in data mode,
/// through it to an outstation. Adapters turn every library exception into
/// <see cref="TransportFailureException"/>; nothing else may escape them for an I/O fault.
/// </summary>
/// <remarks>
/// Reads must honour the token: on Linux SerialPort.BaseStream.ReadAsync ignores ReadTimeout
/// (design.md §7), so a caller bounds every read with a token, never with a timeout property.
/// </remarks>
public interface IChannelTransport : IAsyncDisposable
{
    /// <summary>Human-readable endpoint for logs and outcomes, e.g. <c>/dev/ttyUSB0</c> or <c>tcp://127.0.0.1:4001</c>.</summary>
    string Endpoint { get; }

    bool IsOpen { get; }

    /// <summary>Opens the port or connection. Throws <see cref="TransportFailureException"/> when it cannot.</summary>
    Task OpenAsync(CancellationToken cancellationToken);

    /// <summary>Closes; bounded in time even when the underlying port hangs after link loss.</summary>
    Task CloseAsync(CancellationToken cancellationToken);

    /// <summary>Reads at least one byte; returns 0 when the peer closed the link (port gone, TCP FIN).</summary>
    ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken);

    ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    /// <summary>
    /// RS-232 control lines, or null where the transport has none: a pty has no modem-control
    /// lines (reading CD or setting DTR throws), and a raw-TCP serial server does not carry them.
    /// Carrier loss is then seen in-band (<c>NO CARRIER</c>) or as a closed link.
    /// </summary>
    IModemControlLines? ControlLines { get; }
}

/// <summary>V.24 circuits a real serial port exposes (circuit 108/2 DTR, 109 DCD, 107 DSR).</summary>
public interface IModemControlLines
{
    bool CarrierDetect { get; }

    bool DataSetReady { get; }

    /// <summary>Raises or drops DTR. With &amp;D2 a DTR drop makes the modem hang up (V.250 §6.2.9).</summary>
    ValueTask SetDataTerminalReadyAsync(bool asserted, CancellationToken cancellationToken);
}
