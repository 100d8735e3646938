using System.Buffers;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using ChannelManager.Core.Transport;

namespace ChannelManager.Core.Modems;

/// <summary>What the reader loop reports to the engine outside a command's own wait.</summary>
internal enum LinkEvent
{
    /// <summary>Data state ended: "\r\nNO CARRIER\r\n" in the stream, or CD dropped.</summary>
    CarrierLost,
    /// <summary>The transport read 0 or threw: the port or connection is gone.</summary>
    LinkEnded,
}

/// <summary>
/// The one reader loop per open link (style.md §2.2). In command state it assembles lines, classifies them,
/// drops echo, routes unsolicited codes to <see cref="AtModem.Unsolicited"/> and queues the rest for the
/// command being run. On CONNECT (when a dial/answer is waiting) it switches to data state at the exact byte
/// after the result code and passes bytes through to a <see cref="ModemDataChannel"/>, watching for
/// "NO CARRIER". Nothing a modem sends can make it throw.
/// </summary>
internal sealed class AtLinkPump : IAsyncDisposable
{
    private readonly IChannelTransport _transport;
    private readonly AtModemOptions _options;
    private readonly TimeProvider _time;
    private readonly ChannelWriter<ModemReply> _unsolicited;
    private readonly Action<AtLinkPump, LinkEvent> _onEvent;
    private readonly Action<ModemReply> _onLine;
    private readonly Lock _sync = new();
    private readonly AtLineAssembler _assembler;
    private readonly CarrierLossDetector _detector = new();
    private readonly List<byte> _dataOut = [];
    // Reply lines for the command being run. Not a Channel: SingleReaderInbox wakes the waiting command through the
    // local thread-pool queue without allocating (issue 9); like the channel it never runs the reader on our stack.
    private readonly SingleReaderInbox<ModemReply> _lines = new();
    private readonly CancellationTokenSource _stop;
    private ByteQueue? _data;
    private ModemDataChannel? _dataChannel;
    private string? _echoCandidate;
    private bool _expectConnect;
    private bool _dataMode;
    private bool _swallowLf;
    private ITimer? _holdTimer;
    private long _holdGeneration;
    private Task _loop = Task.CompletedTask;
    private bool _stopped;

    public AtLinkPump(IChannelTransport transport, AtModemOptions options, TimeProvider time, ChannelWriter<ModemReply> unsolicited,
        Action<AtLinkPump, LinkEvent> onEvent, Action<ModemReply> onLine, CancellationToken lifetime)
    {
        _transport = transport;
        _options = options;
        _time = time;
        _unsolicited = unsolicited;
        _onEvent = onEvent;
        _onLine = onLine;
        _assembler = new AtLineAssembler(options.MaxLineLength);
        _stop = CancellationTokenSource.CreateLinkedTokenSource(lifetime);
    }

    private volatile bool _ended;

    /// <summary>Set once the loop has stopped reading (link closed or failed, or stopped).</summary>
    public bool Ended => _ended;

    /// <summary>The transport fault that ended the loop, if one did.</summary>
    public Exception? Fault { get; private set; }

    public bool InDataMode
    {
        get
        {
            lock (_sync)
            {
                return _dataMode;
            }
        }
    }

    /// <summary>The pass-through of the current (or last) data-state connection.</summary>
    public ModemDataChannel? DataChannel
    {
        get
        {
            lock (_sync)
            {
                return _dataChannel;
            }
        }
    }

    public ValueTask DisposeAsync() => new(StopAsync());

    public void Start() => _loop = Task.Run(() => RunAsync(_stop.Token));

