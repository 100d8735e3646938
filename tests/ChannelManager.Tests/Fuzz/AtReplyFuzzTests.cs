using System.Text;
using ChannelManager.Core;
using ChannelManager.Core.Modems;
using ChannelManager.Tests.Modems;
using ChannelManager.Tests.Support;
using CsCheck;
using Microsoft.Extensions.Time.Testing;

namespace ChannelManager.Tests.Fuzz;

/// <summary>
/// Issue 10 item 2, target "AT reply reader": whatever a modem, a serial server or line noise sends in command
/// state — binary, CR/LF in any framing, over-long lines, near-miss result codes — the line assembler stays bounded
/// and the classifier only ever answers a <see cref="ModemReplyKind"/> and, for a line that ends a command, an
/// <see cref="OutcomeCode"/> of the phase's categories (design.md §3). Nothing throws.
/// </summary>
public sealed class AtReplyFuzzTests
{
    private static readonly string[] Words =
    [
        "OK", "ERROR", "CONNECT", "CONNECT 9600", "CONNECT 33600/ARQ", "CONNECT/", "NO CARRIER", "NO DIALTONE", "NO DIAL TONE",
        "BUSY", "NO ANSWER", "RING", "BLACKLISTED", "DELAYED", "DELAYED 5 MIN", "BLACKLIST FULL", "DIAL LOCKED",
        "+CME ERROR: ", "+CME ERROR: call barred", "+CME ERROR: 99999999999999999999", "+CME ERROR: -1", "+CMS ERROR: 500",
        "+CLIP: \"0123\",129", "+CRING: VOICE", "+CSQ: 20,99", "CARRIER 2400", "PROTOCOL: LAPM", "RINGING",
        "ATD0123", "AT", "A/", "0", "1", "3", "7", "24", "32", "99", "999", "1000", " ", "\t", "+++",
    ];

    /// <summary>One piece of a modem's output: a reply word, a terminator, binary noise or (rarely) a flood.</summary>
    private static readonly Gen<byte[]> Piece = Gen.Frequency(
        (6, Gen.OneOf(Words).Select(w => Encoding.Latin1.GetBytes(w))),
        (6, Gen.OneOf("\r", "\n", "\r\n", "\r\r\n", "\n\r").Select(t => Encoding.ASCII.GetBytes(t))),
        (4, Gen.Byte.Array[0, 24]),
        (2, Gen.Char['0', '9'].Array[1, 12].Select(c => Encoding.ASCII.GetBytes(c))),
        (1, Gen.Select(Gen.Byte, Gen.Int[200, 2048], (b, n) => Enumerable.Repeat(b, n).ToArray())));

    private static readonly Gen<byte[]> Stream = Piece.Array[0, 24].Select(ps => ps.SelectMany(p => p).ToArray());

    [Fact]
    public void AssembleAndClassify_ArbitraryModemOutput_BoundedLinesAndTypedOutcomesOnly()
    {
        Gen.Select(Stream, Gen.Int[1, 512]).Sample((bytes, maxLineLength) =>
        {
            var assembler = new AtLineAssembler(maxLineLength);
            var emitted = 0;
            foreach (var b in bytes)
            {
                if (assembler.Push(b) is not { } line)
                {
                    continue;
                }

                emitted += line.Length;

                // Bounded memory: a flood is cut at cap + 1 characters, never buffered whole.
                Assert.InRange(line.Length, 1, maxLineLength + 1);
                Assert.DoesNotContain('\r', line);
                Assert.DoesNotContain('\n', line);
                CheckReply(line, maxLineLength);
            }

            Assert.True(emitted <= bytes.Length, "the assembler emitted more characters than it was fed");
        }, iter: FuzzSettings.Iterations);
    }

    [Fact]
    public void Classify_ArbitraryString_TotalAndPhaseConsistent()
    {
        // Straight at the classifier, including characters a Latin-1 byte stream cannot produce (it is public).
        Gen.Select(Gen.String[Gen.Char, 0, 300], Gen.Int[-5, 400]).Sample((text, maxLineLength) =>
        {
            CheckReply(text, maxLineLength);
        }, iter: FuzzSettings.Iterations);
    }

