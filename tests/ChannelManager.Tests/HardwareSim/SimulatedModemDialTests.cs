using ChannelManager.HardwareSim.Exchange;
using ChannelManager.HardwareSim.Modems;

namespace ChannelManager.Tests.HardwareSim;

/// <summary>ATD outcomes (V.250 §6.3.1), data mode, the +++ escape and carrier loss.</summary>
public sealed class SimulatedModemDialTests
{
    private static readonly TimeSpan OneSecond = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task Dial_BusyLine_ReportsBusyAfterDelayAndLogsOneAttempt()
    {
        await using var h = await ModemHarness.StartQuietEchoAsync();
        h.Exchange.AddLine("01632960124", new LineBehaviour.Busy(TimeSpan.FromSeconds(3)));

        await h.SendAsync("ATDT 01632 960124\r");
        await h.AdvanceAsync(TimeSpan.FromSeconds(2));
        await h.ExpectSilenceAsync();
        Assert.Equal(ModemState.Dialling, h.Modem.State);
        await h.AdvanceAsync(OneSecond);

        await h.ExpectAsync("\r\nBUSY\r\n");
        var call = Assert.Single(h.Exchange.CallLog);
        Assert.Equal(("M1", "01632960124", CallResult.Busy), (call.ModemName, call.Number, call.Result));
        Assert.Equal(h.Time.GetUtcNow() - TimeSpan.FromSeconds(3), call.At);
        Assert.True(call.ReachedLine);
        Assert.Equal(0, h.Exchange.ActiveCallsOn("M1"));
        Assert.Equal(ModemState.Command, h.Modem.State);
    }

    [Theory]
    [InlineData(4, "\r\nBUSY\r\n")]
    [InlineData(3, "\r\nBUSY\r\n")]
    [InlineData(2, "\r\nNO CARRIER\r\n")]
    [InlineData(0, "\r\nNO CARRIER\r\n")]
    public async Task Dial_BusyLineAtResultLevel_ReportsCodeOfThatLevel(int level, string expected)
    {
        await using var h = await ModemHarness.StartQuietEchoAsync(new ModemBehaviour { Name = "M1", ResultLevel = level });
        h.Exchange.AddLine("5", new LineBehaviour.Busy());
        await h.SendAsync("ATD5\r");
        await h.ExpectAsync(expected);
    }

    [Fact]
    public async Task Dial_NumericMode_BusyIsSevenNoAnswerIsEight()
    {
        await using var h = ModemHarness.Start(new ModemBehaviour { Name = "M1", Verbose = false, Echo = false });
        h.Exchange.AddLine("5", new LineBehaviour.Busy());
        h.Exchange.AddLine("6", new LineBehaviour.NoAnswer(TimeSpan.FromSeconds(20)));
        await h.SendAsync("ATD5\r");
        await h.ExpectAsync("7\r");
        await h.SendAsync("ATD6\r");
        await h.AdvanceAsync(TimeSpan.FromSeconds(20));
        await h.ExpectAsync("8\r");
    }

    [Fact]
    public async Task Dial_AnsweringLine_ConnectsAfterDelayAndEchoesData()
    {
        await using var h = await ModemHarness.StartQuietEchoAsync();
        h.Exchange.AddLine("01632960123", new LineBehaviour.Answer(TimeSpan.FromSeconds(5), EchoCallee.ServeAsync));

        await h.SendAsync("ATD01632960123\r");
        await h.AdvanceAsync(TimeSpan.FromSeconds(4));
        await h.ExpectSilenceAsync();
        await h.AdvanceAsync(OneSecond);
        await h.ExpectAsync("\r\nCONNECT 33600\r\n");
        Assert.Equal(ModemState.Online, h.Modem.State);

        // Data mode: bytes go to the callee and come back, AT commands are just data now.
        await h.SendAsync([0x01, 0x03, 0x00, 0x00, 0x00, 0x02, 0xC4, 0x0B]);
        await h.ExpectAsync("\x01\x03\x00\x00\x00\x02\xC4\x0B");
        await h.SendAsync("ATH\r");
        await h.ExpectAsync("ATH\r");

        var call = Assert.Single(h.Exchange.CallLog);
        Assert.Equal(CallResult.Connected, call.Result);
        Assert.Null(call.EndedAt);
        Assert.Equal(1, h.Exchange.ActiveCallsOn("M1"));
        Assert.Equal(1, h.Exchange.ActiveCallsTo("01632960123"));
    }

