using ChannelManager.HardwareSim.Exchange;
using ChannelManager.HardwareSim.Modems;

namespace ChannelManager.Tests.HardwareSim;

/// <summary>The simulator process's run-time control commands (one per stdin line).</summary>
public sealed class ModemProcessControlTests
{
    [Fact]
    public async Task Control_FaultCommand_ChangesRunningModemsFault()
    {
        await using var h = await ModemHarness.StartQuietEchoAsync();
        var running = new ModemProcess.RunningModems();
        running.Add(h.Modem);

        Assert.Equal("OK fault M1 ErrorToEverything", ModemProcess.Control("fault M1 ErrorToEverything", running, h.Exchange));
        await h.SendAsync("AT\r");
        await h.ExpectAsync("\r\nERROR\r\n");
        Assert.Equal("OK fault * none", ModemProcess.Control("fault * none", running, h.Exchange));
        await h.SendAsync("AT\r");
        await h.ExpectAsync("\r\nOK\r\n");
    }

    [Fact]
    public async Task Control_DropAndRing_ActOnTheModem()
    {
        await using var h = await ModemHarness.StartQuietEchoAsync();
        h.Exchange.AddLine("5", new LineBehaviour.Answer(TimeSpan.Zero, EchoCallee.ServeAsync));
        var running = new ModemProcess.RunningModems();
        running.Add(h.Modem);
        await h.SendAsync("ATD5\r");
        await h.ExpectAsync("\r\nCONNECT 33600\r\n");

        Assert.StartsWith("OK", ModemProcess.Control("drop M1", running, h.Exchange), StringComparison.Ordinal);
        await h.ExpectAsync("\r\nNO CARRIER\r\n");
        Assert.StartsWith("OK", ModemProcess.Control("ring * 01632960999", running, h.Exchange), StringComparison.Ordinal);
        await h.ExpectAsync("\r\nRING\r\n");
        Assert.Equal("OK calls 1", ModemProcess.Control("calls", running, h.Exchange));
    }

    [Theory]
    [InlineData("fault M1 Wobbly", "ERR unknown fault 'Wobbly'")]
    [InlineData("fault M9 Hung", "ERR no running modem 'M9'")]
    [InlineData("explode", "ERR unknown command 'explode'")]
    [InlineData("", "ERR empty command")]
    public async Task Control_BadCommand_ErrNamingTheProblem(string line, string expectedStart)
    {
        await using var h = ModemHarness.Start();
        var running = new ModemProcess.RunningModems();
        running.Add(h.Modem);
        Assert.StartsWith(expectedStart, ModemProcess.Control(line, running, h.Exchange), StringComparison.Ordinal);
        Assert.Equal(ModemFault.None, h.Modem.Fault);
    }
}
