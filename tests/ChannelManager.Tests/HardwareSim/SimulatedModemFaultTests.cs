using ChannelManager.HardwareSim.Exchange;
using ChannelManager.HardwareSim.Modems;

namespace ChannelManager.Tests.HardwareSim;

/// <summary>Injected modem faults (seed 004 row 1: the modem's fault, never a dial on the line).</summary>
public sealed class SimulatedModemFaultTests
{
    [Fact]
    public async Task Hung_AnyCommand_NoReplyNoEchoUntilUnhungAtRunTime()
    {
        await using var h = ModemHarness.Start(new ModemBehaviour { Name = "M1", Fault = ModemFault.Hung });
        await h.SendAsync("AT\r");
        await h.AdvanceAsync(TimeSpan.FromMinutes(1));
        await h.ExpectSilenceAsync();

        h.Modem.Fault = ModemFault.None;
        await h.SendAsync("AT\r");
        await h.ExpectAsync("AT\r\r\nOK\r\n");
        Assert.Equal(["AT"], h.Modem.CommandLog);    // the hung modem never parsed the first line
    }

    [Fact]
    public async Task ErrorToEverything_EvenPlainAt_Error()
    {
        await using var h = await ModemHarness.StartQuietEchoAsync();
        h.Modem.Fault = ModemFault.ErrorToEverything;
        await h.SendAsync("AT\r");
        await h.ExpectAsync("\r\nERROR\r\n");
        await h.SendAsync("ATD123\r");
        await h.ExpectAsync("\r\nERROR\r\n");
        Assert.Empty(h.Exchange.CallLog);
    }

    [Fact]
    public async Task Garbage_CommandLine_NoiseInsteadOfResult()
    {
        await using var h = ModemHarness.Start(new ModemBehaviour { Name = "M1", Fault = ModemFault.Garbage });
        await h.SendAsync("AT\r");
        var reply = await h.ReadAsync(12);
        Assert.DoesNotContain("OK", reply, StringComparison.Ordinal);
        Assert.Contains(reply, c => c is < ' ' or > '~');
        await h.ExpectSilenceAsync();
    }

    [Fact]
    public async Task InitError_CommandWithAmpersand_ErrorButPlainAtAndDialWork()
    {
        await using var h = await ModemHarness.StartQuietEchoAsync(new ModemBehaviour { Name = "M1", Fault = ModemFault.InitError });
        h.Exchange.AddLine("5", new LineBehaviour.Busy());
        await h.SendAsync("AT&FE0V1&D2\r");
        await h.ExpectAsync("\r\nERROR\r\n");
        await h.SendAsync("AT\r");
        await h.ExpectAsync("\r\nOK\r\n");
        await h.SendAsync("ATD5\r");
        await h.ExpectAsync("\r\nBUSY\r\n");
    }

    [Fact]
    public async Task NoDialTone_Dial_WaitsS6ThenNoDialtoneAndLineNeverUsed()
    {
        await using var h = await ModemHarness.StartQuietEchoAsync(new ModemBehaviour { Name = "M1", Fault = ModemFault.NoDialTone });
        h.Exchange.AddLine("5", new LineBehaviour.Answer(TimeSpan.Zero, EchoCallee.ServeAsync));
        await h.SendAsync("ATD5\r");
        await h.AdvanceAsync(TimeSpan.FromSeconds(1));
        await h.ExpectSilenceAsync();
        await h.AdvanceAsync(TimeSpan.FromSeconds(1));    // S6 = 2 s
        await h.ExpectAsync("\r\nNO DIALTONE\r\n");

        var record = Assert.Single(h.Exchange.CallLog);
        Assert.Equal(CallResult.NoDialTone, record.Result);
        Assert.False(record.ReachedLine);
        Assert.Equal(0, h.Exchange.PeakActiveCallsTo("5"));
    }

    [Fact]
    public async Task Delayed_Dial_DelayedAtX4ErrorAtX3()
    {
        await using var h = await ModemHarness.StartQuietEchoAsync(new ModemBehaviour { Name = "M1", Fault = ModemFault.Delayed });
        await h.SendAsync("ATD5\r");
        await h.ExpectAsync("\r\nDELAYED\r\n");
        await h.SendAsync("ATX3D5\r");
        await h.ExpectAsync("\r\nERROR\r\n");
        Assert.All(h.Exchange.CallLog, r => Assert.Equal(CallResult.Delayed, r.Result));
        Assert.Equal(2, h.Exchange.CallLog.Count);
    }

    [Fact]
    public async Task BlacklistAfterN_ThirdCallToSameNumber_BlacklistedOtherNumbersStillDial()
    {
        await using var h = await ModemHarness.StartQuietEchoAsync(new ModemBehaviour { Name = "M1", BlacklistAfter = 2 });
        h.Exchange.AddLine("5", new LineBehaviour.Busy());
        h.Exchange.AddLine("6", new LineBehaviour.Busy());
        await h.SendAsync("ATD5\r");
        await h.ExpectAsync("\r\nBUSY\r\n");
        await h.SendAsync("ATD5\r");
        await h.ExpectAsync("\r\nBUSY\r\n");
        await h.SendAsync("ATD5\r");
        await h.ExpectAsync("\r\nBLACKLISTED\r\n");
        await h.SendAsync("ATD6\r");
        await h.ExpectAsync("\r\nBUSY\r\n");

        Assert.Equal(2, h.Exchange.CallsTo("5").Count(c => c.ReachedLine));
        Assert.Equal(CallResult.Blacklisted, h.Exchange.CallsTo("5")[^1].Result);

        h.Modem.ClearBlacklist();
        await h.SendAsync("ATD5\r");
        await h.ExpectAsync("\r\nBUSY\r\n");
    }

    [Fact]
    public async Task Fault_ChangedDuringConnectedCall_DataStillFlows()
    {
        await using var h = await ModemHarness.StartQuietEchoAsync();
        h.Exchange.AddLine("5", new LineBehaviour.Answer(TimeSpan.Zero, EchoCallee.ServeAsync));
        await h.SendAsync("ATD5\r");
        await h.ExpectAsync("\r\nCONNECT 33600\r\n");
        h.Modem.Fault = ModemFault.ErrorToEverything;
        await h.SendAsync("AT\r");
        await h.ExpectAsync("AT\r");
    }
}
