using System.Text;
using ChannelManager.Core.Modems;

namespace ChannelManager.Tests.Modems;

/// <summary>AtLineAssembler hands back the same string for a recurring line (issue 9: no allocation per line) without changing any line.</summary>
public sealed class AtLineAssemblerReuseTests
{
    [Fact]
    public void Push_SameLineTwice_ReturnsTheSameStringInstance()
    {
        var assembler = new AtLineAssembler(ModemReplyClassifier.DefaultMaxLineLength);

        var first = Feed(assembler, "\r\nCONNECT 33600\r\n").Single();
        var second = Feed(assembler, "\r\nCONNECT 33600\r\n").Single();

        Assert.Equal("CONNECT 33600", first);
        Assert.Same(first, second);
    }

    [Fact]
    public void Push_MoreDistinctLinesThanRemembered_EveryLineStillExact()
    {
        var assembler = new AtLineAssembler(ModemReplyClassifier.DefaultMaxLineLength);
        var sent = Enumerable.Range(0, AtLineAssembler.MaxRememberedLines * 3).Select(i => $"ATD0199{i:D6}").ToList();

        var got = sent.SelectMany(line => Feed(assembler, line + "\r")).ToList();

        Assert.Equal(sent, got);
        Assert.Equal("OK", Feed(assembler, "\r\nOK\r\n").Single());
    }

    [Fact]
    public void Push_LineLongerThanRemembered_ReturnedExactlyAsANewString()
    {
        var assembler = new AtLineAssembler(ModemReplyClassifier.DefaultMaxLineLength);
        var longLine = "+CGMR: " + new string('7', AtLineAssembler.MaxRememberedLength);

        var first = Feed(assembler, longLine + "\r\n").Single();
        var second = Feed(assembler, longLine + "\r\n").Single();

        Assert.Equal(longLine, first);
        Assert.Equal(longLine, second);
        Assert.NotSame(first, second);
    }

    private static List<string> Feed(AtLineAssembler assembler, string text) =>
        [.. Encoding.Latin1.GetBytes(text).Select(assembler.Push).OfType<string>()];
}
