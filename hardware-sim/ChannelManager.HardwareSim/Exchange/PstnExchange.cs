using System.Globalization;
using System.Text;
using ChannelManager.Core.Transport;

namespace ChannelManager.HardwareSim.Exchange;

/// <summary>
/// The simulated telephone network behind the simulated modems. It decides what each dialled
/// number does (<see cref="LineBehaviour"/>), keeps a call log of every dial attempt (to prove
/// repeat-call behaviour, e.g. "BUSY → one attempt only", seed 004 row 2), and records a violation
/// whenever a modem starts a second call while in one, or a line is dialled while already in a call.
/// Thread-safe: modems on different threads and the test/host read it concurrently.
/// <para>
/// Indexed for scale (issue 9: a 24-hour run logs ~100,000 calls): calls open now are counted per modem and per
/// number, and each number keeps its own time-ordered list of calls, so a dial's checks are O(1) and
/// <see cref="CallsTo"/> is O(calls to that number) instead of scans of the whole log.
/// </para>
/// </summary>
public sealed class PstnExchange
{
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, LineBehaviour> _lines = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _attemptsTo = new(StringComparer.Ordinal);
    private readonly List<CallEntry> _log = [];
    private readonly List<string> _violations = [];
    private readonly List<string> _calleeFailures = [];
    private readonly Dictionary<string, int> _peakOnModem = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _peakOnNumber = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _activeOnModem = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _activeToNumber = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<CallEntry>> _logByNumber = new(StringComparer.Ordinal);

    public PstnExchange(TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
    }

    /// <summary>What a number that was never added does: number unobtainable, reported as NO CARRIER.</summary>
    public LineBehaviour UnknownNumber { get; set; } = new LineBehaviour.NoCarrier();

    /// <summary>Adds or replaces what happens when someone dials <paramref name="number"/>; takes effect on the next call, so faults can change at run time.</summary>
    public void AddLine(string number, LineBehaviour behaviour)
    {
        ArgumentNullException.ThrowIfNull(behaviour);
        var key = NormaliseNumber(number);
        if (key.Length == 0)
        {
            throw new ArgumentException("A line number needs at least one digit.", nameof(number));
        }

        lock (_gate)
        {
            _lines[key] = behaviour;
        }
    }

    public bool RemoveLine(string number)
    {
        lock (_gate)
        {
            return _lines.Remove(NormaliseNumber(number));
        }
    }

    /// <summary>Every dial attempt so far, oldest first (a snapshot).</summary>
    public IReadOnlyList<CallRecord> CallLog
    {
        get
        {
            lock (_gate)
            {
                return _log.Select(e => e.ToRecord()).ToArray();
            }
        }
    }

    /// <summary>Problems a real network would not allow or a correct channel manager would never cause (a modem in two calls, a line dialled twice at once).</summary>
    public IReadOnlyList<string> Violations
    {
        get
        {
            lock (_gate)
            {
                return _violations.ToArray();
            }
        }
    }

    /// <summary>Exceptions thrown by callee programs (a bug in the test outstation, not a modem event); the call was dropped.</summary>
    public IReadOnlyList<string> CalleeFailures
    {
        get
        {
            lock (_gate)
            {
                return _calleeFailures.ToArray();
            }
        }
    }

    /// <summary>Every dial attempt to <paramref name="number"/> so far, oldest first (a snapshot).</summary>
    public IReadOnlyList<CallRecord> CallsTo(string number)
    {
        var key = NormaliseNumber(number);
        lock (_gate)
        {
            return _logByNumber.TryGetValue(key, out var calls) ? calls.Select(e => e.ToRecord()).ToArray() : [];
        }
    }

    /// <summary>Calls (being dialled or connected) the named modem has open now.</summary>
    public int ActiveCallsOn(string modemName)
    {
        lock (_gate)
        {
            return _activeOnModem.GetValueOrDefault(modemName);
        }
    }

    /// <summary>Calls to the number being dialled or connected now.</summary>
    public int ActiveCallsTo(string number)
    {
        var key = NormaliseNumber(number);
        lock (_gate)
        {
            return _activeToNumber.GetValueOrDefault(key);
        }
    }

    /// <summary>The most calls the modem ever had open at once (1 for a correct pool).</summary>
    public int PeakActiveCallsOn(string modemName)
    {
        lock (_gate)
        {
            return _peakOnModem.GetValueOrDefault(modemName);
        }
    }

