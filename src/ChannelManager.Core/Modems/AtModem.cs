using System.Text;
using System.Threading.Channels;
using ChannelManager.Core.Transport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ChannelManager.Core.Modems;

/// <summary>
/// A V.250 (Hayes AT) modem on an <see cref="IChannelTransport"/>: init, health check, dial, answer, data
/// state, hang-up and reset, each ending in a typed <see cref="ModemResult"/> (design.md §3). One operation
/// at a time; one reader loop per open link; every wait bounded on the injected <see cref="TimeProvider"/>.
/// Nothing the modem sends makes an operation throw; exceptions mean a caller bug, bad options, or
/// (for the lock wait only) cancellation before the operation started.
/// </summary>
public sealed class AtModem : ChannelManager.Core.Channels.IModemDevice
{
    // V.250 escape sequence (S2 = '+'), sent with a guard time either side; written from one array, not one per hang-up.
    private static readonly ReadOnlyMemory<byte> EscapeSequence = "+++"u8.ToArray();

    private readonly IChannelTransport _transport;
    private readonly bool _ownsTransport;
    private readonly AtModemOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ModemSession _session;
    private readonly SemaphoreSlim _operationLock = new(1, 1);
    private readonly Channel<ModemReply> _unsolicited = Channel.CreateBounded<ModemReply>(
        new BoundedChannelOptions(64) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = false, SingleWriter = false });
    private readonly CancellationTokenSource _lifetime = new();
    // One reply deadline for every command: operations never overlap (_operationLock), so neither do their waits.
    private readonly CommandDeadline _deadline;
    private readonly Lock _reconcileSync = new();
    private readonly List<Task> _reconciles = [];
    private AtLinkPump? _pump;
    private ModemDataChannel? _data;
    private readonly string _abortTextForLog;
    private int _disposed;

    public AtModem(IChannelTransport transport, bool ownsTransport, AtModemOptions options, TimeProvider timeProvider, ILogger<AtModem>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        options.Validate();
        _transport = transport;
        _ownsTransport = ownsTransport;
        _options = options;
        _time = timeProvider;
        _logger = logger ?? NullLogger<AtModem>.Instance;
        _abortTextForLog = ModemReplyClassifier.Escape(options.DialAbortText);
        _deadline = new CommandDeadline(timeProvider);
        _session = new ModemSession((from, to, trigger) => Log.StateChanged(_logger, options.Name, from, to, trigger));
    }

    public string Name => _options.Name;

    public ModemState State => _session.State;

    public AtModemOptions Options => _options;

    /// <summary>RING, +CRING, +CLIP, +CREG ... as they arrive (the newest 64 are kept if nobody reads).</summary>
    public ChannelReader<ModemReply> Unsolicited => _unsolicited.Reader;

    /// <summary>The data-state byte stream of the current (or last) connection; reads 0 once carrier is gone.</summary>
    public IChannelTransport DataChannel => _data ?? throw new InvalidOperationException($"Modem {Name} has not connected yet; DataChannel is valid after a successful DialAsync/AnswerAsync.");

    /// <summary>Opens the transport if closed, sends the reset command (ATZ) and the init string; OK expected to each.</summary>
    public Task<ModemResult> InitializeAsync(CancellationToken cancellationToken) =>
        RunExclusiveAsync("init", InitializeCoreAsync, cancellationToken);

    /// <summary>Health check: "AT" → OK (seed 004 "Modem not responding" otherwise).</summary>
    public Task<ModemResult> CheckAsync(CancellationToken cancellationToken) =>
        RunExclusiveAsync("check", (raw, ct) => SimpleCommandAsync("AT", raw, false, ct), cancellationToken);

    /// <summary>ATI: the information lines are in <see cref="ModemResult.RawReply"/>.</summary>
    public Task<ModemResult> IdentifyAsync(CancellationToken cancellationToken) =>
        RunExclusiveAsync("identify", (raw, ct) => SimpleCommandAsync("ATI", raw, true, ct), cancellationToken);

    /// <summary>
    /// ATD&lt;dialString&gt;. CONNECT → Success and the modem is Online (<see cref="DataChannel"/>). No final result
    /// within <see cref="AtModemOptions.EffectiveDialTimeout"/> → DialTimeout; cancellation → Cancelled. Both abort
    /// the attempt by sending <see cref="AtModemOptions.DialAbortText"/> (V.250 §6.3.1).
    /// </summary>
    public Task<ModemResult> DialAsync(string dialString, CancellationToken cancellationToken)
    {
        ValidateDialString(dialString);
        return RunExclusiveAsync("dial", (raw, ct) => CallAsync("ATD" + dialString, ModemTrigger.Dial, raw, ct), cancellationToken);
    }

    /// <summary>ATA after RING (dial-in): CONNECT → Success and Online.</summary>
    public Task<ModemResult> AnswerAsync(CancellationToken cancellationToken) =>
        RunExclusiveAsync("answer", (raw, ct) => CallAsync("ATA", ModemTrigger.Answer, raw, ct), cancellationToken);

    /// <summary>
    /// Ends a call and returns to command state: DTR drop where the transport has control lines, else guard
    /// time + "+++" + guard time; then ATH → OK. Always ends Ready (OK) or Faulted.
    /// </summary>
    public Task<ModemResult> HangUpAsync(CancellationToken cancellationToken) =>
        RunExclusiveAsync("hang-up", HangUpCoreAsync, cancellationToken);

    /// <summary>Recovery: leave data state if needed (escape), ATH, then reset and init; reopens a failed link.</summary>
    public Task<ModemResult> ResetAsync(CancellationToken cancellationToken) =>
        RunExclusiveAsync("reset", ResetCoreAsync, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _lifetime.CancelAsync();
        if (_pump is { } pump)
        {
            await pump.StopAsync();
        }

        Task[] pending;
        lock (_reconcileSync)
        {
            pending = [.. _reconciles];
        }

        await Task.WhenAll(pending);
        if (_ownsTransport)
        {
            await _transport.DisposeAsync();
        }

        _unsolicited.Writer.TryComplete();
        _lifetime.Dispose();
        _deadline.Dispose();
        _operationLock.Dispose();
        _session.Dispose();
    }

    internal ModemSession Session => _session;

    /// <inheritdoc />
    public async Task ReleaseLinkAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed == 1, this);
        await _operationLock.WaitAsync(cancellationToken);
        try
        {
            if (_pump is { } pump)
            {
                _pump = null;
                await pump.StopAsync();
            }

            if (_transport.IsOpen)
            {
                try
                {
                    await _transport.CloseAsync(cancellationToken);
                }
                catch (TransportFailureException ex)
                {
                    Log.LinkEnded(_logger, Name, ex.Message); // closed either way; the next operation reopens it
                }
            }
        }
        finally
        {
            _operationLock.Release();
        }
    }

    private async Task<ModemResult> RunExclusiveAsync(string operation, Func<List<string>, CancellationToken, Task<(OutcomeCode Code, ModemReply? Final)>> body, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed == 1, this);
        await _operationLock.WaitAsync(cancellationToken);
        try
        {
            var started = _time.GetTimestamp();
            var raw = new List<string>();
            var (code, final) = await body(raw, cancellationToken);
            var result = new ModemResult(code, string.Join('\n', raw), final, _time.GetElapsedTime(started));
            Log.OperationEnded(_logger, Name, operation, code, result.Elapsed, result.RawReply);
            return result;
        }
        finally
        {
            _operationLock.Release();
        }
    }

    private async Task<(OutcomeCode, ModemReply?)> InitializeCoreAsync(List<string> raw, CancellationToken cancellationToken)
    {
        RequireState("initialise", ModemState.Idle, ModemState.Ready, ModemState.Faulted);
        var pump = await EnsureOpenAsync(raw, cancellationToken);
        if (pump is null)
        {
            await _session.TryFireAsync(ModemTrigger.Fault);
            return (OutcomeCode.TransportFailure, null);
        }

        await _session.FireAsync(ModemTrigger.Initialize);
        ModemReply? final = null;
        foreach (var (command, timeout) in InitSequence())
        {
            var exchange = await ExchangeAsync(pump, command, ModemPhase.Command, timeout, collectInformation: false, raw, cancellationToken);
            final = exchange.Final;
            if (exchange.Code != OutcomeCode.Success)
            {
                await _session.FireAsync(ModemTrigger.Fault);
                return (exchange.Code, final);
            }
        }

        await _session.FireAsync(ModemTrigger.Initialized);
        return (OutcomeCode.Success, final);
    }

    private IEnumerable<(string Command, TimeSpan Timeout)> InitSequence()
    {
        if (!string.IsNullOrWhiteSpace(_options.ResetCommand))
        {
            yield return (_options.ResetCommand, _options.ResetTimeout);
        }

        yield return (_options.InitString, _options.CommandTimeout);
    }

    private async Task<(OutcomeCode, ModemReply?)> SimpleCommandAsync(string command, List<string> raw, bool collectInformation, CancellationToken cancellationToken)
    {
        RequireState(command, ModemState.Idle, ModemState.Ready, ModemState.Faulted);
        var pump = await EnsureOpenAsync(raw, cancellationToken);
        if (pump is null)
        {
            await _session.TryFireAsync(ModemTrigger.Fault);
            return (OutcomeCode.TransportFailure, null);
        }

        var exchange = await ExchangeAsync(pump, command, ModemPhase.Command, _options.CommandTimeout, collectInformation, raw, cancellationToken);
        if (exchange.Code.CountedAgainst() == FaultAttribution.Modem)
        {
            // Seed 004: a modem that errors or stays silent is faulted until re-initialised.
            await _session.FireAsync(ModemTrigger.Fault);
        }

        return (exchange.Code, exchange.Final);
    }

    private async Task<(OutcomeCode, ModemReply?)> CallAsync(string command, ModemTrigger trigger, List<string> raw, CancellationToken cancellationToken)
    {
        RequireState(command, ModemState.Ready);
        var pump = await EnsureOpenAsync(raw, cancellationToken);
        if (pump is null)
        {
            await _session.FireAsync(ModemTrigger.Fault);
            return (OutcomeCode.TransportFailure, null);
        }

        await _session.FireAsync(trigger);
        var exchange = await ExchangeAsync(pump, command, ModemPhase.Dial, _options.EffectiveDialTimeout, collectInformation: false, raw, cancellationToken);
        switch (exchange.Ending)
        {
            case Ending.Final when exchange.Code == OutcomeCode.Success:
                _data = pump.DataChannel;
                await _session.FireAsync(ModemTrigger.Connected);
                return (OutcomeCode.Success, exchange.Final);

            case Ending.Final when exchange.Final is { IsFinal: true }:
                // A final result: the modem is back in command state (V.250 §5.7.1). Seed 004 decides whose fault.
                await _session.FireAsync(exchange.Code.CountedAgainst() == FaultAttribution.Modem ? ModemTrigger.Fault : ModemTrigger.CallFailed);
                return (exchange.Code, exchange.Final);

            case Ending.Final:
                // Garbage or unknown text mid-dial: the modem may still be dialling, so abort it first.
                _ = await AbortCallAsync(pump, raw);
                await _session.FireAsync(ModemTrigger.Fault);
                return (exchange.Code, exchange.Final);

            case Ending.LinkEnded:
                await _session.FireAsync(ModemTrigger.Fault);
                return (OutcomeCode.TransportFailure, null);

            default:
                // DialTimeout (no final result within S7 + margin) or Cancelled: abort the attempt either way.
                // Seed 004: an ATD timeout is the outstation's; the modem is faulted only if it stays silent.
                var abort = await AbortCallAsync(pump, raw);
                if (abort != AbortResult.ConnectedAndHungUp)
                {
                    await _session.FireAsync(abort == AbortResult.Silent ? ModemTrigger.Fault : ModemTrigger.CallFailed);
                }

                return (exchange.Ending == Ending.Cancelled ? OutcomeCode.Cancelled : OutcomeCode.DialTimeout, null);
        }
    }

    /// <summary>
    /// V.250 §6.3.1: any character from the DTE aborts a connection attempt; the modem then sends a final
    /// result (usually NO CARRIER). If CONNECT won the race the call is up, so it is hung up again here and
    /// the session ends Ready (or Faulted if the hang-up fails); otherwise the session stays Dialling.
    /// </summary>
    private async Task<AbortResult> AbortCallAsync(AtLinkPump pump, List<string> raw)
    {
        pump.StopExpectingConnect();
        try
        {
            Log.CommandSent(_logger, Name, _abortTextForLog);
            await _transport.WriteAsync(Encoding.ASCII.GetBytes(_options.DialAbortText), CancellationToken.None);
        }
        catch (TransportFailureException ex)
        {
            raw.Add(ex.Message);
            return AbortResult.Silent;
        }

        var drain = await AwaitFinalAsync(pump, ModemPhase.Dial, _options.CommandTimeout, collectInformation: false, raw, CancellationToken.None);
        if (drain.Final is { Kind: ModemReplyKind.Connect })
        {
            if (pump.InDataMode)
            {
                _data = pump.DataChannel;
            }

            await _session.FireAsync(ModemTrigger.Connected);
            _ = await HangUpCoreAsync(raw, CancellationToken.None);
            return AbortResult.ConnectedAndHungUp;
        }

        return drain.Ending == Ending.Final ? AbortResult.Answered : AbortResult.Silent;
    }

    private async Task<(OutcomeCode, ModemReply?)> HangUpCoreAsync(List<string> raw, CancellationToken cancellationToken)
    {
        RequireState("hang up", ModemState.Idle, ModemState.Ready, ModemState.Faulted, ModemState.Online, ModemState.Escaped);
        var pump = await EnsureOpenAsync(raw, cancellationToken);
        if (pump is null)
        {
            await _session.TryFireAsync(ModemTrigger.Fault);
            return (OutcomeCode.TransportFailure, null);
        }

        try
        {
            if (State == ModemState.Online)
            {
                if (_transport.ControlLines is { } lines)
                {
                    await _session.FireAsync(ModemTrigger.HangUp);
                    pump.EnterCommandMode();
                    // V.250 §6.2.9 &D2: an on-to-off DTR transition makes the DCE clear the call.
                    await lines.SetDataTerminalReadyAsync(false, cancellationToken);
                    await Task.Delay(_options.DtrDropTime, _time, cancellationToken);
                    await lines.SetDataTerminalReadyAsync(true, cancellationToken);
                }
                else
                {
                    await _session.FireAsync(ModemTrigger.Escape);
                    await EscapeAsync(pump, raw, cancellationToken);
                    await _session.FireAsync(ModemTrigger.HangUp);
                }
            }
            else
            {
                await _session.FireAsync(ModemTrigger.HangUp);
            }
        }
        catch (TransportFailureException ex)
        {
            raw.Add(ex.Message);
            await _session.FireAsync(ModemTrigger.Fault);
            return (OutcomeCode.TransportFailure, null);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await _session.FireAsync(ModemTrigger.Fault);
            return (OutcomeCode.Cancelled, null);
        }

        var exchange = await ExchangeAsync(pump, "ATH", ModemPhase.Command, _options.CommandTimeout, collectInformation: false, raw, cancellationToken);
        await _session.FireAsync(exchange.Code == OutcomeCode.Success ? ModemTrigger.HungUp : ModemTrigger.Fault);
        return (exchange.Code, exchange.Final);
    }

    /// <summary>
    /// Hayes escape: guard time of silence, "+++", guard time of silence; the modem then answers OK from
    /// online-command state. Returns the reply that ended the wait, or null if the modem said nothing
    /// (it may already be in command state after losing carrier; ATH follows either way).
    /// </summary>
    private async Task<ModemReply?> EscapeAsync(AtLinkPump pump, List<string> raw, CancellationToken cancellationToken)
    {
        await Task.Delay(_options.EscapeGuardTime, _time, cancellationToken);
        pump.EnterCommandMode();
        pump.BeginCommand("+++", expectConnect: false);
        Log.CommandSent(_logger, Name, "+++");
        await _transport.WriteAsync(EscapeSequence, cancellationToken);
        var reply = await AwaitFinalAsync(pump, ModemPhase.Online, _options.EscapeGuardTime + _options.CommandTimeout, collectInformation: false, raw, cancellationToken);
        if (reply.Ending == Ending.Cancelled)
        {
            throw new OperationCanceledException(cancellationToken);
        }

        return reply.Final;
    }

    private async Task<(OutcomeCode, ModemReply?)> ResetCoreAsync(List<string> raw, CancellationToken cancellationToken)
    {
        if (_pump is { Ended: true } || (_pump is not null && !_transport.IsOpen))
        {
            await CloseLinkAsync();
        }

        if (State is ModemState.Online or ModemState.Escaped)
        {
            _ = await HangUpCoreAsync(raw, cancellationToken);
        }
        else if (State == ModemState.Faulted)
        {
            // The modem may be stuck in data state (a dial whose outcome we never saw): escape before ATH.
            // In command state the "+++" is harmless: V.250 §5.2.1 ignores characters before "AT".
            var pump = await EnsureOpenAsync(raw, cancellationToken);
            if (pump is not null)
            {
                try
                {
                    _ = await EscapeAsync(pump, raw, cancellationToken);
                }
                catch (TransportFailureException ex)
                {
                    raw.Add(ex.Message);
                }
            }

            _ = await HangUpCoreAsync(raw, cancellationToken);
        }

        if (State is not (ModemState.Idle or ModemState.Ready or ModemState.Faulted))
        {
            return (OutcomeCode.ModemError, null);
        }

        if (_pump is { Ended: true })
        {
            await CloseLinkAsync();
        }

        return await InitializeCoreAsync(raw, cancellationToken);
    }

    private async Task<Exchange> ExchangeAsync(AtLinkPump pump, string command, ModemPhase phase, TimeSpan timeout, bool collectInformation, List<string> raw, CancellationToken cancellationToken)
    {
        pump.BeginCommand(command, expectConnect: phase == ModemPhase.Dial);
        try
        {
            Log.CommandSent(_logger, Name, command);
            // V.250 §5.2.1: a command line ends with S3 (CR).
            await _transport.WriteAsync(Encoding.ASCII.GetBytes(command + "\r"), cancellationToken);
        }
        catch (TransportFailureException ex)
        {
            raw.Add(ex.Message);
            return new Exchange(Ending.LinkEnded, OutcomeCode.TransportFailure, null);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return new Exchange(Ending.Cancelled, OutcomeCode.Cancelled, null);
        }

        return await AwaitFinalAsync(pump, phase, timeout, collectInformation, raw, cancellationToken);
    }

    private async Task<Exchange> AwaitFinalAsync(AtLinkPump pump, ModemPhase phase, TimeSpan timeout, bool collectInformation, List<string> raw, CancellationToken cancellationToken)
    {
        var until = _deadline.Start(timeout, cancellationToken);
        try
        {
            while (true)
            {
                ModemReply? line = null;
                try
                {
                    if (!until.IsCancellationRequested && pump.TryReadLine(out var queued))
                    {
                        line = queued;
                    }
                    else
                    {
                        // Null (the link ended) unless a line arrives; a passed deadline throws first.
                        while (await pump.WaitToReadLineAsync(until))
                        {
                            if (pump.TryReadLine(out var next))
                            {
                                line = next;
                                break;
                            }
                        }
                    }
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    return new Exchange(Ending.Cancelled, OutcomeCode.Cancelled, null);
                }
                catch (OperationCanceledException)
                {
                    // Seed 004: no reply to a command is "modem not responding"; no final result to ATD is an ATD timeout.
                    return new Exchange(Ending.Timeout, phase == ModemPhase.Dial ? OutcomeCode.DialTimeout : OutcomeCode.ModemNotResponding, null);
                }

                if (line is not { } reply)
                {
                    if (pump.Fault is { } fault)
                    {
                        raw.Add(fault.Message);
                    }
                    else
                    {
                        raw.Add($"{_transport.Endpoint}: link closed");
                    }

                    return new Exchange(Ending.LinkEnded, OutcomeCode.TransportFailure, null);
                }

                raw.Add(reply.Text);
                if (collectInformation && reply.Kind == ModemReplyKind.Unknown)
                {
                    // V.250 §5.7.2: ATI and query commands answer with free-form information text before OK.
                    continue;
                }

                if (ModemReplyClassifier.TryGetOutcome(reply, phase) is { } code)
                {
                    return new Exchange(Ending.Final, code, reply);
                }
            }
        }
        finally
        {
            _deadline.Stop();
        }
    }

    private async Task<AtLinkPump?> EnsureOpenAsync(List<string> raw, CancellationToken cancellationToken)
    {
        if (_pump is { Ended: false } running && _transport.IsOpen)
        {
            return running;
        }

        await CloseLinkAsync();
        try
        {
            if (!_transport.IsOpen)
            {
                await _transport.OpenAsync(cancellationToken);
            }
        }
        catch (TransportFailureException ex)
        {
            raw.Add(ex.Message);
            return null;
        }

        var pump = new AtLinkPump(_transport, _options, _time, _unsolicited.Writer, OnLinkEvent, OnLine, _lifetime.Token);
        _pump = pump;
        pump.Start();
        return pump;
    }

    private async Task CloseLinkAsync()
    {
        if (_pump is not { } old)
        {
            return;
        }

        _pump = null;
        await old.StopAsync();
        if (old.Ended)
        {
            // The link failed or the peer closed it (TCP FIN, port gone): reopen from scratch.
            try
            {
                await _transport.CloseAsync(CancellationToken.None);
            }
            catch (TransportFailureException ex)
            {
                Log.LinkEnded(_logger, Name, ex.Message);
            }
        }
    }

    private void OnLine(ModemReply reply)
    {
        Log.LineReceived(_logger, Name, reply.Kind, reply.Text);
        if (reply.IsUnsolicited)
        {
            Log.Unsolicited(_logger, Name, reply.Text);
        }
    }

    /// <summary>
    /// Link events arrive on the reader loop. They are applied under the operation lock so they never race an
    /// operation's own transitions; an operation that saw the event itself has already moved the state.
    /// </summary>
    private void OnLinkEvent(AtLinkPump pump, LinkEvent linkEvent)
    {
        if (linkEvent == LinkEvent.CarrierLost)
        {
            Log.CarrierLost(_logger, Name);
        }
        else
        {
            Log.LinkEnded(_logger, Name, pump.Fault?.Message ?? "closed by peer");
        }

        lock (_reconcileSync)
        {
            _reconciles.RemoveAll(t => t.IsCompleted);
            _reconciles.Add(ReconcileAsync(pump));
        }
    }

    private async Task ReconcileAsync(AtLinkPump pump)
    {
        try
        {
            await _operationLock.WaitAsync(_lifetime.Token);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        catch (ObjectDisposedException)
        {
            return;
        }

        try
        {
            if (!ReferenceEquals(pump, _pump))
            {
                return;
            }

            if (pump.Ended)
            {
                await _session.TryFireAsync(ModemTrigger.Fault);
            }
            else if (State == ModemState.Online && !pump.InDataMode)
            {
                await _session.TryFireAsync(ModemTrigger.CarrierLost);
            }
        }
        finally
        {
            _operationLock.Release();
        }
    }

    private void RequireState(string operation, params ModemState[] allowed)
    {
        if (Array.IndexOf(allowed, State) < 0)
        {
            throw new InvalidOperationException($"Modem {Name} cannot {operation} in state {State}; allowed in {string.Join(", ", allowed)}.");
        }
    }

    /// <summary>V.250 §6.3.1 dial string characters (digits, * # + A–D, modifiers P T W , ! @ and spaces). ';' (voice) is refused.</summary>
    /// <summary>
    /// The number is concatenated into the ATD command line, so anything but a dial character could inject
    /// AT commands (issue 10 item 3). One rule for config, API and here: <see cref="DialString.Validate"/>.
    /// An invalid number reaching the modem is a caller bug or unvalidated config, not something a peer sent,
    /// so it throws (style.md "Exceptions are for bugs, misconfiguration") before any byte is written.
    /// </summary>
    private static void ValidateDialString(string dialString)
    {
        if (DialString.Validate(dialString) is { } why)
        {
            throw new ArgumentException($"Number '{ModemReplyClassifier.Escape(dialString ?? string.Empty)}' {why}.", nameof(dialString));
        }
    }

    private enum Ending
    {
        Final,
        Timeout,
        LinkEnded,
        Cancelled,
    }

    private enum AbortResult
    {
        Answered,
        Silent,
        ConnectedAndHungUp,
    }

    private readonly record struct Exchange(Ending Ending, OutcomeCode Code, ModemReply? Final);
}
