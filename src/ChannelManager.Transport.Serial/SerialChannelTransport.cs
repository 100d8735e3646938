using System.IO.Ports;
using ChannelManager.Core.Transport;

namespace ChannelManager.Transport.Serial;

/// <summary>
/// <see cref="IChannelTransport"/> over System.IO.Ports, safe on Linux ptys (design.md §7, measured here):
/// ptys have no modem-control lines (pin access throws IOException), BaseStream.ReadAsync ignores
/// ReadTimeout but honours its token, and after the peer disappears a write blocks without regard to
/// its token and Close() blocks: both are bounded by time and then abandoned.
/// </summary>
public sealed class SerialChannelTransport : IChannelTransport
{
    private readonly SerialTransportOptions _options;
    private readonly TimeProvider _time;
    private SerialPort? _port;
    private Stream? _stream;
    private SerialControlLines? _lines;
    private volatile bool _failed;

    public SerialChannelTransport(SerialTransportOptions options, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.PortName, nameof(options));
        _options = options;
        _time = timeProvider;
    }

    public string Endpoint => _options.PortName;

    public bool IsOpen => _port is { IsOpen: true } && !_failed;

    public IModemControlLines? ControlLines => _lines;

    public async Task OpenAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (IsOpen)
        {
            return;
        }

        await CloseAsync(cancellationToken).ConfigureAwait(false);
        var port = new SerialPort(_options.PortName, _options.BaudRate, ToParity(_options.Parity), _options.DataBits, ToStopBits(_options.StopBits))
        {
            Handshake = _options.HardwareFlowControl ? Handshake.RequestToSend : Handshake.None,
            WriteTimeout = (int)_options.WriteTimeout.TotalMilliseconds,
            ReadTimeout = SerialPort.InfiniteTimeout, // reads are bounded by tokens, never by this (ignored by ReadAsync)
        };
        try
        {
            // Open can block on a wedged USB adapter; keep it off the caller's thread and bounded.
            await Task.Run(port.Open, cancellationToken).WaitAsync(_options.CloseTimeout * 2, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException or TimeoutException)
        {
            port.Dispose();
            throw new TransportFailureException(TransportFault.OpenFailed, Endpoint, $"cannot open serial port: {ex.Message}", ex);
        }

        _port = port;
        _stream = port.BaseStream;
        _lines = SerialControlLines.Probe(port);
        _failed = false;
    }

    public async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var stream = _stream ?? throw NotOpen();
        try
        {
            var n = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                _failed = true;
            }

            return n;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException or TimeoutException or OperationCanceledException)
        {
            // On Linux the port reports POLLHUP when the other end of a pty (or a USB adapter) goes
            // away and the stream disposes itself: that is a lost link, not a bug.
            _failed = true;
            throw new TransportFailureException(TransportFault.LinkFailed, Endpoint, $"serial read failed: {ex.Message}", ex);
        }
    }

    public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var stream = _stream ?? throw NotOpen();
        if (_failed)
        {
            throw new TransportFailureException(TransportFault.LinkFailed, Endpoint, "serial link already failed");
        }

        try
        {
            // WaitAsync, not the token alone: after link loss the write ignores both token and WriteTimeout.
            await stream.WriteAsync(data, cancellationToken).AsTask()
                .WaitAsync(_options.WriteTimeout, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException or TimeoutException or OperationCanceledException)
        {
            _failed = true;
            throw new TransportFailureException(TransportFault.LinkFailed, Endpoint, $"serial write failed: {ex.Message}", ex);
        }
    }

    public async Task CloseAsync(CancellationToken cancellationToken)
    {
        var port = _port;
        _port = null;
        _stream = null;
        _lines = null;
        if (port is null)
        {
            return;
        }

        var close = Task.Run(() =>
        {
            try
            {
                port.Dispose();
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
            {
                // Closing a port whose device vanished: nothing left to release.
            }
        }, CancellationToken.None);
        try
        {
            await close.WaitAsync(_options.CloseTimeout, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Close() blocks after link loss on Linux; the handle is abandoned rather than hanging the caller.
        }
    }

    public async ValueTask DisposeAsync() => await CloseAsync(CancellationToken.None).ConfigureAwait(false);

    private TransportFailureException NotOpen() => new(TransportFault.NotOpen, Endpoint, "serial port is not open");

    private static Parity ToParity(SerialParity parity) => parity switch
    {
        SerialParity.None => Parity.None,
        SerialParity.Odd => Parity.Odd,
        SerialParity.Even => Parity.Even,
        SerialParity.Mark => Parity.Mark,
        SerialParity.Space => Parity.Space,
        _ => throw new ArgumentOutOfRangeException(nameof(parity), parity, "Unknown parity."),
    };

    private static StopBits ToStopBits(SerialStopBits stopBits) => stopBits switch
    {
        SerialStopBits.One => StopBits.One,
        SerialStopBits.OnePointFive => StopBits.OnePointFive,
        SerialStopBits.Two => StopBits.Two,
        _ => throw new ArgumentOutOfRangeException(nameof(stopBits), stopBits, "Unknown stop bits."),
    };

    /// <summary>The pins of a real UART; absent on a pty, where every pin ioctl fails with ENOTTY.</summary>
    private sealed class SerialControlLines(SerialPort port) : IModemControlLines
    {
        public bool CarrierDetect => Read(() => port.CDHolding);

        public bool DataSetReady => Read(() => port.DsrHolding);

        public static SerialControlLines? Probe(SerialPort port)
        {
            try
            {
                _ = port.CDHolding;
                return new SerialControlLines(port);
            }
            catch (IOException)
            {
                return null;
            }
        }

        public ValueTask SetDataTerminalReadyAsync(bool asserted, CancellationToken cancellationToken)
        {
            try
            {
                port.DtrEnable = asserted;
                return ValueTask.CompletedTask;
            }
            catch (Exception ex) when (ex is IOException or InvalidOperationException)
            {
                throw new TransportFailureException(TransportFault.LinkFailed, port.PortName, $"cannot set DTR: {ex.Message}", ex);
            }
        }

        private bool Read(Func<bool> pin)
        {
            try
            {
                return pin();
            }
            catch (Exception ex) when (ex is IOException or InvalidOperationException)
            {
                throw new TransportFailureException(TransportFault.LinkFailed, port.PortName, $"cannot read modem-control line: {ex.Message}", ex);
            }
        }
    }
}
