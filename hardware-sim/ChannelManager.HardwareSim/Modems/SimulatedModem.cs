using System.Buffers;
using System.Globalization;
using System.Text;
using ChannelManager.Core.Transport;
using ChannelManager.HardwareSim.Exchange;

namespace ChannelManager.HardwareSim.Modems;

/// <summary>Where a simulated modem is (V.250 §5.1: command state, online data state, online command state).</summary>
public enum ModemState
{
    Command,
    Dialling,
    Online,
    OnlineCommand,
}

/// <summary>
/// The modem (DCE) side of a V.250 AT modem: parses the command lines a host (DTE) sends on its
/// port and answers like a real modem, dials through a <see cref="PstnExchange"/>, bridges data
/// mode to the callee, detects the "+++" escape by guard time, and injects faults from its
/// <see cref="ModemBehaviour"/>. Everything happens on one event loop (host bytes, callee bytes,
/// timers, run-time injections), so the modem's state needs no locks; all delays run on the
/// injected <see cref="TimeProvider"/>.
/// </summary>
public sealed class SimulatedModem
{
    /// <summary>What <see cref="ModemFault.Garbage"/> sends instead of a reply: noise no AT parser can take for a result code.</summary>
    private static readonly byte[] Noise = [0x00, 0xFF, 0x8E, 0x1B, 0x7F, 0xC3, 0x15, 0xAA, 0xFE, 0x80, 0x0D, 0xF0];

    private readonly ModemBehaviour _behaviour;
    private readonly PstnExchange _exchange;
    private readonly TimeProvider _time;
    // The event loop's queue. Not a Channel: SingleReaderInbox wakes the loop through the thread pool's local queue
    // without allocating (issue 9: the scale bench runs ~10 events per simulated Modbus request).
    private readonly SingleReaderInbox<ModemEvent> _events = new();
    private readonly List<byte> _out = [];
    private readonly List<byte> _toCallee = [];
    private readonly StringBuilder _line = new();
    private readonly int[] _s = new int[256];
    private readonly Dictionary<string, int> _dialsTo = new(StringComparer.Ordinal);
    private readonly List<string> _commandLog = [];
    private readonly Lock _logGate = new();
    private readonly int[] _timerGenerations = new int[Enum.GetValues<TimerKind>().Length];

    private Profile _stored;
    private bool _echo;
    private bool _verbose;
    private bool _quiet;
    private int _level;
    private int _dtr;
    private CallerIdFormat _callerId;
    private LinePhase _phase;
    private string? _lastLine;
    private volatile ModemState _state;
    private CallAttempt? _attempt;
    private ActiveCall? _call;
    private int _callId;
    private string? _lastDialled;
    private string? _dialNumber;
    private bool _awaitingDialTone;
    private bool _modemSilentOnTimeout;
    private DateTimeOffset _dialDeadline;
    private EscapeDetector? _escape;
    private IncomingCall? _incoming;
    private int _ringCount;
    private IChannelTransport? _port;
    private CancellationToken _runToken;
    private long _hostBytesProcessed;
    private int _handling;
    private int _pending;
    private volatile bool _stopped;
    private TaskCompletionSource _progress = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Func<long>? _hostBytesWritten;
    private int _progressWatchers;
    private readonly Lock _turnGate = new();
    private bool _turnHeld;
    private bool _turnClosing;
    private TaskCompletionSource? _turnWaiter;

    public SimulatedModem(ModemBehaviour behaviour, PstnExchange exchange, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(behaviour);
        ArgumentNullException.ThrowIfNull(exchange);
        ArgumentNullException.ThrowIfNull(time);
        _behaviour = behaviour;
        _exchange = exchange;
        _time = time;
        _stored = Profile.From(behaviour);
        Apply(_stored);
    }

    private enum LinePhase
    {
        Idle,
        GotA,
        InLine,
    }

    private enum TimerKind
    {
        Dial,
        Escape,
        RingExpiry,
    }

    public string Name => _behaviour.Name;

    public ModemBehaviour Behaviour => _behaviour;

    /// <summary>The injected fault (shortcut for <see cref="ModemBehaviour.Fault"/>), changeable at run time.</summary>
    public ModemFault Fault
    {
        get => _behaviour.Fault;
        set => _behaviour.Fault = value;
    }

    public ModemState State => _state;

    /// <summary>Every command line the host sent, as received ("AT" + body), oldest first.</summary>
    public IReadOnlyList<string> CommandLog
    {
        get
        {
            lock (_logGate)
            {
                return _commandLog.ToArray();
            }
        }
    }

    /// <summary>Host bytes the event loop has fully handled.</summary>
    public long HostBytesProcessed => Interlocked.Read(ref _hostBytesProcessed);

    /// <summary>The loop's task once <see cref="RunAsync"/> has started (in-process banks).</summary>
    public Task? Completion { get; internal set; }

