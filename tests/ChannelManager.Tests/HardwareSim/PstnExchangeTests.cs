using ChannelManager.HardwareSim.Exchange;
using ChannelManager.HardwareSim.Modems;
using Microsoft.Extensions.Time.Testing;

namespace ChannelManager.Tests.HardwareSim;

public sealed class PstnExchangeTests
{
    [Fact]
    public async Task BeginCall_LineAlreadyInCallFromOtherModem_BusyAndViolationRecorded()
    {
        var time = new FakeTimeProvider();
        var exchange = new PstnExchange(time);
        exchange.AddLine("5", new LineBehaviour.Answer(TimeSpan.Zero, EchoCallee.ServeAsync));
        using var stop = new CancellationTokenSource();
        var bank = SimulatedModemBank.StartInProcess([new ModemBehaviour { Name = "M1", Echo = false }, new ModemBehaviour { Name = "M2", Echo = false }], exchange, time, stop.Token);

        try
        {
            await SendAndReadAsync(bank[0], "ATD5\r", "\r\nCONNECT 33600\r\n");
            await SendAndReadAsync(bank[1], "ATD5\r", "\r\nBUSY\r\n");

            var violation = Assert.Single(exchange.Violations);
            Assert.Contains("5 dialled by M2 while the line is already in a call", violation, StringComparison.Ordinal);
            Assert.Equal(1, exchange.ActiveCallsTo("5"));
            Assert.Equal(1, exchange.PeakActiveCallsOn("M1"));
            Assert.Equal(2, exchange.PeakActiveCallsTo("5"));
            Assert.Equal([CallResult.Connected, CallResult.Busy], exchange.CallLog.Select(c => c.Result));
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(bank.Select(b => b.Modem.Completion!)).WaitAsync(ModemHarness.Guard);
        }
    }

    [Fact]
    public async Task CallLog_TwoModemsDialDifferentLines_NoViolationsEachModemOneCall()
    {
        var time = new FakeTimeProvider();
        var exchange = new PstnExchange(time);
        exchange.AddLine("5", new LineBehaviour.Answer(TimeSpan.Zero, EchoCallee.ServeAsync));
        exchange.AddLine("6", new LineBehaviour.Answer(TimeSpan.Zero, EchoCallee.ServeAsync));
        using var stop = new CancellationTokenSource();
        var bank = SimulatedModemBank.StartInProcess([new ModemBehaviour { Name = "M1", Echo = false }, new ModemBehaviour { Name = "M2", Echo = false }], exchange, time, stop.Token);
        try
        {
            await SendAndReadAsync(bank[0], "ATD5\r", "\r\nCONNECT 33600\r\n");
            await SendAndReadAsync(bank[1], "ATD6\r", "\r\nCONNECT 33600\r\n");
            Assert.Empty(exchange.Violations);
            Assert.Equal(1, exchange.ActiveCallsOn("M1"));
            Assert.Equal(1, exchange.ActiveCallsOn("M2"));
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(bank.Select(b => b.Modem.Completion!)).WaitAsync(ModemHarness.Guard);
        }

        // Switching the bank off hangs every call up.
        Assert.Equal(0, exchange.ActiveCallsOn("M1"));
        Assert.All(exchange.CallLog, c => Assert.NotNull(c.EndedAt));
    }

    [Fact]
    public void NormaliseNumber_DialModifiersAndSpaces_Removed() =>
        Assert.Equal("9016329601*#", PstnExchange.NormaliseNumber("T9,W 01632-960 1*#;"));

    [Fact]
    public void AddLine_NoDigits_Throws() =>
        Assert.Throws<ArgumentException>(() => new PstnExchange(TimeProvider.System).AddLine("T,W", new LineBehaviour.Busy()));

    private static async Task SendAndReadAsync((SimulatedModem Modem, ChannelManager.Core.Transport.IChannelTransport HostEnd) m, string command, string expected)
    {
        using var guard = new CancellationTokenSource(ModemHarness.Guard);
        await m.HostEnd.WriteAsync(System.Text.Encoding.ASCII.GetBytes(command), guard.Token);
        var got = new List<byte>();
        var buffer = new byte[256];
        while (got.Count < expected.Length)
        {
            var n = await m.HostEnd.ReadAsync(buffer, guard.Token);
            got.AddRange(buffer.AsSpan(0, n).ToArray());
        }

        Assert.Equal(ModemHarness.Escape(expected), ModemHarness.Escape(System.Text.Encoding.ASCII.GetString(got.ToArray())));
    }
}
