using ChannelManager.Core;
using ChannelManager.Core.Modems;
using ChannelManager.HardwareSim.Exchange;
using ChannelManager.HardwareSim.Modems;

namespace ChannelManager.IntegrationTests.Modems;

/// <summary>The real AT engine against the simulated modem in real time (timer races show up here, not under a fake clock).</summary>
public sealed class AtModemAgainstSimulatorTests
{
    [Fact]
    public async Task HangUpAsync_RightAfterData_EscapesEveryTime()
    {
        var time = TimeProvider.System;
        var exchange = new PstnExchange(time);
        exchange.AddLine("0100", new LineBehaviour.Answer(TimeSpan.FromMilliseconds(20), EchoCallee.ServeAsync));
        using var stop = new CancellationTokenSource();
        // S12 = 10: a 0.2 s escape guard time; the engine's guard is longer, as it must be.
        var ports = SimulatedModemBank.StartInProcess([new ModemBehaviour { Name = "M1", SRegisters = { [12] = 10 } }], exchange, time, stop.Token);
        await using var modem = new AtModem(ports[0].HostEnd, ownsTransport: true, new AtModemOptions
        {
            Name = "M1",
            CommandTimeout = TimeSpan.FromSeconds(1),
            DialTimeout = TimeSpan.FromSeconds(5),
            EscapeGuardTime = TimeSpan.FromMilliseconds(300),
        }, time);

        var failures = new List<string>();
        for (var call = 0; call < 6; call++)
        {
            var init = await modem.InitializeAsync(CancellationToken.None);
            var dial = await modem.DialAsync("0100", CancellationToken.None);
            if (!init.IsSuccess || !dial.IsSuccess)
            {
                failures.Add($"call {call}: init {init.Code}, dial {dial.Code} '{dial.RawReply}'");
                break;
            }

            await modem.DataChannel.WriteAsync(new byte[] { 0x01, 0x03, 0x00, 0x00, 0x00, 0x04 }, CancellationToken.None);
            var echo = new byte[6];
            using (var read = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
            {
                var got = 0;
                while (got < echo.Length)
                {
                    got += await modem.DataChannel.ReadAsync(echo.AsMemory(got), read.Token);
                }
            }

            // No pause after the data: the engine's own guard time must make the escape valid.
            var hangUp = await modem.HangUpAsync(CancellationToken.None);
            if (!hangUp.IsSuccess)
            {
                failures.Add($"call {call}: hang-up {hangUp.Code} '{hangUp.RawReply}', simulator state {ports[0].Modem.State}");
                break;
            }
        }

        Assert.True(failures.Count == 0, string.Join('\n', failures));
        Assert.Equal(6, exchange.CallsTo("0100").Count);
        Assert.Empty(exchange.Violations);
    }
}
