using System.Text;
using ChannelManager.Core.Modems;
using CsCheck;

namespace ChannelManager.Tests.Modems;

public sealed class CarrierLossDetectorTests
{
    [Fact]
    public void Feed_PatternSplitAcrossChunks_MatchedAndPrecedingDataPassed()
    {
        var detector = new CarrierLossDetector();
        var data = new List<byte>();

        var n1 = detector.Feed(Encoding.ASCII.GetBytes("\x05\x06\r\nNO CAR"), data, out var m1);
        var tail = Encoding.ASCII.GetBytes("RIER\r\nOK");
        var n2 = detector.Feed(tail, data, out var m2);

        Assert.False(m1);
        Assert.Equal(10, n1);
        Assert.True(m2);
        Assert.Equal(6, n2); // "OK" belongs to command state
        Assert.Equal(new byte[] { 5, 6 }, data);
    }

    [Fact]
    public void Feed_NearMiss_AllBytesAreData()
    {
        var detector = new CarrierLossDetector();
        var data = new List<byte>();
        var input = Encoding.ASCII.GetBytes("\r\nNO CARRIES\r\r\nX");

        detector.Feed(input, data, out var matched);

        Assert.False(matched);
        Assert.False(detector.HasHeldBytes);
        Assert.Equal(input, data);
    }

    [Fact]
    public void Release_HeldPrefix_ReturnedAsData()
    {
        var detector = new CarrierLossDetector();
        var data = new List<byte>();

        detector.Feed(new byte[] { 0x01, 0x0D, 0x0A, 0x4E }, data, out _);
        Assert.Equal(new byte[] { 0x01 }, data);
        detector.Release(data);

        Assert.Equal(new byte[] { 0x01, 0x0D, 0x0A, 0x4E }, data);
    }

    [Fact]
    public void Feed_RandomBinaryWithoutPattern_PassesThroughUnchanged()
    {
        Gen.Byte.Array[0, 200].Sample(bytes =>
        {
            var text = Encoding.Latin1.GetString(bytes);
            if (text.Contains("\r\nNO CARRIER\r\n", StringComparison.Ordinal))
            {
                return;
            }

            var detector = new CarrierLossDetector();
            var data = new List<byte>();
            detector.Feed(bytes, data, out var matched);
            detector.Release(data);
            Assert.False(matched);
            Assert.Equal(bytes, data);
        });
    }

    [Fact]
    public void Feed_NearMissesAndPatternInRandomChunks_DataIsExactlyTheBytesBeforeTheFirstMatch()
    {
        // Bytes drawn mostly from the pattern's own alphabet, so partial matches, restarts ("\r\r\nNO") and the
        // pattern itself all occur; fed in random chunk sizes. Reference: a plain search for the first occurrence.
        var pattern = Encoding.ASCII.GetBytes("\r\nNO CARRIER\r\n");
        var alphabet = Encoding.ASCII.GetBytes("\r\nNO CARIE\x00\xFF");
        var gen = Gen.Select(Gen.Int[0, alphabet.Length - 1].Array[0, 120], Gen.Bool, Gen.Int[1, 7].Array[1, 40]);
        gen.Sample((picks, embed, chunks) =>
        {
            var stream = picks.Select(i => alphabet[i]).ToList();
            if (embed)
            {
                stream.InsertRange(stream.Count / 2, pattern);
            }

            var bytes = stream.ToArray();
            var first = bytes.AsSpan().IndexOf(pattern);
            var detector = new CarrierLossDetector();
            var data = new List<byte>();
            var offset = 0;
            var matched = false;
            for (var c = 0; offset < bytes.Length && !matched; c++)
            {
                var size = Math.Min(chunks[c % chunks.Length], bytes.Length - offset);
                offset += detector.Feed(bytes.AsSpan(offset, size), data, out matched);
            }

            if (!matched)
            {
                detector.Release(data);
            }

            Assert.Equal(first >= 0, matched);
            Assert.Equal(first >= 0 ? bytes[..first] : bytes, data.ToArray());
            Assert.Equal(first >= 0 ? first + pattern.Length : bytes.Length, offset);
        });
    }
}
