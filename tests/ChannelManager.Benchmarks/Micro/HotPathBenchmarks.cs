using System.Text;
using BenchmarkDotNet.Attributes;
using ChannelManager.Core;
using ChannelManager.Core.Modems;
using ChannelManager.Core.Scheduling;

namespace ChannelManager.Benchmarks.Micro;

/// <summary>
/// Issue 9 item 1: the per-call hot paths outside the Modbus codec, with [MemoryDiagnoser] so the Allocated column
/// shows what each costs the GC in steady state (docs/performance.md §1).
/// </summary>
/// <remarks>Not sealed: BenchmarkDotNet derives its generated runner from the benchmark class.</remarks>
[MemoryDiagnoser]
public class HotPathBenchmarks
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 5, 0, 0, 0, TimeSpan.Zero);
    private readonly BackoffPolicy _exponential = BackoffPolicy.From(new BackoffOptions { Initial = TimeSpan.FromSeconds(30), Max = TimeSpan.FromSeconds(120), Factor = 2, MaxAttempts = 3 });
    private readonly Func<double> _random = () => 0.5;
    private readonly AtLineAssembler _assembler = new(ModemReplyClassifier.DefaultMaxLineLength);
    private readonly string _connectLine = "CONNECT 33600";
    private readonly string _noCarrierLine = "NO CARRIER";
    private byte[] _connectReply = [];
    private NumberLedger _fresh = null!;
    private NumberLedger _waiting = null!;

    [GlobalSetup]
    public void Setup()
    {
        _connectReply = Encoding.ASCII.GetBytes("\r\nCONNECT 33600\r\n");
        _fresh = new NumberLedger("01632960001");
        var started = RepeatCallGuard.RecordAttemptStarted(_fresh, CountryProfiles.UK, T0).Ledger;
        _waiting = RepeatCallGuard.RecordOutcome(started, CountryProfiles.UK, OutcomeCode.NoAnswer, T0.AddSeconds(40)).Ledger;
    }

    /// <summary>A final result line to its reply kind (V.250 §5.7.1), as the AT engine does for every line.</summary>
    [Benchmark]
    public ModemReplyKind ClassifyConnect() => ModemReplyClassifier.Classify(_connectLine).Kind;

    [Benchmark]
    public ModemReplyKind ClassifyNoCarrier() => ModemReplyClassifier.Classify(_noCarrierLine).Kind;

    /// <summary>Bytes of "\r\nCONNECT 33600\r\n" through the line assembler: one line out (its string is the result).</summary>
    [Benchmark]
    public int AssembleConnectLine()
    {
        var lines = 0;
        foreach (var b in _connectReply)
        {
            if (_assembler.Push(b) is not null)
                lines++;
        }

        return lines;
    }

    /// <summary>Seed 003's exponential back-off, second failure.</summary>
    [Benchmark]
    public TimeSpan BackoffNext() => _exponential.Next(2, OutcomeCode.NoAnswer, T0, _random).Delay;

    /// <summary>The repeat-call guard on a number never dialled (the common case): allowed.</summary>
    [Benchmark]
    public bool GuardAllowsFreshNumber() => RepeatCallGuard.Check(_fresh, CountryProfiles.UK, T0).Allowed;

    /// <summary>The guard refusing a number inside its UK 2-minute gap (the scheduler asks this when a retry falls due early).</summary>
    [Benchmark]
    public bool GuardRefusesWaitingNumber() => RepeatCallGuard.Check(_waiting, CountryProfiles.UK, T0.AddSeconds(60)).Allowed;
}
