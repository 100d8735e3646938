using System.Text;
using ChannelManager.Core;
using ChannelManager.Core.Modems;
using ChannelManager.Core.Transport;
using Microsoft.Extensions.Time.Testing;

namespace ChannelManager.Tests.Modems;

/// <summary>The engine against a small scripted modem on the other end of an in-memory link (two calls in a row).</summary>
public sealed class AtModemPeerTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 23, 9, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task DialAsync_TwoCallsEachEndedByRemoteNoCarrier_DataExactAndModemReadyBetween()
    {
        var (left, right) = InMemoryTransport.CreatePair("mem:dte", "mem:modem");
        var peer = new PeerModem(right);
        var peerTask = peer.RunAsync(calls: 2);
        await using var modem = new AtModem(left, true, ModemTestKit.Options(), _time);

        Assert.Equal(OutcomeCode.Success, (await modem.InitializeAsync(CancellationToken.None).Bounded()).Code);
        for (var call = 0; call < 2; call++)
        {
            var dial = await modem.DialAsync("01632960123", CancellationToken.None).Bounded();
            Assert.Equal(OutcomeCode.Success, dial.Code);
            Assert.Equal("9600", dial.FinalReply?.ConnectDetail);

            await modem.DataChannel.WriteAsync(new byte[] { 0x01, 0x03 }, CancellationToken.None);
            var (bytes, ended) = await modem.DataChannel.ReadAsync(100);

            // The response ends in 0x0D right before the modem's "\r\nNO CARRIER\r\n": kept as data, not eaten.
            Assert.Equal(new byte[] { 0x01, 0x83, 0x0D }, bytes);
            Assert.True(ended);
            await ModemTestKit.WaitUntilAsync(() => modem.State == ModemState.Ready);
        }

        Assert.Equal(["ATZ", ModemTestKit.InitString, "ATD01632960123", "ATD01632960123"], await peerTask.Bounded());
        await right.DisposeAsync();
    }

    /// <summary>Answers init with OK, each ATD with CONNECT 9600; in data state answers one 2-byte request, then drops carrier.</summary>
    private sealed class PeerModem(InMemoryTransport link)
    {
        private readonly byte[] _buffer = new byte[256];
        private readonly Queue<byte> _pending = new();

        public async Task<List<string>> RunAsync(int calls)
        {
            var commands = new List<string>();
            for (var i = 0; i < 2; i++)
            {
                commands.Add(await ReadLineAsync());
                await SendAsync("\r\nOK\r\n"u8.ToArray());
            }

            for (var call = 0; call < calls; call++)
            {
                commands.Add(await ReadLineAsync());
                await SendAsync("\r\nCONNECT 9600\r\n"u8.ToArray());
                _ = await ReadByteAsync();
                _ = await ReadByteAsync();
                await SendAsync([0x01, 0x83, 0x0D]);
                await SendAsync("\r\nNO CARRIER\r\n"u8.ToArray());
            }

            return commands;
        }

        private async Task<string> ReadLineAsync()
        {
            var sb = new StringBuilder();
            while (true)
            {
                var b = await ReadByteAsync();
                if (b == '\r')
                {
                    return sb.ToString();
                }

                sb.Append((char)b);
            }
        }

        private async Task<byte> ReadByteAsync()
        {
            while (_pending.Count == 0)
            {
                var n = await link.ReadAsync(_buffer, CancellationToken.None);
                if (n == 0)
                {
                    throw new InvalidOperationException("DTE closed the link early");
                }

                foreach (var b in _buffer.AsSpan(0, n).ToArray())
                {
                    _pending.Enqueue(b);
                }
            }

            return _pending.Dequeue();
        }

        private ValueTask SendAsync(byte[] bytes) => link.WriteAsync(bytes, CancellationToken.None);
    }
}