    public async Task StopAsync()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        await _stop.CancelAsync();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
            // Stopping is the expected way out of a pending read.
        }

        lock (_sync)
        {
            _holdTimer?.Dispose();
        }

        _stop.Dispose();
    }

    /// <summary>
    /// Prepares for a command's replies: forgets lines left over from an earlier, abandoned command, and
    /// remembers the command text so its echo (E1, V.250 §6.2.4) can be dropped.
    /// </summary>
    public void BeginCommand(string commandText, bool expectConnect)
    {
        lock (_sync)
        {
            while (_lines.TryRead(out _))
            {
            }

            _echoCandidate = commandText.Trim();
            _expectConnect = expectConnect;
        }
    }

    /// <summary>A dial is being aborted: a late CONNECT must not switch the reader to data state behind our back.</summary>
    public void StopExpectingConnect()
    {
        lock (_sync)
        {
            _expectConnect = false;
        }
    }

    /// <summary>Takes the next queued reply line, if one is there.</summary>
    public bool TryReadLine(out ModemReply line) => _lines.TryRead(out line);

    /// <summary>
    /// True when a reply line is queued, false once the link has ended and the queue is empty; throws when the token is
    /// cancelled first. The inbox's own ValueTask, so the command's wait allocates no state machine of its own (issue 9).
    /// </summary>
    public ValueTask<bool> WaitToReadLineAsync(CancellationToken cancellationToken) => _lines.WaitToReadAsync(cancellationToken);

    /// <summary>Leaves data state on our side ("+++" escape or DTR drop): the driver's data channel ends.</summary>
    public void EnterCommandMode()
    {
        lock (_sync)
        {
            EndDataLocked();
        }
    }

    /// <summary>CD dropped (seen by the data channel where control lines exist): same as in-band NO CARRIER.</summary>
    public void CarrierDropped()
    {
        bool wasData;
        lock (_sync)
        {
            wasData = _dataMode;
            EndDataLocked();
        }

        if (wasData)
        {
            _onEvent(this, LinkEvent.CarrierLost);
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        // Pooled: a pump lives for one link session, which on a dial-up modem can be one call (issue 9).
        var buffer = ArrayPool<byte>.Shared.Rent(1024);
        var stopped = false;
        try
        {
            while (true)
            {
                var n = await _transport.ReadAsync(buffer, cancellationToken);
                if (n <= 0)
                {
                    break;
                }

                bool carrierLost;
                lock (_sync)
                {
                    carrierLost = Process(buffer.AsSpan(0, n));
                }

                if (carrierLost)
                {
                    _onEvent(this, LinkEvent.CarrierLost);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            stopped = true;
        }
        catch (TransportFailureException ex)
        {
            Fault = ex;
        }
#pragma warning disable CA1031 // The reader loop must not die silently: any adapter fault ends the link as a transport failure.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Fault = new TransportFailureException(TransportFault.LinkFailed, _transport.Endpoint, ex.Message, ex);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        lock (_sync)
        {
            _ended = true;
            EndDataLocked();
            _lines.Complete();
        }

        if (!stopped)
        {
            _onEvent(this, LinkEvent.LinkEnded);
        }
    }

    /// <summary>Consumes one chunk; returns true if it ended data state with NO CARRIER.</summary>
    private bool Process(ReadOnlySpan<byte> chunk)
    {
        var carrierLost = false;
        var i = 0;
        while (i < chunk.Length)
        {
            if (_dataMode)
            {
                if (_swallowLf)
                {
                    // The LF closing a verbose "\r\nCONNECT ...\r\n" (we switched at its CR) is not data.
                    _swallowLf = false;
                    if (chunk[i] == (byte)'\n')
                    {
                        i++;
                        continue;
                    }
                }

                i += _detector.Feed(chunk[i..], _dataOut, out var matched);
                FlushDataLocked();
                if (matched)
                {
                    EndDataLocked();
                    carrierLost = true;
                }
            }
            else
            {
                i += ProcessCommandBytes(chunk[i..]);
            }
        }

        if (_dataMode && _detector.HasHeldBytes)
        {
            ArmHoldTimerLocked();
        }

        return carrierLost;
    }

    private int ProcessCommandBytes(ReadOnlySpan<byte> bytes)
    {
        for (var k = 0; k < bytes.Length; k++)
        {
            var text = _assembler.Push(bytes[k]);
            if (text is null)
            {
                continue;
            }

            var reply = ModemReplyClassifier.Classify(text, _options.MaxLineLength);
            var isEcho = _echoCandidate is not null
                ? string.Equals(reply.Text, _echoCandidate, StringComparison.OrdinalIgnoreCase)
                : reply.Kind == ModemReplyKind.Echo;
            if (!isEcho && reply.Kind == ModemReplyKind.Echo)
            {
                // Starts with "AT" but is not the command just sent: modem text such as an ATI
                // identity line ("ATPTY-…"), not an echo.
                reply = reply with { Kind = ModemReplyKind.Information };
            }

            _onLine(reply);
            if (isEcho)
            {
                continue;
            }

            if (reply.IsUnsolicited)
            {
                _unsolicited.TryWrite(reply);
                continue;
            }

            _lines.TryWrite(reply);
            if (reply.Kind == ModemReplyKind.Connect && _expectConnect)
            {
                StartDataLocked(swallowLf: _assembler.LastTerminator == (byte)'\r' && reply.NumericCode is null);
                return k + 1;
            }
        }

        return bytes.Length;
    }

    private void StartDataLocked(bool swallowLf)
    {
        _expectConnect = false;
        _dataMode = true;
        _swallowLf = swallowLf;
        _detector.Reset();
        _data = new ByteQueue();
        _dataChannel = new ModemDataChannel(_transport, _data, this, _time, _options.CarrierPollInterval);
    }

    private void EndDataLocked()
    {
        if (_dataMode)
        {
            // Bytes held as a possible NO CARRIER prefix were data after all only if no match followed;
            // at an escape or drop the driver is finished with the stream either way.
            _detector.Reset();
            _holdGeneration++;
        }

        _dataMode = false;
        _swallowLf = false;
        _assembler.Reset();
        _dataChannel?.MarkEnded();
        _data?.Complete();
    }

    private void FlushDataLocked()
    {
        if (_dataOut.Count == 0)
        {
            return;
        }

        // Copied by the queue (no per-chunk array); its reader is woken through the thread pool, never under our lock.
        _data?.Write(CollectionsMarshal.AsSpan(_dataOut));
        _dataOut.Clear();
    }

    private void ArmHoldTimerLocked()
    {
        _holdTimer?.Dispose();
        var generation = ++_holdGeneration;
        _holdTimer = _time.CreateTimer(OnHoldTimeout, generation, _options.DataHoldBackTime, Timeout.InfiniteTimeSpan);
    }

    private void OnHoldTimeout(object? state)
    {
        lock (_sync)
        {
            if (state is long generation && generation == _holdGeneration && _dataMode && _detector.HasHeldBytes)
            {
                _detector.Release(_dataOut);
                FlushDataLocked();
            }
        }
    }
}