    [Fact]
    public async Task Dial_IntermediateResultsEnabled_CarrierProtocolCompressionThenConnect()
    {
        await using var h = await ModemHarness.StartQuietEchoAsync(new ModemBehaviour { Name = "M1", IntermediateResults = true, ConnectSpeed = 9600 });
        h.Exchange.AddLine("7", new LineBehaviour.Answer(TimeSpan.Zero, EchoCallee.ServeAsync));
        await h.SendAsync("ATD7\r");
        await h.ExpectAsync("\r\nCARRIER 9600\r\n\r\nPROTOCOL: LAPM\r\n\r\nCOMPRESSION: V42BIS\r\n\r\nCONNECT 9600\r\n");
    }

    [Fact]
    public async Task Escape_PlusPlusPlusWithGuardTimes_OkThenAthHangsUp()
    {
        await using var h = await ConnectedAsync();
        await h.SendAsync("data");
        await h.ExpectAsync("data");

        await h.AdvanceAsync(TimeSpan.FromMilliseconds(1100));   // S12 = 50 → 1 s guard before
        await h.SendAsync("+++");
        await h.AdvanceAsync(TimeSpan.FromMilliseconds(500));
        await h.ExpectSilenceAsync();                             // guard after not yet over
        await h.AdvanceAsync(TimeSpan.FromMilliseconds(600));
        await h.ExpectAsync("\r\nOK\r\n");
        Assert.Equal(ModemState.OnlineCommand, h.Modem.State);
        Assert.Equal(1, h.Exchange.ActiveCallsOn("M1"));          // the call stays up

        await h.SendAsync("ATH\r");
        await h.ExpectAsync("\r\nOK\r\n");
        Assert.Equal(ModemState.Command, h.Modem.State);
        Assert.Equal(0, h.Exchange.ActiveCallsOn("M1"));
        var call = Assert.Single(h.Exchange.CallLog);
        Assert.Equal(CallResult.Connected, call.Result);
        Assert.Equal(h.Time.GetUtcNow(), call.EndedAt);
    }

    [Fact]
    public async Task Escape_ThenAto_ResumesDataMode()
    {
        await using var h = await ConnectedAsync();
        await h.AdvanceAsync(TimeSpan.FromSeconds(2));
        await h.SendAsync("+++");
        await h.AdvanceAsync(TimeSpan.FromSeconds(2));
        await h.ExpectAsync("\r\nOK\r\n");

        await h.SendAsync("ATO\r");
        await h.ExpectAsync("\r\nCONNECT 33600\r\n");
        await h.SendAsync("again");
        await h.ExpectAsync("again");
    }

    [Fact]
    public async Task Escape_NoGuardTimeBefore_PlusesAreData()
    {
        await using var h = await ConnectedAsync();
        await h.SendAsync("ab+++");
        await h.ExpectAsync("ab+++");
        await h.AdvanceAsync(TimeSpan.FromSeconds(3));
        await h.ExpectSilenceAsync();
        Assert.Equal(ModemState.Online, h.Modem.State);
    }

    [Fact]
    public async Task Escape_DataWithinGuardTimeAfter_AbortsEscapeAndForwardsPluses()
    {
        await using var h = await ConnectedAsync();
        await h.AdvanceAsync(TimeSpan.FromSeconds(2));
        await h.SendAsync("+++");
        await h.AdvanceAsync(TimeSpan.FromMilliseconds(200));
        await h.SendAsync("x");
        await h.ExpectAsync("+++x");
        await h.AdvanceAsync(TimeSpan.FromSeconds(3));
        await h.ExpectSilenceAsync();
        Assert.Equal(ModemState.Online, h.Modem.State);
    }

