using System.Buffers;
using ChannelManager.Core.Transport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ChannelManager.Core.Protocols.Modbus;

/// <summary>
/// Modbus RTU master (client) over any connected <see cref="IChannelTransport"/> (docs/protocol-driver.md).
/// One instance per outstation configuration; <see cref="ExecuteAsync"/> keeps its state per call, so one
/// instance may serve several links at once.
/// </summary>
public sealed class ModbusRtuMaster : IProtocolDriver
{
    /// <summary>Room for a maximal frame plus as much line noise in front of it.</summary>
    private const int ReceiveBufferLength = ModbusRtuCodec.MaxFrameLength * 2;

    private readonly ModbusRtuOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TimeSpan _interFrameDelay;
    private readonly TimeSpan _interCharacterTimeout;

    public ModbusRtuMaster(ModbusRtuOptions options, TimeProvider time, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        var validation = new ModbusRtuOptionsValidator().Validate(null, options);
        if (validation.Failed)
        {
            throw new ArgumentException($"Invalid Modbus RTU options: {validation.FailureMessage}", nameof(options));
        }

        _options = options;
        _time = time;
        _logger = logger ?? NullLogger.Instance;
        _interFrameDelay = options.EffectiveInterFrameDelay;
        _interCharacterTimeout = options.EffectiveInterCharacterTimeout;
    }

    public ModbusRtuOptions Options => _options;

    /// <summary>
    /// V.250 §5.7.1: a modem that loses carrier in data mode returns to command state and reports
    /// NO CARRIER. A data-mode view normally turns that into a read of 0; when the raw link carries it,
    /// it arrives here in-band.
    /// </summary>
    private static ReadOnlySpan<byte> NoCarrier => "\r\nNO CARRIER\r\n"u8;

    public async Task<ProtocolResult> ExecuteAsync(IChannelTransport link, IReadOnlyList<ProtocolCommand> commands, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(link);
        ArgumentNullException.ThrowIfNull(commands);
        var modbus = new ModbusCommand[commands.Count];
        for (var i = 0; i < commands.Count; i++)
        {
            modbus[i] = commands[i] as ModbusCommand
                ?? throw new ArgumentException($"Command {i} ({commands[i]?.GetType().Name ?? "null"}) is not a Modbus command.", nameof(commands));
            modbus[i].Validate();
        }

        var startedAt = _time.GetUtcNow();
        var results = new List<CommandResult>(modbus.Length);
        var tx = ArrayPool<byte>.Shared.Rent(ModbusRtuCodec.MaxFrameLength);
        var rx = ArrayPool<byte>.Shared.Rent(ReceiveBufferLength);
        try
        {
            // The link was handed over just now (after CONNECT): count the silent interval from here.
            using var session = new LinkSession(_time) { LastActivity = _time.GetTimestamp() };
            for (var i = 0; i < modbus.Length; i++)
            {
                var command = modbus[i];
                var result = await RunCommandAsync(link, session, command, tx, rx, cancellationToken);
                results.Add(result);
                if (!result.IsSuccess)
                {
                    Log.CommandFailed(_logger, _options.UnitId, command.FunctionCode, result.Attempts, result.Code, result.Detail);
                    return new ProtocolResult(result.Code, results) { StartedAt = startedAt, EndedAt = _time.GetUtcNow() };
                }

                if (result.Attempts > 1 && i + 1 < modbus.Length)
                {
                    await DrainLateRepliesAsync(link, session, rx, cancellationToken);
                }
            }

            return new ProtocolResult(OutcomeCode.Success, results) { StartedAt = startedAt, EndedAt = _time.GetUtcNow() };
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(tx);
            ArrayPool<byte>.Shared.Return(rx);
        }
    }

