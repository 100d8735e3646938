namespace ChannelManager.Tests.Support;

public sealed class ScriptedTransportTests
{
    [Fact]
    public async Task WriteAsync_ExpectedBytes_ReleasesReply()
    {
        var link = new ScriptedTransport().ExpectText("AT\r").ReplyText("\r\nOK\r\n");
        await link.WriteAsync("AT\r"u8.ToArray(), CancellationToken.None);
        var buffer = new byte[16];
        var n = await link.ReadAsync(buffer, CancellationToken.None);
        Assert.Equal("\r\nOK\r\n", System.Text.Encoding.ASCII.GetString(buffer, 0, n));
        Assert.True(link.ScriptComplete);
        Assert.Empty(link.Failures);
    }

    [Fact]
    public async Task WriteAsync_WrongBytes_RecordsFailure()
    {
        var link = new ScriptedTransport().Expect("01 03 00 00 00 02 C4 0B");
        await link.WriteAsync(new byte[] { 0x01, 0x04 }, CancellationToken.None);
        Assert.Single(link.Failures);
        Assert.False(link.ScriptComplete);
    }
}