    /// <summary>
    /// Runs the modem on its port until the port closes or <paramref name="ct"/> is cancelled.
    /// Returns normally in both cases (an active call is hung up first).
    /// </summary>
    public async Task RunAsync(IChannelTransport port, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(port);
        if (Interlocked.CompareExchange(ref _port, port, null) is not null)
        {
            throw new InvalidOperationException($"Modem {Name} is already running.");
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        _runToken = stop.Token;
        var pump = PumpHostAsync(port, stop.Token);
        try
        {
            // Drains what is queued before looking at the token again, as the channel's ReadAllAsync did. Events are
            // dequeued and handled only while holding the turn, which a pump may hold to handle its bytes inline.
            var running = true;
            while (running && await _events.WaitToReadAsync(stop.Token))
            {
                await TakeTurnAsync();
                try
                {
                    while (running && _events.TryRead(out var ev))
                    {
                        Interlocked.Exchange(ref _handling, 1);
                        try
                        {
                            running = await HandleAsync(ev);
                        }
                        finally
                        {
                            Interlocked.Decrement(ref _pending);
                            Interlocked.Exchange(ref _handling, 0);
                            SignalProgress();
                        }
                    }
                }
                finally
                {
                    ReleaseTurn();
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Switched off.
        }
        catch (TransportFailureException)
        {
            // The host's port went away: a modem with no DTE just sits there.
        }
        finally
        {
            // No pump may handle anything inline from now on; wait for one that is doing so.
            await TakeTurnAsync(closing: true);
            EndCall(CallResult.Aborted);
            await stop.CancelAsync();
            await pump;
            _stopped = true;
            SignalProgress();
        }
    }

    /// <summary>Injects a carrier loss now (the line drops): an active call ends with NO CARRIER.</summary>
    public void DropCarrier() => Post(new DropRequested());

    /// <summary>
    /// Injects one ring of an incoming call. The caller (run when the modem answers, by ATA or S0
    /// auto-answer) is <paramref name="caller"/>, or an echo program if none is given.
    /// </summary>
    public void Ring(string? callerId = null, Func<IChannelTransport, CancellationToken, Task>? caller = null) =>
        Post(new RingRequested(callerId, caller ?? EchoCallee.ServeAsync));

    /// <summary>Forgets the per-number dial counts behind <see cref="ModemBehaviour.BlacklistAfter"/> (the modem was power-cycled).</summary>
    public void ClearBlacklist() => Post(new ClearBlacklistRequested());

    /// <summary>
    /// Completes when the modem has handled every host byte written so far (when started by
    /// <see cref="SimulatedModemBank"/>, which counts them) and has no event pending. A test with a
    /// FakeTimeProvider awaits this before Advance, so the timers the input started exist.
    /// Completes at once when the modem has stopped.
    /// </summary>
    public async Task WhenIdleAsync(CancellationToken ct)
    {
        // Counted (a full fence) before the state is looked at, so an event handled meanwhile either is seen here or
        // sees the watcher and signals (SignalProgress skips the signal when nobody watches).
        Interlocked.Increment(ref _progressWatchers);
        try
        {
            while (true)
            {
                var progress = Volatile.Read(ref _progress);
                var written = _hostBytesWritten?.Invoke() ?? 0;
                if (_stopped || (HostBytesProcessed >= written && Volatile.Read(ref _pending) == 0 && Volatile.Read(ref _handling) == 0))
                {
                    return;
                }

                await progress.Task.WaitAsync(ct);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _progressWatchers);
        }
    }

    internal void CountHostBytesWith(Func<long> hostBytesWritten) => _hostBytesWritten = hostBytesWritten;

    private void Post(ModemEvent ev)
    {
        Interlocked.Increment(ref _pending);
        if (!_events.TryWrite(ev))
        {
            Interlocked.Decrement(ref _pending);
        }
    }

    private void SignalProgress()
    {
        // A new signal per event only when someone waits in WhenIdleAsync (tests); the scale bench never does, and
        // this runs for every event.
        if (Volatile.Read(ref _progressWatchers) == 0)
        {
            return;
        }

        var next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Interlocked.Exchange(ref _progress, next).TrySetResult();
    }

    /// <summary>
    /// Hands bytes a pump read to the modem. When nothing is queued and nobody is handling an event, the pump handles
    /// them itself, on its own stack, instead of waking the event loop: one thread-pool hand-off fewer per chunk
    /// (issue 9; two per simulated Modbus request). Order is kept: the loop dequeues only while holding the turn, and
    /// the pump takes the inline path only when the queue is empty under the turn, so every earlier event has been
    /// handled. Otherwise the event is queued as before.
    /// </summary>
    private async ValueTask DeliverAsync(ModemEvent ev)
    {
        if (!TryTakeTurnInline())
        {
            Post(ev);
            return;
        }

        var endLoop = false;
        Interlocked.Exchange(ref _handling, 1);
        try
        {
            endLoop = !await HandleAsync(ev);
        }
        catch (TransportFailureException)
        {
            // The host's port failed while we wrote to it: as in the loop, the modem stops (via the loop).
            endLoop = true;
        }
        finally
        {
            Interlocked.Exchange(ref _handling, 0);
            ReleaseTurn();
            SignalProgress();
        }

        if (endLoop)
        {
            Post(new HostClosed());
        }
    }

    /// <summary>Takes the turn for an inline delivery: only if it is free, the loop is not closing, and nothing is queued.</summary>
    private bool TryTakeTurnInline()
    {
        lock (_turnGate)
        {
            if (_turnHeld || _turnClosing || _events.Count > 0)
            {
                return false;
            }

            _turnHeld = true;
            return true;
        }
    }

    /// <summary>Takes the turn for the event loop (waiting for a pump that holds it); <paramref name="closing"/> keeps pumps out for good.</summary>
    private ValueTask TakeTurnAsync(bool closing = false)
    {
        TaskCompletionSource waiter;
        lock (_turnGate)
        {
            _turnClosing |= closing;
            if (!_turnHeld)
            {
                _turnHeld = true;
                return ValueTask.CompletedTask;
            }

            waiter = _turnWaiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        return new ValueTask(waiter.Task);
    }

    /// <summary>Gives the turn up, straight to the loop if it is waiting for it.</summary>
    private void ReleaseTurn()
    {
        TaskCompletionSource? waiter;
        lock (_turnGate)
        {
            waiter = _turnWaiter;
            _turnWaiter = null;
            _turnHeld = waiter is not null;   // handed over: the loop resumes holding it
        }

        waiter?.TrySetResult();
    }

    private async Task PumpHostAsync(IChannelTransport port, CancellationToken ct)
    {
        await Task.Yield();
        var buffer = new byte[1024];
        try
        {
            while (true)
            {
                var n = await port.ReadAsync(buffer, ct);
                if (n == 0)
                {
                    break;
                }

                await DeliverAsync(new HostData(buffer.AsSpan(0, n).ToArray(), _time.GetUtcNow()));
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return;
        }
        catch (TransportFailureException)
        {
            // Port gone: same as closed.
        }

        Post(new HostClosed());
    }

    private async Task PumpCalleeAsync(IChannelTransport link, int callId, CancellationToken ct)
    {
        await Task.Yield();
        // Pooled: one pump per call, and the scale bench makes ~100 000 calls (issue 9: 4 KB of garbage each).
        var buffer = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            while (true)
            {
                var n = await link.ReadAsync(buffer, ct);
                if (n == 0)
                {
                    break;
                }

                await DeliverAsync(new CalleeData(callId, buffer.AsSpan(0, n).ToArray()));
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return;
        }
        catch (TransportFailureException)
        {
            // The line broke: carrier lost.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        Post(new CalleeClosed(callId));
    }

    /// <summary>Handles one event; false ends the loop (host port closed).</summary>
    private async Task<bool> HandleAsync(ModemEvent ev)
    {
        switch (ev)
        {
            case HostData data:
                OnHostData(data);
                await FlushAsync();
                Interlocked.Add(ref _hostBytesProcessed, data.Bytes.Length);
                await ForwardToCalleeAsync();
                return true;
            case HostClosed:
                return false;
            case CalleeData data when data.CallId == _callId && _state == ModemState.Online:
                _out.AddRange(data.Bytes);
                break;
            case CalleeClosed closed when closed.CallId == _callId && _call is not null:
                LoseCarrier();
                break;
            case TimerFired timer when timer.Generation == _timerGenerations[(int)timer.Kind]:
                OnTimer(timer.Kind);
                break;
            case DropRequested when _call is not null:
                LoseCarrier();
                break;
            case RingRequested ring:
                OnRing(ring);
                break;
            case ClearBlacklistRequested:
                _dialsTo.Clear();
                break;
            default:
                // Stale callee bytes or timers from a call that has ended, or bytes while in online
                // command state (the call stays up, the data is not buffered).
                break;
        }

        await FlushAsync();
        return true;
    }

    private async Task FlushAsync()
    {
        if (_out.Count == 0 || _port is not { } port)
        {
            return;
        }

        var bytes = _out.ToArray();
        _out.Clear();
        await port.WriteAsync(bytes, _runToken);
    }

    private async Task ForwardToCalleeAsync()
    {
        if (_toCallee.Count == 0)
        {
            return;
        }

        var bytes = _toCallee.ToArray();
        _toCallee.Clear();
        if (_call is { } call)
        {
            try
            {
                await call.Link.WriteAsync(bytes, _runToken);
            }
            catch (TransportFailureException)
            {
                LoseCarrier();
                await FlushAsync();
            }
        }
    }

    private void OnHostData(HostData data)
    {
        var bytes = data.Bytes.AsSpan();
        for (var i = 0; i < bytes.Length; i++)
        {
            switch (_state)
            {
                case ModemState.Command:
                case ModemState.OnlineCommand:
                    OnCommandChar(bytes[i]);
                    break;
                case ModemState.Dialling:
                    // V.250 §6.3.1: any character from the DTE while dialling aborts the call
                    // attempt. A line feed is excepted because many hosts end "ATD…" with CR LF and
                    // would otherwise abort their own dial.
                    if (bytes[i] != (byte)'\n')
                    {
                        AbortDial();
                    }

                    break;
                case ModemState.Online:
                    // Data: the rest of this chunk goes through the escape detector.
                    var escape = _escape!; // set whenever the state is Online (GoOnline)
                    escape.Feed(bytes[i..], data.At, _toCallee);
                    if (escape.Armed)
                    {
                        StartTimer(TimerKind.Escape, escape.Guard);
                    }

                    return;
            }
        }
    }

    private void OnCommandChar(byte b)
    {
        var fault = Fault;
        if (fault == ModemFault.Hung)
        {
            return;
        }

        if (_echo && fault != ModemFault.Garbage)
        {
            _out.Add(b);
        }

        var c = (char)b;
        switch (_phase)
        {
            case LinePhase.Idle:
                if (c is 'A' or 'a')
                {
                    _phase = LinePhase.GotA;
                }

                break;
            case LinePhase.GotA:
                if (c is 'T' or 't')
                {
                    _line.Clear();
                    _phase = LinePhase.InLine;
                }
                else if (c == '/')
                {
                    // V.250 §5.2.4: "A/" repeats the last command line at once, without S3.
                    _phase = LinePhase.Idle;
                    if (_lastLine is { } last)
                    {
                        ExecuteLine(last);
                    }
                }
                else if (c is not ('A' or 'a'))
                {
                    _phase = LinePhase.Idle;
                }

                break;
            case LinePhase.InLine:
                if (b == _s[3])
                {
                    _phase = LinePhase.Idle;
                    _lastLine = _line.ToString();
                    ExecuteLine(_lastLine);
                }
                else if (b == _s[5])
                {
                    // V.250 §5.2.1: S5 deletes the previous character.
                    if (_line.Length > 0)
                    {
                        _line.Length--;
                    }
                }
                else if (b >= 0x20 && b < 0x7F && _line.Length < 256)
                {
                    _line.Append(c);
                }

                break;
        }
    }

    private void ExecuteLine(string body)
    {
        lock (_logGate)
        {
            _commandLog.Add("AT" + body);
        }

        var fault = Fault;
        if (fault == ModemFault.Garbage)
        {
            _out.AddRange(Noise);
            return;
        }

        if (fault == ModemFault.ErrorToEverything || (fault == ModemFault.InitError && body.Contains('&', StringComparison.Ordinal)))
        {
            Result(ResultCode.Error);
            return;
        }

        if (Interpret(body) is { } result)
        {
            Result(result);
        }
    }

    /// <summary>Executes the commands of one line (V.250 §5.3); returns the final result, or null when it comes later (dialling).</summary>
    private ResultCode? Interpret(string body)
    {
        // V.250 §5.2.1: spaces are ignored and case does not matter outside quoted strings.
        var s = body.Replace(" ", string.Empty, StringComparison.Ordinal).ToUpperInvariant();
        var i = 0;
        while (i < s.Length)
        {
            var c = s[i++];
            switch (c)
            {
                case ';':
                    continue;
                case 'D':
                    return Dial(s[i..]);
                case 'A':
                    return Answer();
                case 'E':
                    if (!Flag(s, ref i, out _echo))
                    {
                        return ResultCode.Error;
                    }

                    break;
                case 'V':
                    if (!Flag(s, ref i, out _verbose))
                    {
                        return ResultCode.Error;
                    }

                    break;
                case 'Q':
                    if (!Flag(s, ref i, out _quiet))
                    {
                        return ResultCode.Error;
                    }

                    break;
                case 'X':
                    var x = Number(s, ref i) ?? 0;
                    if (x > 4)
                    {
                        return ResultCode.Error;
                    }

                    _level = x;
                    break;
                case 'H':
                    if ((Number(s, ref i) ?? 0) != 0)
                    {
                        return ResultCode.Error;
                    }

                    EndCall(CallResult.Aborted);
                    _state = ModemState.Command;
                    break;
                case 'Z':
                    // V.250 §6.1.1: reset to the stored profile; the rest of the line is ignored.
                    EndCall(CallResult.Aborted);
                    _state = ModemState.Command;
                    Apply(_stored);
                    return ResultCode.Ok;
                case 'O':
                    _ = Number(s, ref i);
                    if (_call is null)
                    {
                        return ResultCode.NoCarrier;
                    }

                    GoOnline();
                    return ResultCode.Connect;
                case 'I':
                    var n = Number(s, ref i) ?? 0;
                    if (n >= _behaviour.Identification.Count)
                    {
                        return ResultCode.Error;
                    }

                    Info(_behaviour.Identification[n]);
                    break;
                case 'S':
                    if (!SRegister(s, ref i))
                    {
                        return ResultCode.Error;
                    }

                    break;
                case '&':
                    if (!Ampersand(s, ref i))
                    {
                        return ResultCode.Error;
                    }

                    break;
                case '+' or '#':
                    if (!Extended(c, s, ref i))
                    {
                        return ResultCode.Error;
                    }

                    break;
                case '\\' or '%':
                    // Vendor commands common in init strings (\N3, %C0): accepted, no effect.
                    if (i >= s.Length || !char.IsAsciiLetter(s[i]))
                    {
                        return ResultCode.Error;
                    }

                    i++;
                    _ = Number(s, ref i);
                    break;
                case 'L' or 'M' or 'B' or 'P' or 'T' or 'N' or 'W' or 'C' or 'Y':
                    // Speaker, modulation, pulse/tone defaults: accepted, no effect on a simulation.
                    _ = Number(s, ref i);
                    break;
                default:
                    return ResultCode.Error;
            }
        }

        return ResultCode.Ok;
    }

    private static int? Number(string s, ref int i)
    {
        var start = i;
        while (i < s.Length && char.IsAsciiDigit(s[i]) && i - start < 4)
        {
            i++;
        }

        return i == start ? null : int.Parse(s.AsSpan(start, i - start), CultureInfo.InvariantCulture);
    }

    private static bool Flag(string s, ref int i, out bool value)
    {
        var n = Number(s, ref i) ?? 0;
        value = n == 1;
        return n <= 1;
    }

    private bool SRegister(string s, ref int i)
    {
        if (Number(s, ref i) is not { } reg || reg > 255)
        {
            return false;
        }

        if (i < s.Length && s[i] == '?')
        {
            i++;
            // V.250 §5.3.2: a register value is read back as three decimal digits.
            Info(_s[reg].ToString("D3", CultureInfo.InvariantCulture));
            return true;
        }

        if (i < s.Length && s[i] == '=')
        {
            i++;
            var value = Number(s, ref i) ?? 0;
            if (value > 255 || (reg is 3 or 4 or 5 && value > 127))
            {
                return false;
            }

            _s[reg] = value;
            return true;
        }

        return false;
    }

    private bool Ampersand(string s, ref int i)
    {
        if (i >= s.Length)
        {
            return false;
        }

        var letter = s[i++];
        var n = Number(s, ref i) ?? 0;
        switch (letter)
        {
            case 'F':
                // V.250 §6.1.2: factory defaults (the profile a fresh behaviour table has).
                Apply(Profile.From(new ModemBehaviour { Name = Name }));
                return true;
            case 'W':
                _stored = Capture();
                return true;
            case 'D':
                if (n > 2)
                {
                    return false;
                }

                _dtr = n;
                return true;
            case 'V':
                Info(string.Create(CultureInfo.InvariantCulture, $"E{(_echo ? 1 : 0)} Q{(_quiet ? 1 : 0)} V{(_verbose ? 1 : 0)} X{_level} &D{_dtr} S0:{_s[0]:D3} S7:{_s[7]:D3} S12:{_s[12]:D3}"));
                return true;
            case 'C' or 'K' or 'S' or 'Y' or 'Q' or 'B' or 'G' or 'J' or 'M' or 'P' or 'R' or 'T' or 'X' or 'E' or 'A' or 'N' or 'U':
                return true;
            default:
                return false;
        }
    }

    private bool Extended(char prefix, string s, ref int i)
    {
        var start = i;
        while (i < s.Length && char.IsAsciiLetterOrDigit(s[i]))
        {
            i++;
        }

        var name = prefix + s[start..i];
        string? value = null;
        var query = false;
        if (i < s.Length && s[i] == '?')
        {
            query = true;
            i++;
        }
        else if (i < s.Length && s[i] == '=')
        {
            var end = s.IndexOf(';', i);
            end = end < 0 ? s.Length : end;
            value = s[(i + 1)..end];
            i = end;
        }

        switch (name)
        {
            case "+CLIP" or "+VCID" or "#CID":
                if (query)
                {
                    Info($"{name}: {(_callerId == CallerIdFormat.None ? 0 : 1)}");
                    return true;
                }

                if (value is not ("0" or "1"))
                {
                    return false;
                }

                _callerId = value == "0" ? CallerIdFormat.None : name == "+CLIP" ? CallerIdFormat.Clip : CallerIdFormat.Nmbr;
                return true;
            case "+GCAP":
                Info("+GCAP: +FCLASS");
                return true;
            case "+GMI":
                Info("ChannelManager");
                return true;
            case "+GMM":
                Info(_behaviour.Identification.ElementAtOrDefault(1) ?? "simulated modem");
                return true;
            case "+FCLASS":
                // Data mode only.
                return query ? Info("0") : value is null or "0";
            default:
                return false;
        }
    }

    private ResultCode? Dial(string dialString)
    {
        if (_call is not null)
        {
            // Already in a call (online command state): a real modem refuses to dial.
            return ResultCode.Error;
        }

        var raw = dialString.Trim();
        if (raw == "L" && _lastDialled is not null)
        {
            raw = _lastDialled;
        }

        // V.250 §6.3.1: a trailing ';' dials and returns to command state (a voice call): no data call is set up.
        if (raw.EndsWith(';'))
        {
            return PstnExchange.NormaliseNumber(raw).Length == 0 ? ResultCode.Error : ResultCode.Ok;
        }

        var number = PstnExchange.NormaliseNumber(raw);
        if (number.Length == 0)
        {
            return ResultCode.Error;
        }

        _lastDialled = raw;
        var fault = Fault;
        if (fault == ModemFault.Delayed)
        {
            _exchange.RecordRefused(Name, number, CallResult.Delayed);
            return ResultCode.Delayed;
        }

        if (_behaviour.BlacklistAfter is { } limit && _dialsTo.GetValueOrDefault(number) >= limit)
        {
            _exchange.RecordRefused(Name, number, CallResult.Blacklisted);
            return ResultCode.Blacklisted;
        }

        _state = ModemState.Dialling;
        _dialNumber = number;
        if (fault == ModemFault.NoDialTone)
        {
            // Waits S6 seconds for the dial tone that never comes.
            _awaitingDialTone = true;
            StartTimer(TimerKind.Dial, TimeSpan.FromSeconds(_s[6]));
            return null;
        }

        _dialsTo[number] = _dialsTo.GetValueOrDefault(number) + 1;
        _attempt = _exchange.BeginCall(Name, number);

        // V.250 §6.3.1.1.6: each ',' pauses S8 seconds before the rest is dialled.
        var pause = TimeSpan.FromSeconds(_s[8] * raw.Count(ch => ch == ','));
        _dialDeadline = _time.GetUtcNow() + pause + TimeSpan.FromSeconds(_s[7]);
        var due = _attempt.Behaviour switch
        {
            LineBehaviour.Answer a => a.Delay,
            LineBehaviour.Busy b => b.After,
            LineBehaviour.NoAnswer n => n.After,
            LineBehaviour.NoCarrier n => n.After,
            _ => (TimeSpan?)null,
        };
        _modemSilentOnTimeout = _attempt.Behaviour is LineBehaviour.Silent { ModemStaysSilent: true };
        var s7 = pause + TimeSpan.FromSeconds(_s[7]);
        if (due is { } d && pause + d < s7)
        {
            StartTimer(TimerKind.Dial, pause + d);
        }
        else if (!_modemSilentOnTimeout)
        {
            // S7: the modem stops waiting for carrier and reports NO CARRIER.
            StartTimer(TimerKind.Dial, s7);
        }

        return null;
    }

    private void OnTimer(TimerKind kind)
    {
        switch (kind)
        {
            case TimerKind.Dial when _state == ModemState.Dialling:
                DialTimerFired();
                break;
            case TimerKind.Escape when _state == ModemState.Online && _escape is { Armed: true } escape:
                var now = _time.GetUtcNow();
                if (!escape.CompleteAt(now))
                {
                    // A timer can fire a little before the wall clock shows the guard time passed
                    // (timer ticks and GetUtcNow are different clocks): wait out the remainder
                    // rather than silently dropping a valid escape.
                    StartTimer(TimerKind.Escape, escape.Guard - (now - escape.LastByteAt));
                    break;
                }

                // Escape complete: online command state, the call stays up (V.250 §5.1).
                _state = ModemState.OnlineCommand;
                _phase = LinePhase.Idle;
                Result(ResultCode.Ok);
                break;
            case TimerKind.RingExpiry:
                // No ring for a while: the caller gave up.
                _incoming = null;
                _ringCount = 0;
                _s[1] = 0;
                break;
            default:
                break;
        }
    }

    private void DialTimerFired()
    {
        if (_awaitingDialTone)
        {
            _awaitingDialTone = false;
            _state = ModemState.Command;
            _exchange.RecordRefused(Name, _dialNumber ?? string.Empty, CallResult.NoDialTone);
            Result(ResultCode.NoDialTone);
            return;
        }

        if (_attempt is not { } attempt)
        {
            return;
        }

        if (_time.GetUtcNow() >= _dialDeadline)
        {
            _attempt = null;
            attempt.Fail(CallResult.TimedOut);
            _state = ModemState.Command;
            Result(ResultCode.NoCarrier);
            return;
        }

        switch (attempt.Behaviour)
        {
            case LineBehaviour.Answer answer:
                var link = attempt.Connect(answer.Serve);
                StartCall(new ActiveCall(link, attempt.HangUp), attempt);
                break;
            case LineBehaviour.Busy:
                FailDial(attempt, CallResult.Busy, ResultCode.Busy);
                break;
            case LineBehaviour.NoAnswer:
                FailDial(attempt, CallResult.NoAnswer, ResultCode.NoAnswer);
                break;
            default:
                FailDial(attempt, attempt.Unobtainable ? CallResult.Unobtainable : CallResult.NoCarrier, ResultCode.NoCarrier);
                break;
        }
    }

    private void FailDial(CallAttempt attempt, CallResult result, ResultCode code)
    {
        _attempt = null;
        attempt.Fail(result);
        _state = ModemState.Command;
        Result(code);
    }

    private void StartCall(ActiveCall call, CallAttempt? attempt)
    {
        _attempt = attempt;
        _call = call;
        _callId++;
        _ = PumpCalleeAsync(call.Link, _callId, _runToken);
        GoOnline();
        if (_behaviour.IntermediateResults && _verbose && !_quiet && _level > 0)
        {
            // V.250 §6.4 / V.42: carrier, error-control and compression reports precede CONNECT.
            Info(string.Create(CultureInfo.InvariantCulture, $"CARRIER {_behaviour.ConnectSpeed}"));
            Info("PROTOCOL: LAPM");
            Info("COMPRESSION: V42BIS");
        }

        Result(ResultCode.Connect);
    }

    private void GoOnline()
    {
        _state = ModemState.Online;
        // S2 > 127 disables the escape; S12 is in fiftieths of a second.
        _escape = new EscapeDetector((byte)Math.Min(_s[2], 255), TimeSpan.FromMilliseconds(_s[12] * 20), _s[2] <= 127, _time.GetUtcNow());
    }

    private void AbortDial()
    {
        _timerGenerations[(int)TimerKind.Dial]++;
        _awaitingDialTone = false;
        if (_attempt is { } attempt)
        {
            _attempt = null;
            attempt.Fail(CallResult.Aborted);
        }

        _state = ModemState.Command;
        _phase = LinePhase.Idle;
        Result(ResultCode.NoCarrier);
    }

    private void LoseCarrier()
    {
        EndCall(CallResult.Connected);
        _state = ModemState.Command;
        _phase = LinePhase.Idle;
        Result(ResultCode.NoCarrier);
    }

    /// <summary>Puts the phone down: ends a connected call or abandons a dial in progress.</summary>
    private void EndCall(CallResult abandonedAs)
    {
        _timerGenerations[(int)TimerKind.Dial]++;
        _timerGenerations[(int)TimerKind.Escape]++;
        _awaitingDialTone = false;
        if (_call is { } call)
        {
            _call = null;
            call.HangUp();
        }
        else if (_attempt is { } attempt)
        {
            attempt.Fail(abandonedAs);
        }

        _attempt = null;
        _escape = null;
        _callId++;
    }

    private ResultCode Answer()
    {
        if (_incoming is not { } incoming || _call is not null)
        {
            return ResultCode.NoCarrier;
        }

        AnswerIncoming(incoming);
        return ResultCode.Connect;
    }

    private void AnswerIncoming(IncomingCall incoming)
    {
        _incoming = null;
        _ringCount = 0;
        _s[1] = 0;
        _timerGenerations[(int)TimerKind.RingExpiry]++;
        var (modemEnd, callerEnd) = InMemoryTransport.CreatePair($"pstn:{Name}", "pstn:caller");
        var stop = new CancellationTokenSource();
        _ = Task.Run(
            async () =>
            {
                try
                {
                    await incoming.Caller(callerEnd, stop.Token);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                }
                finally
                {
                    callerEnd.HangUpLink();
                    stop.Dispose();
                }
            },
            CancellationToken.None);
        _call = new ActiveCall(
            modemEnd,
            () =>
            {
                modemEnd.HangUpLink();
                try
                {
                    stop.Cancel();
                }
                catch (ObjectDisposedException)
                {
                    // The caller had already hung up.
                }
            });
        _callId++;
        _ = PumpCalleeAsync(modemEnd, _callId, _runToken);
        GoOnline();
    }

    private void OnRing(RingRequested ring)
    {
        if (_state != ModemState.Command || _call is not null)
        {
            // Busy with a call: the caller hears busy tone, the host sees nothing.
            return;
        }

        _incoming = new IncomingCall(ring.CallerId, ring.Caller);
        _ringCount++;
        _s[1] = _ringCount;
        Result(ResultCode.Ring);
        if (_ringCount == 1 && ring.CallerId is { } id && !_quiet)
        {
            switch (_callerId)
            {
                case CallerIdFormat.Clip:
                    // 3GPP TS 27.007 §7.18: type 145 for an international number, else 129.
                    Info(string.Create(CultureInfo.InvariantCulture, $"+CLIP: \"{id}\",{(id.StartsWith('+') ? 145 : 129)}"));
                    break;
                case CallerIdFormat.Nmbr:
                    Info($"NMBR = {id}");
                    break;
                default:
                    break;
            }
        }

        // Rings come every 6 s on a real line; after 8 s without one the caller has given up.
        StartTimer(TimerKind.RingExpiry, TimeSpan.FromSeconds(8));
        if (_s[0] > 0 && _ringCount >= _s[0])
        {
            // S0: auto-answer after that many rings (V.250 §6.3.8).
            AnswerIncoming(_incoming);
            Result(ResultCode.Connect);
        }
    }

    private void StartTimer(TimerKind kind, TimeSpan delay)
    {
        var generation = ++_timerGenerations[(int)kind];
        if (delay <= TimeSpan.Zero)
        {
            Post(new TimerFired(kind, generation));
            return;
        }

        _ = FireLaterAsync(kind, generation, delay);
    }

    private async Task FireLaterAsync(TimerKind kind, int generation, TimeSpan delay)
    {
        try
        {
            await Task.Delay(delay, _time, _runToken);
            Post(new TimerFired(kind, generation));
        }
        catch (OperationCanceledException)
        {
            // Switched off.
        }
    }

    /// <summary>Information text (V.250 §5.7.1): "\r\ntext\r\n" verbose, "text\r\n" numeric.</summary>
    private bool Info(string text)
    {
        if (_verbose)
        {
            _out.Add((byte)_s[3]);
            _out.Add((byte)_s[4]);
        }

        _out.AddRange(Encoding.ASCII.GetBytes(text));
        _out.Add((byte)_s[3]);
        _out.Add((byte)_s[4]);
        return true;
    }

    /// <summary>A result code (V.250 §5.7.2): "\r\nTEXT\r\n" verbose, "n\r" numeric, nothing when quiet.</summary>
    private void Result(ResultCode code)
    {
        if (_quiet)
        {
            return;
        }

        code = ResultCodeText.ApplyLevel(code, _level);
        if (_verbose)
        {
            var text = ResultCodeText.Verbose(code);
            if (code == ResultCode.Connect && _level > 0)
            {
                text = string.Create(CultureInfo.InvariantCulture, $"{text} {_behaviour.ConnectSpeed}");
            }

            _out.Add((byte)_s[3]);
            _out.Add((byte)_s[4]);
            _out.AddRange(Encoding.ASCII.GetBytes(text));
            _out.Add((byte)_s[3]);
            _out.Add((byte)_s[4]);
        }
        else
        {
            _out.AddRange(Encoding.ASCII.GetBytes(ResultCodeText.Numeric(code).ToString(CultureInfo.InvariantCulture)));
            _out.Add((byte)_s[3]);
        }
    }

    private void Apply(Profile p)
    {
        _echo = p.Echo;
        _verbose = p.Verbose;
        _quiet = p.Quiet;
        _level = p.Level;
        _dtr = p.Dtr;
        _callerId = p.CallerId;
        p.Registers.CopyTo(_s, 0);
    }

    private Profile Capture() => new(_echo, _verbose, _quiet, _level, _dtr, _callerId, (int[])_s.Clone());

    private sealed record Profile(bool Echo, bool Verbose, bool Quiet, int Level, int Dtr, CallerIdFormat CallerId, int[] Registers)
    {
        public static Profile From(ModemBehaviour b)
        {
            var registers = new int[256];
            for (var n = 0; n < registers.Length; n++)
            {
                registers[n] = b.SRegister(n);
            }

            return new(b.Echo, b.Verbose, b.Quiet, b.ResultLevel, b.DtrMode, b.CallerId, registers);
        }
    }

    private sealed record ActiveCall(IChannelTransport Link, Action HangUp);

    private sealed record IncomingCall(string? CallerId, Func<IChannelTransport, CancellationToken, Task> Caller);

    private abstract record ModemEvent;

    private sealed record HostData(byte[] Bytes, DateTimeOffset At) : ModemEvent;

    private sealed record HostClosed : ModemEvent;

    private sealed record CalleeData(int CallId, byte[] Bytes) : ModemEvent;

    private sealed record CalleeClosed(int CallId) : ModemEvent;

    private sealed record TimerFired(TimerKind Kind, int Generation) : ModemEvent;

    private sealed record DropRequested : ModemEvent;

    private sealed record RingRequested(string? CallerId, Func<IChannelTransport, CancellationToken, Task> Caller) : ModemEvent;

    private sealed record ClearBlacklistRequested : ModemEvent;
}