    [Fact]
    public async Task DropCarrier_Injected_NoCarrierAndBackToCommandState()
    {
        await using var h = await ConnectedAsync();
        h.Modem.DropCarrier();
        await h.ExpectAsync("\r\nNO CARRIER\r\n");
        Assert.Equal(ModemState.Command, h.Modem.State);
        Assert.Equal(0, h.Exchange.ActiveCallsOn("M1"));
        Assert.NotNull(Assert.Single(h.Exchange.CallLog).EndedAt);
        await h.SendAsync("AT\r");
        await h.ExpectAsync("\r\nOK\r\n");
    }

    [Fact]
    public async Task CalleeHangsUp_AfterFirstBytes_NoCarrier()
    {
        await using var h = await ModemHarness.StartQuietEchoAsync();
        h.Exchange.AddLine("9", new LineBehaviour.Answer(TimeSpan.Zero, async (end, ct) =>
        {
            await end.WriteAsync("bye"u8.ToArray(), ct);
        }));
        await h.SendAsync("ATD9\r");
        await h.ExpectAsync("\r\nCONNECT 33600\r\nbye\r\nNO CARRIER\r\n");
        Assert.Equal(ModemState.Command, h.Modem.State);
    }

    [Fact]
    public async Task Dial_CharacterWhileDialling_AbortsWithNoCarrier()
    {
        await using var h = await ModemHarness.StartQuietEchoAsync();
        h.Exchange.AddLine("5", new LineBehaviour.NoAnswer(TimeSpan.FromSeconds(40)));
        await h.SendAsync("ATD5\r\n");        // the LF after the CR does not abort
        await h.AdvanceAsync(TimeSpan.FromSeconds(10));
        await h.ExpectSilenceAsync();
        await h.SendAsync("x");
        await h.ExpectAsync("\r\nNO CARRIER\r\n");
        Assert.Equal(CallResult.Aborted, Assert.Single(h.Exchange.CallLog).Result);
        await h.AdvanceAsync(TimeSpan.FromSeconds(60));
        await h.ExpectSilenceAsync();           // the abandoned NO ANSWER never arrives
    }

    [Fact]
    public async Task Dial_SilentLine_NoCarrierWhenS7Expires()
    {
        await using var h = await ModemHarness.StartQuietEchoAsync(new ModemBehaviour { Name = "M1", SRegisters = { [7] = 30 } });
        h.Exchange.AddLine("5", new LineBehaviour.Silent());
        await h.SendAsync("ATD5\r");
        await h.AdvanceAsync(TimeSpan.FromSeconds(29));
        await h.ExpectSilenceAsync();
        await h.AdvanceAsync(OneSecond);
        await h.ExpectAsync("\r\nNO CARRIER\r\n");
        Assert.Equal(CallResult.TimedOut, Assert.Single(h.Exchange.CallLog).Result);
    }

    [Fact]
    public async Task Dial_AnswerSlowerThanS7_NoCarrierAndNeverConnects()
    {
        await using var h = await ModemHarness.StartQuietEchoAsync(new ModemBehaviour { Name = "M1", SRegisters = { [7] = 10 } });
        h.Exchange.AddLine("5", new LineBehaviour.Answer(TimeSpan.FromSeconds(15), EchoCallee.ServeAsync));
        await h.SendAsync("ATD5\r");
        await h.AdvanceAsync(TimeSpan.FromSeconds(10));
        await h.ExpectAsync("\r\nNO CARRIER\r\n");
        await h.AdvanceAsync(TimeSpan.FromSeconds(10));
        await h.ExpectSilenceAsync();
        Assert.Equal(CallResult.TimedOut, Assert.Single(h.Exchange.CallLog).Result);
    }

    [Fact]
    public async Task Dial_SilentLineModemStaysSilent_NoReplyEvenAfterLongWait()
    {
        await using var h = await ModemHarness.StartQuietEchoAsync();
        h.Exchange.AddLine("5", new LineBehaviour.Silent(ModemStaysSilent: true));
        await h.SendAsync("ATD5\r");
        await h.AdvanceAsync(TimeSpan.FromMinutes(10));
        await h.ExpectSilenceAsync();
        Assert.Equal(CallResult.Dialling, Assert.Single(h.Exchange.CallLog).Result);
        await h.SendAsync("\r");                // the host gives up: abort
        await h.ExpectAsync("\r\nNO CARRIER\r\n");
    }

