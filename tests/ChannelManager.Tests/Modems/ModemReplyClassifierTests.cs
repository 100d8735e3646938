using System.Globalization;
using System.Text;
using ChannelManager.Core;
using ChannelManager.Core.Modems;
using CsCheck;

namespace ChannelManager.Tests.Modems;

/// <summary>Table-driven from modem-replies.csv: real replies from V.250, 27.007/27.005 and vendor manuals, each with its source.</summary>
public sealed class ModemReplyClassifierTests
{
    public static TheoryData<string, string, string, string, string> Rows()
    {
        var data = new TheoryData<string, string, string, string, string>();
        foreach (var row in ReplyTable.Load())
        {
            data.Add(row.Phase, row.Reply, row.Kind, row.Outcome, row.Source);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Rows))]
    public void Classify_TableRow_KindAndOutcomeMatch(string phase, string reply, string kind, string outcome, string source)
    {
        var line = ReplyTable.Unescape(reply);
        var classified = ModemReplyClassifier.Classify(line);

        Assert.True(Enum.Parse<ModemReplyKind>(kind) == classified.Kind, $"{reply} ({source}): expected {kind}, got {classified.Kind}");
        foreach (var p in ReplyTable.Phases(phase))
        {
            var actual = ModemReplyClassifier.TryGetOutcome(classified, p);
            var expected = outcome == "none" ? (OutcomeCode?)null : Enum.Parse<OutcomeCode>(outcome);
            Assert.True(expected == actual, $"{reply} in {p} ({source}): expected {outcome}, got {actual?.ToString() ?? "none"}");
        }
    }

    [Theory]
    [MemberData(nameof(Rows))]
    public void Classify_TableRowFramedOnTheWire_SameKindAfterLineAssembly(string phase, string reply, string kind, string outcome, string source)
    {
        _ = (phase, outcome);
        var line = ReplyTable.Unescape(reply);
        if (line.Contains('\r', StringComparison.Ordinal) || line.Contains('\n', StringComparison.Ordinal) || line.Contains('\x0A', StringComparison.Ordinal))
        {
            return; // A reply containing terminator bytes cannot be one framed line.
        }

        // V.250 §5.7.1: verbose results are framed CR LF text CR LF, numeric ones text CR.
        var framed = char.IsAsciiDigit(line[0]) && line.All(char.IsAsciiDigit) ? line + "\r" : "\r\n" + line + "\r\n";
        var assembler = new AtLineAssembler(ModemReplyClassifier.DefaultMaxLineLength);
        var lines = Encoding.Latin1.GetBytes(framed).Select(assembler.Push).OfType<string>().ToList();

        var single = Assert.Single(lines);
        Assert.True(Enum.Parse<ModemReplyKind>(kind) == ModemReplyClassifier.Classify(single).Kind, $"{reply} ({source}) framed");
    }

    [Fact]
    public void Table_HasAtLeastSixtySourcedRowsCoveringEveryCategoryAndKind()
    {
        var rows = ReplyTable.Load();

        Assert.True(rows.Count >= 60, $"only {rows.Count} rows");
        Assert.All(rows, r => Assert.False(string.IsNullOrWhiteSpace(r.Source), $"row '{r.Reply}' has no source"));
        var categories = rows.Where(r => r.Outcome != "none").Select(r => Enum.Parse<OutcomeCode>(r.Outcome).Category()).ToHashSet();
        // Scheduling outcomes (RepeatCallLimit, QueueTimeout, Cancelled) are never modem replies.
        Assert.Equal(
            [OutcomeCategory.Success, OutcomeCategory.ChannelAllocation, OutcomeCategory.ConnectionEstablishment, OutcomeCategory.ProtocolCommand],
            categories.Order());
        var replyCodes = rows.Where(r => r.Outcome != "none").Select(r => Enum.Parse<OutcomeCode>(r.Outcome)).ToHashSet();
        foreach (var code in new[] { OutcomeCode.ModemError, OutcomeCode.NoDialTone, OutcomeCode.CallBarredByModem, OutcomeCode.Busy, OutcomeCode.NoAnswer, OutcomeCode.NoCarrier, OutcomeCode.ConnectionLost, OutcomeCode.UnexpectedResponse })
        {
            Assert.Contains(code, replyCodes);
        }

        var kinds = rows.Select(r => Enum.Parse<ModemReplyKind>(r.Kind)).ToHashSet();
        Assert.Equal(Enum.GetValues<ModemReplyKind>().Order(), kinds.Order());
    }

    [Fact]
    public void Classify_OverLongLine_GarbageCarryingFirstBytes()
    {
        var line = new string('A', 300);

        var reply = ModemReplyClassifier.Classify(line, 256);

        Assert.Equal(ModemReplyKind.Garbage, reply.Kind);
        Assert.StartsWith(new string('A', 256), reply.Text, StringComparison.Ordinal);
        Assert.True(reply.Text.Length < 300);
        Assert.Equal(OutcomeCode.ModemError, ModemReplyClassifier.ToOutcome(reply, ModemPhase.Command));
    }

    [Theory]
    [InlineData("CONNECT 33600/ARQ/V34/LAPM/V42BIS", "33600/ARQ/V34/LAPM/V42BIS")]
    [InlineData("CONNECT", null)]
    [InlineData("12", "9600")]
    public void Classify_Connect_DetailCarriesSpeedAndSuffix(string line, string? detail) =>
        Assert.Equal(detail, ModemReplyClassifier.Classify(line).ConnectDetail);

    [Theory]
    [InlineData("+CME ERROR: 257", 257)]
    [InlineData("+CME ERROR: SIM PIN required", 11)]
    [InlineData("+CME ERROR: call barred", 62)]
    [InlineData("+CMS ERROR: 310", 310)]
    public void Classify_ErrorReport_CarriesNumericCode(string line, int code) =>
        Assert.Equal(code, ModemReplyClassifier.Classify(line).ErrorCode);

    [Fact]
    public void ToOutcome_NonFinalReply_ThrowsBecauseCallerBug() =>
        Assert.Throws<ArgumentException>(() => ModemReplyClassifier.ToOutcome(ModemReplyClassifier.Classify("RING"), ModemPhase.Dial));

    [Fact]
    public void Classify_AnyString_NeverThrows()
    {
        // Property: total over arbitrary byte strings (whatever a modem or line noise can send).
        Gen.Byte.Array[0, 400].Sample(bytes =>
        {
            var reply = ModemReplyClassifier.Classify(Encoding.Latin1.GetString(bytes));
            foreach (var phase in Enum.GetValues<ModemPhase>())
            {
                _ = ModemReplyClassifier.TryGetOutcome(reply, phase);
            }
        });
    }
}