    private async Task<CommandResult> RunCommandAsync(IChannelTransport link, LinkSession session, ModbusCommand command, byte[] tx, byte[] rx, CancellationToken cancellationToken)
    {
        var requestLength = ModbusRtuCodec.EncodeRequest(_options.UnitId, command, tx);
        var request = tx.AsMemory(0, requestLength);
        var maxAttempts = 1 + _options.TimeoutRetries;
        for (var attempt = 1; ; attempt++)
        {
            if (!link.IsOpen)
            {
                return Failure(command, OutcomeCode.ConnectionLost, attempt - 1, request, default, "the link is closed");
            }

            if (CarrierLost(link))
            {
                return Failure(command, OutcomeCode.ConnectionLost, attempt - 1, request, default, "carrier detect (DCD) is low");
            }

            var exchange = await ExchangeAsync(link, session, request, rx, cancellationToken);
            var received = rx.AsMemory(0, exchange.Count);
            switch (exchange.Kind)
            {
                case ExchangeKind.Timeout when attempt < maxAttempts:
                    // Seed 004 footnote ***: the one failure the driver retries itself, bounded.
                    Log.ResponseTimeout(_logger, _options.UnitId, command.FunctionCode, _options.ResponseTimeout, attempt, maxAttempts);
                    continue;
                case ExchangeKind.Timeout:
                    return Failure(command, OutcomeCode.CommandTimeout, attempt, request, received,
                        $"no reply within {_options.ResponseTimeout.TotalMilliseconds:0} ms ({attempt} attempt(s))");
                case ExchangeKind.Lost:
                    return Failure(command, OutcomeCode.ConnectionLost, attempt, request, received, exchange.Detail);
                case ExchangeKind.Malformed:
                    return Failure(command, OutcomeCode.MalformedFrame, attempt, request, received, Describe(exchange.Fault, exchange.Count));
                default:
                    if (exchange.FrameOffset > 0)
                    {
                        Log.SkippedNoise(_logger, _options.UnitId, exchange.FrameOffset);
                    }

                    return Classify(command, attempt, request, received, exchange.FrameOffset, exchange.FrameLength);
            }
        }
    }