    [Fact]
    public async Task Dial_UnknownNumber_NoCarrierUnobtainable()
    {
        await using var h = await ModemHarness.StartQuietEchoAsync();
        await h.SendAsync("ATD999\r");
        await h.ExpectAsync("\r\nNO CARRIER\r\n");
        Assert.Equal(CallResult.Unobtainable, Assert.Single(h.Exchange.CallLog).Result);
    }

    [Fact]
    public async Task Dial_CommaPauses_AddS8SecondsEach()
    {
        await using var h = await ModemHarness.StartQuietEchoAsync();
        h.Exchange.AddLine("95", new LineBehaviour.Busy());
        await h.SendAsync("ATD9,,5\r");
        await h.AdvanceAsync(TimeSpan.FromSeconds(3));
        await h.ExpectSilenceAsync();
        await h.AdvanceAsync(OneSecond);           // 2 × S8 (2 s)
        await h.ExpectAsync("\r\nBUSY\r\n");
    }

    [Fact]
    public async Task Dial_TrailingSemicolon_OkWithoutDataCall()
    {
        await using var h = await ModemHarness.StartQuietEchoAsync();
        await h.SendAsync("ATD123;\r");
        await h.ExpectAsync("\r\nOK\r\n");
        Assert.Empty(h.Exchange.CallLog);
        await h.SendAsync("ATD\r");
        await h.ExpectAsync("\r\nERROR\r\n");
    }

    [Fact]
    public async Task Dial_SequenceLine_NthCallGetsNthBehaviourLastRepeats()
    {
        await using var h = await ModemHarness.StartQuietEchoAsync();
        h.Exchange.AddLine("5", new LineBehaviour.Sequence(new LineBehaviour.Busy(), new LineBehaviour.NoAnswer()));
        foreach (var expected in new[] { "BUSY", "NO ANSWER", "NO ANSWER" })
        {
            await h.SendAsync("ATD5\r");
            await h.ExpectAsync($"\r\n{expected}\r\n");
        }

        Assert.Equal([CallResult.Busy, CallResult.NoAnswer, CallResult.NoAnswer], h.Exchange.CallLog.Select(c => c.Result));
    }

    [Fact]
    public async Task Ring_AutoAnswerAfterS0Rings_CallerIdThenConnect()
    {
        await using var h = await ModemHarness.StartQuietEchoAsync(new ModemBehaviour { Name = "M1", SRegisters = { [0] = 2 } });
        await h.SendAsync("AT+CLIP=1\r");
        await h.ExpectAsync("\r\nOK\r\n");
        h.Modem.Ring("01632960999");
        await h.ExpectAsync("\r\nRING\r\n\r\n+CLIP: \"01632960999\",129\r\n");
        await h.AdvanceAsync(TimeSpan.FromSeconds(6));
        h.Modem.Ring("01632960999");
        await h.ExpectAsync("\r\nRING\r\n\r\nCONNECT 33600\r\n");
        await h.SendAsync("hi");
        await h.ExpectAsync("hi");
    }

    [Fact]
    public async Task Ring_AnsweredWithAta_Connects()
    {
        await using var h = await ModemHarness.StartQuietEchoAsync();
        await h.SendAsync("ATA\r");
        await h.ExpectAsync("\r\nNO CARRIER\r\n");  // nobody is calling
        h.Modem.Ring();
        await h.ExpectAsync("\r\nRING\r\n");
        await h.SendAsync("ATA\r");
        await h.ExpectAsync("\r\nCONNECT 33600\r\n");
        Assert.Empty(h.Exchange.CallLog);         // an incoming call is not a dial attempt
    }

    private static async Task<ModemHarness> ConnectedAsync()
    {
        var h = await ModemHarness.StartQuietEchoAsync();
        h.Exchange.AddLine("01632960123", new LineBehaviour.Answer(TimeSpan.Zero, EchoCallee.ServeAsync));
        await h.SendAsync("ATD01632960123\r");
        await h.ExpectAsync("\r\nCONNECT 33600\r\n");
        return h;
    }
}
