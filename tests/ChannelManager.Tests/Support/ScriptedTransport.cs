using System.Globalization;
using System.Text;
using System.Threading.Channels;
using ChannelManager.Core.Transport;

namespace ChannelManager.Tests.Support;

/// <summary>
/// Wire-script transport (style.md "Tests"): each <see cref="Expect(string)"/> names the exact bytes the
/// code under test must write next; the <see cref="Reply(string)"/> steps after it are delivered to the
/// reader once those bytes have been written. No real delays or ports.
/// </summary>
internal sealed class ScriptedTransport : IChannelTransport
{
    private readonly List<Step> _steps = [];
    private readonly List<byte> _unmatched = [];
    private readonly List<byte> _allWritten = [];
    private readonly Channel<byte[]> _toReader = Channel.CreateUnbounded<byte[]>();
    private readonly List<string> _failures = [];
    private readonly ChunkQueueReader _reader;
    private int _next;
    private bool _started;

    public ScriptedTransport()
    {
        _reader = new ChunkQueueReader(_toReader.Reader);
    }

    public string Endpoint { get; init; } = "scripted";

    public bool IsOpen { get; private set; } = true;

    public IModemControlLines? ControlLines { get; init; }

    /// <summary>Everything the code under test wrote, in order.</summary>
    public IReadOnlyList<byte> Written => _allWritten;

    public IReadOnlyList<string> Failures => _failures;

    /// <summary>Expect these bytes, written as spaced hex ("01 03 00 00 00 02 C4 0B").</summary>
    public ScriptedTransport Expect(string hex) => Add(new Step(StepKind.Expect, FromHex(hex)));

    /// <summary>Deliver these bytes (spaced hex) to the reader.</summary>
    public ScriptedTransport Reply(string hex) => Add(new Step(StepKind.Reply, FromHex(hex)));

    /// <summary>Expect this ASCII text (use \r for CR).</summary>
    public ScriptedTransport ExpectText(string text) => Add(new Step(StepKind.Expect, Encoding.ASCII.GetBytes(text)));

    /// <summary>Deliver this ASCII text to the reader.</summary>
    public ScriptedTransport ReplyText(string text) => Add(new Step(StepKind.Reply, Encoding.ASCII.GetBytes(text)));

    /// <summary>Deliver raw bytes to the reader.</summary>
    public ScriptedTransport ReplyBytes(params byte[] bytes) => Add(new Step(StepKind.Reply, bytes));

    /// <summary>After the previous expectation, the peer closes the link (reader sees 0).</summary>
    public ScriptedTransport ThenClose() => Add(new Step(StepKind.Close, []));

    /// <summary>Pushes bytes to the reader right now, outside the script (unsolicited RING, garbage).</summary>
    public void Inject(string text) => _toReader.Writer.TryWrite(Encoding.ASCII.GetBytes(text));

    public bool ScriptComplete => _next >= _steps.Count && _unmatched.Count == 0;

    /// <summary>Writes the bytes not yet matched, as hex, and clears them.</summary>
    public string PopUnmatchedHex()
    {
        var hex = ToHex(_unmatched);
        _unmatched.Clear();
        return hex;
    }

    public Task OpenAsync(CancellationToken cancellationToken)
    {
        IsOpen = true;
        Start();
        return Task.CompletedTask;
    }

    public Task CloseAsync(CancellationToken cancellationToken)
    {
        IsOpen = false;
        return Task.CompletedTask;
    }

    public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        Start();
        return _reader.ReadAsync(buffer, _toReader.Reader.WaitToReadAsync, cancellationToken);
    }

    public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        Start();
        lock (_steps)
        {
            _allWritten.AddRange(data.Span);
            _unmatched.AddRange(data.Span);
            while (_next < _steps.Count && _steps[_next].Kind == StepKind.Expect)
            {
                var expected = _steps[_next].Bytes;
                var n = Math.Min(expected.Length, _unmatched.Count);
                if (!_unmatched.Take(n).SequenceEqual(expected.Take(n)))
                {
                    _failures.Add($"expected {ToHex(expected)} but got {ToHex(_unmatched)}");
                    _unmatched.Clear();
                    break;
                }

                if (n < expected.Length)
                {
                    break;
                }

                _unmatched.RemoveRange(0, expected.Length);
                _next++;
                ReleaseReplies();
            }
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        IsOpen = false;
        return ValueTask.CompletedTask;
    }

    public static byte[] FromHex(string hex) =>
        hex.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(h => byte.Parse(h, NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToArray();

    public static string ToHex(IEnumerable<byte> bytes) => string.Join(' ', bytes.Select(b => b.ToString("X2", CultureInfo.InvariantCulture)));

    private ScriptedTransport Add(Step step)
    {
        _steps.Add(step);
        return this;
    }

    private void Start()
    {
        lock (_steps)
        {
            if (_started)
            {
                return;
            }

            _started = true;
            ReleaseReplies();
        }
    }

    private void ReleaseReplies()
    {
        while (_next < _steps.Count && _steps[_next].Kind != StepKind.Expect)
        {
            var step = _steps[_next++];
            if (step.Kind == StepKind.Close)
            {
                _toReader.Writer.TryComplete();
            }
            else
            {
                _toReader.Writer.TryWrite(step.Bytes);
            }
        }
    }

    private enum StepKind
    {
        Expect,
        Reply,
        Close,
    }

    private sealed record Step(StepKind Kind, byte[] Bytes);
}