    private async Task<Exchange> ExchangeAsync(IChannelTransport link, LinkSession session, ReadOnlyMemory<byte> request, byte[] rx, CancellationToken cancellationToken)
    {
        // Modbus over Serial Line V1.02 §2.5.1.1: a frame starts after ≥ 3.5 character times of silence.
        // Task.Delay truncates to whole milliseconds and Linux timers resolve to about 1 ms, so the wait
        // is rounded up: the gap is never shorter than t3.5, typically up to 1-2 ms longer.
        var idle = _time.GetElapsedTime(session.LastActivity);
        if (idle < _interFrameDelay)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Ceiling((_interFrameDelay - idle).TotalMilliseconds)), _time, cancellationToken);
        }

        try
        {
            await link.WriteAsync(request, cancellationToken);
        }
        catch (TransportFailureException e)
        {
            return Exchange.Lost(0, $"write failed: {e.Message}");
        }

        session.LastActivity = _time.GetTimestamp();
        var until = session.Deadline.Start(_options.ResponseTimeout, cancellationToken);
        try
        {
            var count = 0;
            while (true)
            {
                int n;
                try
                {
                    n = await link.ReadAsync(rx.AsMemory(count), until);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    if (count == 0)
                    {
                        return Exchange.Timeout();
                    }

                    // The reply stalled part-way for longer than the inter-character limit: whatever is
                    // there is all there will be.
                    return FromParse(ModbusRtuResponseParser.Parse(rx.AsSpan(0, count), lineIdle: true), count);
                }
                catch (TransportFailureException e)
                {
                    return Exchange.Lost(count, $"read failed: {e.Message}");
                }

                if (n == 0)
                {
                    return Exchange.Lost(count, "the link closed (carrier lost or port closed)");
                }

                count += n;
                session.LastActivity = _time.GetTimestamp();
                var parse = ModbusRtuResponseParser.Parse(rx.AsSpan(0, count), lineIdle: false);
                if (parse.Status == RtuParseStatus.Frame)
                {
                    return Exchange.Frame(count, parse.Offset, parse.Length);
                }

                if (rx.AsSpan(0, count).IndexOf(NoCarrier) >= 0)
                {
                    return Exchange.Lost(count, "NO CARRIER received in data mode");
                }

                if (parse.Status == RtuParseStatus.Malformed)
                {
                    return Exchange.Malformed(count, parse.Fault);
                }

                if (count == rx.Length)
                {
                    return Exchange.Malformed(count, RtuFrameFault.Overflow);
                }

                // §2.5.1.1 t1.5 (floored, see ModbusRtuOptions.InterCharacterTimeout): once a reply has begun,
                // the next byte must follow promptly or the frame is truncated.
                session.Deadline.Extend(_interCharacterTimeout);
            }
        }
        finally
        {
            session.Deadline.Stop();
        }
    }

    /// <summary>
    /// RTU has no transaction id: after a retried command the reply to an earlier attempt may still be on
    /// its way and would be taken as the next command's answer. Before the next command, read and discard
    /// for one response timeout (only on this degraded path; docs/protocol-driver.md "late replies").
    /// </summary>
    private async Task DrainLateRepliesAsync(IChannelTransport link, LinkSession session, byte[] rx, CancellationToken cancellationToken)
    {
        var until = session.Deadline.Start(_options.ResponseTimeout, cancellationToken);
        var discarded = 0;
        try
        {
            while (true)
            {
                var n = await link.ReadAsync(rx, until);
                if (n == 0)
                {
                    break;   // the next command reports the lost link
                }

                discarded += n;
                session.LastActivity = _time.GetTimestamp();
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
        }
        catch (TransportFailureException)
        {
            // Likewise reported by the next command.
        }
        finally
        {
            session.Deadline.Stop();
        }

        if (discarded > 0)
        {
            Log.DiscardedLateReply(_logger, _options.UnitId, discarded);
        }
    }

    private static Exchange FromParse(RtuParseResult parse, int count) => parse.Status == RtuParseStatus.Frame
        ? Exchange.Frame(count, parse.Offset, parse.Length)
        : Exchange.Malformed(count, parse.Fault == RtuFrameFault.None ? RtuFrameFault.Truncated : parse.Fault);

    private static CommandResult Classify(ModbusCommand command, int attempts, ReadOnlyMemory<byte> requestMemory, ReadOnlyMemory<byte> received, int offset, int length)
    {
        var request = requestMemory.Span;
        var frame = received.Span.Slice(offset, length);
        var unit = frame[RtuOffset.Unit];
        var function = frame[RtuOffset.Function];
        if (unit != request[RtuOffset.Unit])
        {
            // Issue 5 / design §3: an address mismatch is a MalformedFrame (docs/protocol-driver.md).
            return Failure(command, OutcomeCode.MalformedFrame, attempts, requestMemory, received,
                $"reply from unit {unit}, expected unit {request[RtuOffset.Unit]}");
        }

        if (function == (request[RtuOffset.Function] | ModbusFunctionInfo.ExceptionFlag))
        {
            var code = frame[RtuOffset.ExceptionCode];
            var name = Enum.IsDefined((ModbusExceptionCode)code) ? ((ModbusExceptionCode)code).ToString() : "undefined";
            return Failure(command, OutcomeCode.ExceptionResponse, attempts, requestMemory, received, $"exception {code:D2} ({name})") with
            {
                ExceptionCode = code,
                ServerBusy = code == (byte)ModbusExceptionCode.ServerDeviceBusy,
            };
        }

        if (function != request[RtuOffset.Function])
        {
            return Failure(command, OutcomeCode.MalformedFrame, attempts, requestMemory, received,
                $"reply has function 0x{function:X2}, request had 0x{request[RtuOffset.Function]:X2}");
        }

        if (!ModbusFunctionInfo.IsRead(command.FunctionCode))
        {
            // §6.5/6.6 echo the request; §6.11/6.12 echo address and quantity: bytes 2..5 match either way.
            return frame.Slice(2, 4).SequenceEqual(request.Slice(2, 4))
                ? Success(command, attempts, requestMemory, received)
                : Failure(command, OutcomeCode.UnexpectedResponse, attempts, requestMemory, received,
                    "write reply does not echo the request's address and value/quantity");
        }

        var byteCount = frame[RtuOffset.ByteCount];
        var expected = ModbusRtuCodec.ExpectedByteCount(request);
        if (byteCount != expected)
        {
            return Failure(command, OutcomeCode.UnexpectedResponse, attempts, requestMemory, received,
                $"reply carries {byteCount} data bytes, the request asked for {expected}");
        }

        switch (command)
        {
            case ReadCoils or ReadDiscreteInputs:
                var bits = new bool[command is ReadCoils rc ? rc.Count : ((ReadDiscreteInputs)command).Count];
                ModbusRtuCodec.ReadBits(frame, bits);
                return Success(command, attempts, requestMemory, received) with { Bits = bits };
            default:
                var registers = new ushort[command switch
                {
                    ReadHoldingRegisters r => r.Count,
                    ReadInputRegisters r => r.Count,
                    ReadWriteMultipleRegisters r => r.ReadCount,
                    _ => 0,
                }];
                ModbusRtuCodec.ReadRegisters(frame, registers);
                return Success(command, attempts, requestMemory, received) with { Registers = registers };
        }
    }

    private bool CarrierLost(IChannelTransport link)
    {
        if (!_options.MonitorCarrierDetect || link.ControlLines is not { } lines)
        {
            return false;
        }

        try
        {
            return !lines.CarrierDetect;
        }
        catch (TransportFailureException)
        {
            return true;
        }
    }

    private static string Describe(RtuFrameFault fault, int count) => fault switch
    {
        RtuFrameFault.BadCrc => $"CRC check failed ({count} bytes received)",
        RtuFrameFault.BadByteCount => "byte count impossible for the function",
        RtuFrameFault.UnknownFunction => "reply starts with an unknown function code",
        RtuFrameFault.Truncated => $"reply stopped after {count} bytes (inter-character limit passed)",
        RtuFrameFault.Overflow => $"{count} bytes without a valid frame",
        _ => fault.ToString(),
    };

    private static CommandResult Success(ModbusCommand command, int attempts, ReadOnlyMemory<byte> request, ReadOnlyMemory<byte> received) =>
        new(command, OutcomeCode.Success, attempts) { Request = request.ToArray(), Response = received.ToArray() };

    private static CommandResult Failure(ModbusCommand command, OutcomeCode code, int attempts, ReadOnlyMemory<byte> request, ReadOnlyMemory<byte> received, string? detail) =>
        new(command, code, attempts) { Request = request.ToArray(), Response = received.ToArray(), Detail = detail };

    private sealed class LinkSession(TimeProvider time) : IDisposable
    {
        /// <summary>Timestamp of the last byte sent or received, for the t3.5 silent interval.</summary>
        public long LastActivity { get; set; }

        /// <summary>The reply deadline, one for the whole poll: its commands run one after another.</summary>
        public CommandDeadline Deadline { get; } = new(time);

        public void Dispose() => Deadline.Dispose();
    }

    private enum ExchangeKind
    {
        Frame,
        Timeout,
        Malformed,
        Lost,
    }

    private readonly record struct Exchange(ExchangeKind Kind, int Count, int FrameOffset, int FrameLength, RtuFrameFault Fault, string? Detail)
    {
        public static Exchange Frame(int count, int offset, int length) => new(ExchangeKind.Frame, count, offset, length, RtuFrameFault.None, null);

        public static Exchange Timeout() => new(ExchangeKind.Timeout, 0, 0, 0, RtuFrameFault.None, null);

        public static Exchange Malformed(int count, RtuFrameFault fault) => new(ExchangeKind.Malformed, count, 0, 0, fault, null);

        public static Exchange Lost(int count, string detail) => new(ExchangeKind.Lost, count, 0, 0, RtuFrameFault.None, detail);
    }
}