/// <summary>Loader for modem-replies.csv (RFC 4180 quoting; \r \n \xNN escapes in the reply column).</summary>
internal static class ReplyTable
{
    public sealed record Row(string Phase, string Reply, string Kind, string Outcome, string Source);

    public static IReadOnlyList<Row> Load()
    {
        var path = ModemTestKit.RepoFile(Path.Combine("tests", "ChannelManager.Tests", "Modems", "modem-replies.csv"));
        if (!File.Exists(path))
        {
            path = Path.Combine(AppContext.BaseDirectory, "Modems", "modem-replies.csv");
        }

        var rows = new List<Row>();
        foreach (var line in File.ReadAllLines(path, Encoding.UTF8).Skip(1).Where(l => l.Length > 0))
        {
            var f = SplitCsv(line);
            if (f.Count != 5)
            {
                throw new InvalidDataException($"modem-replies.csv: expected 5 fields, got {f.Count}: {line}");
            }

            rows.Add(new Row(f[0], f[1], f[2], f[3], f[4]));
        }

        return rows;
    }

    public static IEnumerable<ModemPhase> Phases(string phase) => phase switch
    {
        "command" or "init" => [ModemPhase.Command],
        "dial" => [ModemPhase.Dial],
        "online" => [ModemPhase.Online],
        "any" => Enum.GetValues<ModemPhase>(),
        _ => throw new InvalidDataException($"unknown phase '{phase}'"),
    };

    public static string Unescape(string text)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\\' && i + 1 < text.Length)
            {
                switch (text[i + 1])
                {
                    case 'r': sb.Append('\r'); i++; continue;
                    case 'n': sb.Append('\n'); i++; continue;
                    case '\\': sb.Append('\\'); i++; continue;
                    case 'x' when i + 3 < text.Length:
                        sb.Append((char)byte.Parse(text.AsSpan(i + 2, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                        i += 3;
                        continue;
                }
            }

            sb.Append(text[i]);
        }

        return sb.ToString();
    }

    private static List<string> SplitCsv(string line)
    {
        var fields = new List<string>();
        var sb = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    sb.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    sb.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                fields.Add(sb.ToString());
                sb.Clear();
            }
            else
            {
                sb.Append(c);
            }
        }

        fields.Add(sb.ToString());
        return fields;
    }
}