    /// <summary>The most calls the number ever had open at once.</summary>
    public int PeakActiveCallsTo(string number)
    {
        var key = NormaliseNumber(number);
        lock (_gate)
        {
            return _peakOnNumber.GetValueOrDefault(key);
        }
    }

    /// <summary>The digits the exchange routes on: dial modifiers, spaces and punctuation removed (V.250 §6.3.1.1).</summary>
    public static string NormaliseNumber(string number)
    {
        ArgumentNullException.ThrowIfNull(number);
        if (IsRoutable(number))
        {
            return number;   // the common case (plain digits): no copy per dial
        }

        var sb = new StringBuilder(number.Length);
        foreach (var c in number)
        {
            if (char.IsAsciiDigit(c) || c is '*' or '#' or '+')
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }

    private static bool IsRoutable(string number)
    {
        foreach (var c in number)
        {
            if (!(char.IsAsciiDigit(c) || c is '*' or '#' or '+'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A modem went off hook and dialled: the attempt reaches the line.</summary>
    internal CallAttempt BeginCall(string modemName, string number)
    {
        var key = NormaliseNumber(number);
        lock (_gate)
        {
            var entry = new CallEntry(_time.GetUtcNow(), modemName, key);
            if (_activeOnModem.GetValueOrDefault(modemName) > 0)
            {
                _violations.Add($"{Stamp(entry.At)}: modem {modemName} dialled {key} while already in a call");
            }

            var lineEngaged = _activeToNumber.GetValueOrDefault(key) > 0;
            if (lineEngaged)
            {
                _violations.Add($"{Stamp(entry.At)}: {key} dialled by {modemName} while the line is already in a call");
            }

            var attempt = _attemptsTo.GetValueOrDefault(key);
            _attemptsTo[key] = attempt + 1;
            LineBehaviour behaviour;
            var unobtainable = false;
            if (lineEngaged)
            {
                // A line that is already in a call gives busy tone, as a real one does.
                behaviour = new LineBehaviour.Busy();
            }
            else if (_lines.TryGetValue(key, out var configured))
            {
                behaviour = Resolve(configured, attempt, modemName);
            }
            else
            {
                behaviour = Resolve(UnknownNumber, attempt, modemName);
                unobtainable = true;
            }

            Append(entry);
            var onModem = _activeOnModem[modemName] = _activeOnModem.GetValueOrDefault(modemName) + 1;
            var toNumber = _activeToNumber[key] = _activeToNumber.GetValueOrDefault(key) + 1;
            _peakOnModem[modemName] = Math.Max(_peakOnModem.GetValueOrDefault(modemName), onModem);
            _peakOnNumber[key] = Math.Max(_peakOnNumber.GetValueOrDefault(key), toNumber);
            return new CallAttempt(this, entry, behaviour, unobtainable);
        }
    }

    /// <summary>The modem refused to dial (NO DIALTONE, BLACKLISTED, DELAYED): logged, but the line was never used.</summary>
    internal void RecordRefused(string modemName, string number, CallResult result)
    {
        lock (_gate)
        {
            var entry = new CallEntry(_time.GetUtcNow(), modemName, NormaliseNumber(number));
            entry.Finish(result, entry.At);   // never active: not counted as an open call
            Append(entry);
        }
    }

    internal void Finish(CallEntry entry, CallResult result)
    {
        lock (_gate)
        {
            var wasActive = entry.Active;
            entry.Finish(result, _time.GetUtcNow());
            Ended(entry, wasActive);
        }
    }

    internal void MarkConnected(CallEntry entry)
    {
        lock (_gate)
        {
            entry.Result = CallResult.Connected;
            entry.ConnectedAt = _time.GetUtcNow();
        }
    }

    internal void EndConnected(CallEntry entry)
    {
        lock (_gate)
        {
            var wasActive = entry.Active;
            entry.End(_time.GetUtcNow());
            Ended(entry, wasActive);
        }
    }

    internal void RecordCalleeFailure(string number, Exception ex)
    {
        lock (_gate)
        {
            _calleeFailures.Add($"{number}: {ex.GetType().Name}: {ex.Message}");
        }
    }

    private static string Stamp(DateTimeOffset at) => at.ToString("O", CultureInfo.InvariantCulture);

    /// <summary>Logs a call in the whole log and in its number's own list (both oldest first: the clock never goes back).</summary>
    private void Append(CallEntry entry)
    {
        _log.Add(entry);
        if (!_logByNumber.TryGetValue(entry.Number, out var calls))
        {
            _logByNumber[entry.Number] = calls = [];
        }

        calls.Add(entry);
    }

    /// <summary>Keeps the open-call counters in step when a call that was open has just ended.</summary>
    private void Ended(CallEntry entry, bool wasActive)
    {
        if (wasActive && !entry.Active)
        {
            _activeOnModem[entry.ModemName]--;
            _activeToNumber[entry.Number]--;
        }
    }

    private static LineBehaviour Resolve(LineBehaviour behaviour, int attempt, string modemName)
    {
        while (behaviour is LineBehaviour.Sequence or ByCallingModem)
        {
            if (behaviour is ByCallingModem byModem)
            {
                behaviour = byModem.For(modemName);
                continue;
            }

            var seq = (LineBehaviour.Sequence)behaviour;
            if (seq.Steps.Length == 0)
            {
                return new LineBehaviour.NoCarrier();
            }

            behaviour = seq.Steps[Math.Min(attempt, seq.Steps.Length - 1)];
        }

        return behaviour;
    }

    internal sealed class CallEntry(DateTimeOffset at, string modemName, string number)
    {
        public DateTimeOffset At { get; } = at;

        public string ModemName { get; } = modemName;

        public string Number { get; } = number;

        public CallResult Result { get; set; } = CallResult.Dialling;

        public DateTimeOffset? ConnectedAt { get; set; }

        public DateTimeOffset? EndedAt { get; private set; }

        public void End(DateTimeOffset at) => EndedAt ??= at;

        public bool Active => EndedAt is null;

        public void Finish(CallResult result, DateTimeOffset at)
        {
            if (EndedAt is not null)
            {
                return;
            }

            if (Result != CallResult.Connected)
            {
                Result = result;
            }

            EndedAt = at;
        }

        public CallRecord ToRecord() => new(At, ModemName, Number, Result) { ConnectedAt = ConnectedAt, EndedAt = EndedAt };
    }
}

/// <summary>One call from a modem through the exchange, from dialling to hang-up.</summary>
internal sealed class CallAttempt
{
    private readonly PstnExchange _exchange;
    private readonly PstnExchange.CallEntry _entry;
    private Action? _stopCallee;

    internal CallAttempt(PstnExchange exchange, PstnExchange.CallEntry entry, LineBehaviour behaviour, bool unobtainable)
    {
        _exchange = exchange;
        _entry = entry;
        Behaviour = behaviour;
        Unobtainable = unobtainable;
    }

    /// <summary>What the line does on this attempt (a Sequence already resolved).</summary>
    public LineBehaviour Behaviour { get; }

    public bool Unobtainable { get; }

    public string Number => _entry.Number;

    /// <summary>Completes when the callee program has returned (it hung up).</summary>
    public Task? CalleeTask { get; private set; }

    /// <summary>The callee answered: starts it on its end of an in-memory pair and returns the modem's end.</summary>
    public IChannelTransport Connect(Func<IChannelTransport, CancellationToken, Task> serve)
    {
        var (callerEnd, calleeEnd) = InMemoryTransport.CreatePair($"pstn:{_entry.ModemName}", $"pstn:{_entry.Number}");
        _exchange.MarkConnected(_entry);
        var stop = new CancellationTokenSource();
        _stopCallee = () =>
        {
            callerEnd.HangUpLink();
            try
            {
                stop.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // The callee had already hung up.
            }
        };
        CalleeTask = Task.Run(
            async () =>
            {
                try
                {
                    await serve(calleeEnd, stop.Token);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // A throwing test outstation is dropped like a callee that hangs up; the
                    // exception is kept for the test to see rather than lost on a pool thread.
                    _exchange.RecordCalleeFailure(_entry.Number, ex);
                }
                finally
                {
                    // The callee put the phone down: the caller's modem loses carrier.
                    calleeEnd.HangUpLink();
                    _exchange.EndConnected(_entry);
                    stop.Dispose();
                }
            },
            CancellationToken.None);
        return callerEnd;
    }

    /// <summary>The attempt failed (or was abandoned) before connecting.</summary>
    public void Fail(CallResult result) => _exchange.Finish(_entry, result);

    /// <summary>The caller's modem hung up (ATH, carrier drop, reset): the callee sees the link end.</summary>
    public void HangUp()
    {
        _stopCallee?.Invoke();
        _exchange.EndConnected(_entry);
    }
}