    [Fact]
    public void Assemble_SameLinesAnyFraming_SameReplies()
    {
        // V.250 §5.7.1: verbose (CR LF text CR LF) and numeric (text CR) framing, and bare LF from some serial
        // servers, must all give the same lines; empty lines are dropped.
        var line = Gen.OneOf(Gen.OneOf(Words), Gen.Char[' ', '~'].Array[1, 40].Select(c => new string(c)));
        var framing = Gen.OneOf(("\r\n", "\r\n"), ("", "\r"), ("", "\n"), ("\r\n", "\r"), ("\n", "\n"));
        Gen.Select(line.Array[0, 12], framing.Array[12]).Sample((lines, frames) =>
        {
            var assembler = new AtLineAssembler(ModemReplyClassifier.DefaultMaxLineLength);
            var got = new List<string>();
            for (var i = 0; i < lines.Length; i++)
            {
                foreach (var b in Encoding.ASCII.GetBytes(frames[i].Item1 + lines[i] + frames[i].Item2))
                {
                    if (assembler.Push(b) is { } l)
                    {
                        got.Add(l);
                    }
                }
            }

            Assert.Equal(lines, got);
            Assert.False(assembler.HasPartialLine);
        }, iter: FuzzSettings.Iterations);
    }

    /// <summary>
    /// End to end through the real <see cref="AtModem"/> (reader loop, echo filter, CONNECT switch-over, dial abort):
    /// ATD is answered with arbitrary bytes and then the link closes. The dial must end with a typed result of the dial's
    /// categories, never an exception. Each case builds a modem and runs init + dial on the thread pool, so this
    /// target runs a fiftieth of the pure targets' count (2,000 in CI; docs/reliability.md).
    /// </summary>
    [Fact]
    public async Task DialAsync_ArbitraryReplyThenLinkCloses_TypedDialResult()
    {
        await Stream.SampleAsync(async bytes =>
        {
            var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 8, 0, 0, TimeSpan.Zero));
            var wire = new ScriptedTransport().WithInit().ExpectText("ATD0123\r").ReplyBytes(bytes).ThenClose();
            await using var modem = new AtModem(wire, false, ModemTestKit.Options(), time);
            var init = await modem.InitializeAsync(CancellationToken.None).Bounded();
            Assert.Equal(OutcomeCode.Success, init.Code);
            // Garbage mid-dial makes the engine abort and, if CONNECT then wins the race, escape (guard times) and
            // hang up: timers on the fake clock, moved here until the dial has ended.
            var dialing = modem.DialAsync("0123", CancellationToken.None);
            await time.AdvanceUntilAsync(() => dialing.IsCompleted, TimeSpan.FromSeconds(1));
            var dial = await dialing.Bounded();
            Assert.True(Enum.IsDefined(dial.Code));
            Assert.Contains(dial.Code.Category(), (OutcomeCategory[])[OutcomeCategory.Success, OutcomeCategory.ChannelAllocation, OutcomeCategory.ConnectionEstablishment]);
            Assert.NotNull(dial.RawReply);
        }, iter: Math.Max(1, FuzzSettings.Iterations / 50), print: Convert.ToHexString);
    }

    private static void CheckReply(string line, int maxLineLength)
    {
        var reply = ModemReplyClassifier.Classify(line, maxLineLength);
        Assert.True(Enum.IsDefined(reply.Kind));
        Assert.NotNull(reply.Text);

        // Evidence is kept but bounded: at most the cap, escaped (\xNN = 4 characters), plus "...".
        Assert.True(reply.Text.Length <= (4 * Math.Max(1, maxLineLength)) + 3, $"reply text of {reply.Text.Length} characters");
        if (line.Length > Math.Max(1, maxLineLength))
        {
            Assert.Equal(ModemReplyKind.Garbage, reply.Kind);
        }

        var ends = reply.IsFinal || reply.IsUnexpected;
        var command = ModemReplyClassifier.TryGetOutcome(reply, ModemPhase.Command);
        var dial = ModemReplyClassifier.TryGetOutcome(reply, ModemPhase.Dial);
        var online = ModemReplyClassifier.TryGetOutcome(reply, ModemPhase.Online);
        Assert.Equal(ends, command is not null);
        Assert.Equal(ends, dial is not null);
        Assert.Equal(ends, online is not null);
        if (!ends)
        {
            return;
        }

        Assert.Contains(command.GetValueOrDefault(), (OutcomeCode[])[OutcomeCode.Success, OutcomeCode.ModemError]);
        Assert.Contains(online.GetValueOrDefault(), (OutcomeCode[])[OutcomeCode.Success, OutcomeCode.ConnectionLost, OutcomeCode.UnexpectedResponse]);

        // Seed 004: a dial ends in success, a set-up failure (the modem's) or an establishment failure (the outstation's).
        var dialCode = dial.GetValueOrDefault();
        Assert.True(Enum.IsDefined(dialCode));
        Assert.Contains(dialCode.Category(), (OutcomeCategory[])[OutcomeCategory.Success, OutcomeCategory.ChannelAllocation, OutcomeCategory.ConnectionEstablishment]);
        Assert.Equal(reply.Kind == ModemReplyKind.Connect, dialCode == OutcomeCode.Success);
    }
}
