using System.Text;
using ChannelManager.Core;
using ChannelManager.Core.Modems;
using ChannelManager.Core.Transport;
using ChannelManager.Tests.Support;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;

namespace ChannelManager.Tests.Modems;

/// <summary>Wire-script tests of the AT engine (style.md "Tests"): exact bytes written, replies injected, fake clock.</summary>
public sealed class AtModemTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 23, 9, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task InitializeAsync_ModemAnswersOk_SuccessAndReady()
    {
        var wire = new ScriptedTransport().WithInit();
        await using var modem = new AtModem(wire, false, ModemTestKit.Options(), _time);

        var result = await modem.InitializeAsync(CancellationToken.None).Bounded();

        Assert.Equal(OutcomeCode.Success, result.Code);
        Assert.Equal(ModemState.Ready, modem.State);
        Assert.Equal("OK\nOK", result.RawReply);
        wire.AssertScriptDone();
    }

    [Fact]
    public async Task InitializeAsync_InitStringAnsweredError_ModemErrorAndFaulted()
    {
        var wire = new ScriptedTransport()
            .ExpectText("ATZ\r").ReplyText("\r\nOK\r\n")
            .ExpectText("ATE0V1Q0X4&D2\r").ReplyText("\r\nERROR\r\n");
        await using var modem = new AtModem(wire, false, ModemTestKit.Options(), _time);

        var result = await modem.InitializeAsync(CancellationToken.None).Bounded();

        Assert.Equal(OutcomeCode.ModemError, result.Code);
        Assert.Equal(OutcomeCategory.ChannelAllocation, result.Category);
        Assert.Equal(ModemReplyKind.Error, result.FinalReply?.Kind);
        Assert.Equal(ModemState.Faulted, modem.State);
        wire.AssertScriptDone();
    }

    [Fact]
    public async Task InitializeAsync_EchoOn_EchoDroppedAndOk()
    {
        // E1 (V.250 §6.2.4): the modem echoes each command line, then sends its result.
        var wire = new ScriptedTransport()
            .ExpectText("ATZ\r").ReplyText("ATZ\r\r\nOK\r\n")
            .ExpectText("ATE0V1Q0X4&D2\r").ReplyText("ATE0V1Q0X4&D2\r\r\nOK\r\n");
        await using var modem = new AtModem(wire, false, ModemTestKit.Options(), _time);

        var result = await modem.InitializeAsync(CancellationToken.None).Bounded();

        Assert.Equal(OutcomeCode.Success, result.Code);
        Assert.Equal("OK\nOK", result.RawReply);
        wire.AssertScriptDone();
    }

    [Fact]
    public async Task InitializeAsync_NumericResultCodes_Success()
    {
        // V0 (V.250 §6.2.6): numeric result codes terminated by CR only; with echo on.
        var wire = new ScriptedTransport()
            .ExpectText("ATZ\r").ReplyText("ATZ\r0\r")
            .ExpectText("ATE0V0\r").ReplyText("ATE0V0\r0\r");
        await using var modem = new AtModem(wire, false, ModemTestKit.Options(o => o.InitString = "ATE0V0"), _time);

        var result = await modem.InitializeAsync(CancellationToken.None).Bounded();

        Assert.Equal(OutcomeCode.Success, result.Code);
        Assert.Equal(0, result.FinalReply?.NumericCode);
        wire.AssertScriptDone();
    }

    [Fact]
    public async Task CheckAsync_NoReply_ModemNotRespondingAfterCommandTimeout()
    {
        var wire = new ScriptedTransport().ExpectText("AT\r");
        await using var modem = new AtModem(wire, false, ModemTestKit.Options(), _time);

        var task = modem.CheckAsync(CancellationToken.None);
        await _time.AdvanceUntilAsync(() => task.IsCompleted, TimeSpan.FromMilliseconds(50));
        var result = await task;

        // Never before CommandTimeout (2 s); the upper bound only allows for the test's own clock stepping.
        Assert.Equal(OutcomeCode.ModemNotResponding, result.Code);
        Assert.InRange(result.Elapsed, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(3));
        Assert.Equal(ModemState.Faulted, modem.State);
        wire.AssertScriptDone();
    }

    [Fact]
    public async Task CheckAsync_RingArrivesDuringCommand_OkAndRingOnUnsolicited()
    {
        var wire = new ScriptedTransport().ExpectText("AT\r").ReplyText("\r\nRING\r\n\r\nOK\r\n");
        await using var modem = new AtModem(wire, false, ModemTestKit.Options(), _time);

        var result = await modem.CheckAsync(CancellationToken.None).Bounded();

        Assert.Equal(OutcomeCode.Success, result.Code);
        Assert.Equal("OK", result.RawReply);
        var ring = await modem.Unsolicited.ReadAsync().AsTask().Bounded();
        Assert.Equal(ModemReplyKind.Ring, ring.Kind);
    }

    [Fact]
    public async Task Unsolicited_CregWhileIdle_Published()
    {
        var wire = new ScriptedTransport().WithInit();
        await using var modem = new AtModem(wire, false, ModemTestKit.Options(), _time);
        await modem.InitializeAsync(CancellationToken.None).Bounded();

        wire.Inject("\r\n+CREG: 5\r\n");
        var reply = await modem.Unsolicited.ReadAsync().AsTask().Bounded();

        Assert.Equal(new ModemReply(ModemReplyKind.Unsolicited, "+CREG: 5"), reply);
        Assert.Equal(ModemState.Ready, modem.State);
    }

    [Fact]
    public async Task CheckAsync_GarbageBytes_ModemErrorCarryingEscapedRawText()
    {
        var wire = new ScriptedTransport().ExpectText("AT\r").ReplyBytes(0x0D, 0x0A, 0xFF, 0xFE, 0x00, 0x4F, 0x0D, 0x0A);
        await using var modem = new AtModem(wire, false, ModemTestKit.Options(), _time);

        var result = await modem.CheckAsync(CancellationToken.None).Bounded();

        Assert.Equal(OutcomeCode.ModemError, result.Code);
        Assert.Equal(ModemReplyKind.Garbage, result.FinalReply?.Kind);
        Assert.Equal("\\xFF\\xFE\\x00O", result.RawReply);
        Assert.Equal(ModemState.Faulted, modem.State);
    }

    [Fact]
    public async Task CheckAsync_OverLongLine_GarbageCappedAtMaxLineLength()
    {
        var wire = new ScriptedTransport().ExpectText("AT\r").ReplyText("\r\n" + new string('Z', 5000) + "\r\n");
        await using var modem = new AtModem(wire, false, ModemTestKit.Options(o => o.MaxLineLength = 64), _time);

        var result = await modem.CheckAsync(CancellationToken.None).Bounded();

        Assert.Equal(OutcomeCode.ModemError, result.Code);
        Assert.Equal(ModemReplyKind.Garbage, result.FinalReply?.Kind);
        Assert.Equal(new string('Z', 64) + "...", result.FinalReply?.Text);
    }

    [Fact]
    public async Task IdentifyAsync_InformationLines_InRawReply()
    {
        var wire = new ScriptedTransport().ExpectText("ATI\r").ReplyText("\r\nU.S. Robotics 56K FAX EXT\r\n\r\nOK\r\n");
        await using var modem = new AtModem(wire, false, ModemTestKit.Options(), _time);

        var result = await modem.IdentifyAsync(CancellationToken.None).Bounded();

        Assert.Equal(OutcomeCode.Success, result.Code);
        Assert.Equal("U.S. Robotics 56K FAX EXT\nOK", result.RawReply);
    }

    [Fact]
    public async Task IdentifyAsync_EchoOnAndIdentityStartingWithAt_EchoDroppedIdentityKept()
    {
        // E1: the modem echoes "ATI"; its identity text also starts with "AT" but is not the echo.
        var wire = new ScriptedTransport().ExpectText("ATI\r").ReplyText("ATI\r\r\nATPTY-3 V.34 modem\r\n\r\nOK\r\n");
        await using var modem = new AtModem(wire, false, ModemTestKit.Options(), _time);

        var result = await modem.IdentifyAsync(CancellationToken.None).Bounded();

        Assert.Equal(OutcomeCode.Success, result.Code);
        Assert.Equal("ATPTY-3 V.34 modem\nOK", result.RawReply);
    }

    [Theory]
    [InlineData("\r\nBUSY\r\n", OutcomeCode.Busy, ModemState.Ready)]
    [InlineData("\r\nNO ANSWER\r\n", OutcomeCode.NoAnswer, ModemState.Ready)]
    [InlineData("\r\nNO CARRIER\r\n", OutcomeCode.NoCarrier, ModemState.Ready)]
    [InlineData("\r\nNO DIALTONE\r\n", OutcomeCode.NoDialTone, ModemState.Faulted)]
    [InlineData("\r\nNO DIAL TONE\r\n", OutcomeCode.NoDialTone, ModemState.Faulted)]
    [InlineData("\r\nBLACKLISTED\r\n", OutcomeCode.CallBarredByModem, ModemState.Faulted)]
    [InlineData("24\r", OutcomeCode.CallBarredByModem, ModemState.Faulted)]
    [InlineData("\r\n+CME ERROR: 257\r\n", OutcomeCode.CallBarredByModem, ModemState.Faulted)]
    [InlineData("\r\nERROR\r\n", OutcomeCode.ModemError, ModemState.Faulted)]
    public async Task DialAsync_FinalResult_TypedOutcomeAndState(string reply, OutcomeCode expected, ModemState state)
    {
        var wire = new ScriptedTransport().WithInit().ExpectText("ATD01632960123\r").ReplyText(reply);
        await using var modem = new AtModem(wire, false, ModemTestKit.Options(), _time);
        await modem.InitializeAsync(CancellationToken.None).Bounded();

        var result = await modem.DialAsync("01632960123", CancellationToken.None).Bounded();

        Assert.Equal(expected, result.Code);
        Assert.Equal(state, modem.State);
        wire.AssertScriptDone();
    }

    [Fact]
    public async Task DialAsync_ConnectAfterIntermediateLines_OnlineAndDataPassesThrough()
    {
        var wire = new ScriptedTransport().WithInit()
            .ExpectText("ATD01632960123\r")
            .ReplyText("\r\nCARRIER 33600\r\n\r\nPROTOCOL: LAPM\r\n\r\nCOMPRESSION: V42BIS\r\n\r\nCONNECT 33600\r\n")
            .ReplyBytes(0x0A, 0x01, 0x03, 0x04); // data right behind CONNECT, starting with LF (Modbus unit 10)
        await using var modem = new AtModem(wire, false, ModemTestKit.Options(), _time);
        await modem.InitializeAsync(CancellationToken.None).Bounded();

        var result = await modem.DialAsync("01632960123", CancellationToken.None).Bounded();

        Assert.Equal(OutcomeCode.Success, result.Code);
        Assert.Equal("33600", result.FinalReply?.ConnectDetail);
        Assert.Equal("CARRIER 33600\nPROTOCOL: LAPM\nCOMPRESSION: V42BIS\nCONNECT 33600", result.RawReply);
        Assert.Equal(ModemState.Online, modem.State);
        var (bytes, ended) = await modem.DataChannel.ReadAsync(4);
        Assert.False(ended);
        Assert.Equal(new byte[] { 0x0A, 0x01, 0x03, 0x04 }, bytes);
    }

    [Fact]
    public async Task DialAsync_NoFinalResult_DialTimeoutFromS7AndAbortCharacterSent()
    {
        // S7=20 in the init string: dial timeout = 20 s + 10 s margin.
        var wire = new ScriptedTransport()
            .ExpectText("ATZ\r").ReplyText("\r\nOK\r\n")
            .ExpectText("ATE0V1Q0X4&D2S7=20\r").ReplyText("\r\nOK\r\n")
            .ExpectText("ATD123\r")
            .ExpectText("\r").ReplyText("\r\nNO CARRIER\r\n");
        await using var modem = new AtModem(wire, false, ModemTestKit.Options(o => o.InitString = "ATE0V1Q0X4&D2S7=20"), _time);
        await modem.InitializeAsync(CancellationToken.None).Bounded();

        var task = modem.DialAsync("123", CancellationToken.None);
        await _time.AdvanceUntilAsync(() => wire.ScriptComplete, TimeSpan.FromMilliseconds(100));
        var result = await task.Bounded();

        Assert.Equal(OutcomeCode.DialTimeout, result.Code);
        Assert.InRange(result.Elapsed, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(32));
        Assert.Equal(ModemState.Ready, modem.State);
        Assert.EndsWith("ATD123\r\r", wire.WrittenText(), StringComparison.Ordinal);
        wire.AssertScriptDone();
    }

    [Fact]
    public async Task DialAsync_ConnectRacesTheAbort_CallHungUpAndDialTimeout()
    {
        var wire = new ScriptedTransport().WithInit()
            .ExpectText("ATD123\r")
            .ExpectText("\r").ReplyText("\r\nCONNECT 9600\r\n")
            .ExpectText("+++").ReplyText("\r\nOK\r\n")
            .ExpectText("ATH\r").ReplyText("\r\nOK\r\n");
        await using var modem = new AtModem(wire, false, ModemTestKit.Options(o => o.DialTimeout = TimeSpan.FromSeconds(5)), _time);
        await modem.InitializeAsync(CancellationToken.None).Bounded();

        var task = modem.DialAsync("123", CancellationToken.None);
        await _time.AdvanceUntilAsync(() => task.IsCompleted, TimeSpan.FromMilliseconds(100));
        var result = await task;

        Assert.Equal(OutcomeCode.DialTimeout, result.Code);
        Assert.Equal(ModemState.Ready, modem.State);
        wire.AssertScriptDone();
    }

    [Fact]
    public async Task CheckAsync_PeerClosesLink_TransportFailureAndFaulted()
    {
        var wire = new ScriptedTransport().ExpectText("AT\r").ThenClose();
        await using var modem = new AtModem(wire, false, ModemTestKit.Options(), _time);

        var result = await modem.CheckAsync(CancellationToken.None).Bounded();

        Assert.Equal(OutcomeCode.TransportFailure, result.Code);
        Assert.Contains("link closed", result.RawReply, StringComparison.Ordinal);
        Assert.Equal(ModemState.Faulted, modem.State);
    }

    [Fact]
    public async Task DialAsync_Cancelled_AbortCharacterSentAndCancelled()
    {
        var wire = new ScriptedTransport().WithInit()
            .ExpectText("ATD123\r")
            .ExpectText("\r").ReplyText("\r\nNO CARRIER\r\n");
        await using var modem = new AtModem(wire, false, ModemTestKit.Options(), _time);
        await modem.InitializeAsync(CancellationToken.None).Bounded();
        using var cts = new CancellationTokenSource();

        var task = modem.DialAsync("123", cts.Token);
        await ModemTestKit.WaitUntilAsync(() => wire.WrittenText().EndsWith("ATD123\r", StringComparison.Ordinal));
        await cts.CancelAsync();
        var result = await task.Bounded();

        Assert.Equal(OutcomeCode.Cancelled, result.Code);
        Assert.Equal(ModemState.Ready, modem.State);
        wire.AssertScriptDone();
    }

    [Fact]
    public async Task HangUpAsync_NoControlLines_GuardTimePlusEscapeThenAth()
    {
        var wire = new ScriptedTransport().WithInit()
            .ExpectText("ATD123\r").ReplyText("\r\nCONNECT 9600\r\n")
            .ExpectText("+++").ReplyText("\r\nOK\r\n")
            .ExpectText("ATH\r").ReplyText("\r\nOK\r\n");
        await using var modem = new AtModem(wire, false, ModemTestKit.Options(), _time);
        await modem.InitializeAsync(CancellationToken.None).Bounded();
        await modem.DialAsync("123", CancellationToken.None).Bounded();
        var data = modem.DataChannel;
        var before = wire.Written.Count;
        var start = _time.GetUtcNow();

        var task = modem.HangUpAsync(CancellationToken.None);
        await _time.AdvanceUntilAsync(() => wire.Written.Count > before, TimeSpan.FromMilliseconds(100));
        var escapeAt = _time.GetUtcNow() - start;
        var result = await task.Bounded();

        // Leading guard: no byte may precede "+++" for EscapeGuardTime (1 s).
        Assert.InRange(escapeAt, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1.5));
        Assert.Equal(OutcomeCode.Success, result.Code);
        Assert.Equal(ModemState.Ready, modem.State);
        Assert.EndsWith("+++ATH\r", wire.WrittenText(), StringComparison.Ordinal);
        Assert.True((await data.ReadAsync(1)).Ended);
        wire.AssertScriptDone();
    }

    [Fact]
    public async Task HangUpAsync_ControlLines_DtrDroppedThenAth()
    {
        var lines = Substitute.For<IModemControlLines>();
        lines.CarrierDetect.Returns(true);
        var wire = new ScriptedTransport { ControlLines = lines }.WithInit()
            .ExpectText("ATD123\r").ReplyText("\r\nCONNECT\r\n")
            .ExpectText("ATH\r").ReplyText("\r\nOK\r\n");
        await using var modem = new AtModem(wire, false, ModemTestKit.Options(), _time);
        await modem.InitializeAsync(CancellationToken.None).Bounded();
        await modem.DialAsync("123", CancellationToken.None).Bounded();

        var task = modem.HangUpAsync(CancellationToken.None);
        await _time.AdvanceUntilAsync(() => task.IsCompleted || wire.ScriptComplete, TimeSpan.FromMilliseconds(100));
        var result = await task.Bounded();

        Assert.Equal(OutcomeCode.Success, result.Code);
        var dtr = lines.ReceivedCalls()
            .Where(c => c.GetMethodInfo().Name == nameof(IModemControlLines.SetDataTerminalReadyAsync))
            .Select(c => (bool)c.GetArguments()[0]!) // the first argument is the non-null bool 'asserted'
            .ToList();
        Assert.Equal([false, true], dtr);
        Assert.DoesNotContain("+++", wire.WrittenText(), StringComparison.Ordinal);
        wire.AssertScriptDone();
    }

    [Fact]
    public async Task DataChannel_NoCarrierInDataMode_ReadReturnsZeroAndModemReady()
    {
        var wire = new ScriptedTransport().WithInit()
            .ExpectText("ATD123\r").ReplyText("\r\nCONNECT 9600\r\n")
            .ExpectText("\x01\x03").ReplyBytes(0x01, 0x0D, 0x0A, 0x4E, 0x4F, 0x02) // "\r\nNO" inside data, then not a match
            .ReplyText("\r\nNO CARRIER\r\n");
        await using var modem = new AtModem(wire, false, ModemTestKit.Options(), _time);
        await modem.InitializeAsync(CancellationToken.None).Bounded();
        await modem.DialAsync("123", CancellationToken.None).Bounded();

        await modem.DataChannel.WriteAsync(new byte[] { 0x01, 0x03 }, CancellationToken.None);
        var (bytes, ended) = await modem.DataChannel.ReadAsync(100);

        Assert.Equal(new byte[] { 0x01, 0x0D, 0x0A, 0x4E, 0x4F, 0x02 }, bytes);
        Assert.True(ended);
        await ModemTestKit.WaitUntilAsync(() => modem.State == ModemState.Ready);
        await Assert.ThrowsAsync<TransportFailureException>(async () => await modem.DataChannel.WriteAsync(new byte[] { 1 }, CancellationToken.None));
    }

    [Fact]
    public async Task DataChannel_WriteAfterNoCarrierWithUnreadData_ThrowsSoBytesNeverReachCommandState()
    {
        var wire = new ScriptedTransport().WithInit()
            .ExpectText("ATD123\r").ReplyText("\r\nCONNECT 9600\r\n")
            .ExpectText("\x01").ReplyBytes(0x07, 0x08).ReplyText("\r\nNO CARRIER\r\n");
        await using var modem = new AtModem(wire, false, ModemTestKit.Options(), _time);
        await modem.InitializeAsync(CancellationToken.None).Bounded();
        await modem.DialAsync("123", CancellationToken.None).Bounded();
        var data = modem.DataChannel;

        await data.WriteAsync(new byte[] { 0x01 }, CancellationToken.None);
        await ModemTestKit.WaitUntilAsync(() => modem.State == ModemState.Ready);

        await Assert.ThrowsAsync<TransportFailureException>(async () => await data.WriteAsync("AT"u8.ToArray(), CancellationToken.None));
        var (bytes, ended) = await data.ReadAsync(10);
        Assert.Equal(new byte[] { 0x07, 0x08 }, bytes);
        Assert.True(ended);
        Assert.EndsWith("\x01", wire.WrittenText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task DataChannel_CarrierDetectDrops_ReadReturnsZeroAndModemReady()
    {
        var lines = Substitute.For<IModemControlLines>();
        var carrier = true;
        lines.CarrierDetect.Returns(_ => carrier);
        var wire = new ScriptedTransport { ControlLines = lines }.WithInit()
            .ExpectText("ATD123\r").ReplyText("\r\nCONNECT 9600\r\n");
        await using var modem = new AtModem(wire, false, ModemTestKit.Options(), _time);
        await modem.InitializeAsync(CancellationToken.None).Bounded();
        await modem.DialAsync("123", CancellationToken.None).Bounded();

        var read = modem.DataChannel.ReadAsync(new byte[8], CancellationToken.None).AsTask();
        _time.Advance(TimeSpan.FromSeconds(1));
        await Task.Delay(TimeSpan.FromMilliseconds(20), TimeProvider.System);
        Assert.False(read.IsCompleted); // CD still up: the read keeps waiting
        carrier = false;
        await _time.AdvanceUntilAsync(() => read.IsCompleted, TimeSpan.FromMilliseconds(50));

        Assert.Equal(0, await read);
        await ModemTestKit.WaitUntilAsync(() => modem.State == ModemState.Ready);
    }

    [Fact]
    public async Task DataChannel_FrameEndsInCarriageReturn_ReleasedAfterHoldBackTime()
    {
        var wire = new ScriptedTransport().WithInit()
            .ExpectText("ATD123\r").ReplyText("\r\nCONNECT 9600\r\n")
            .ExpectText("\x01").ReplyBytes(0x01, 0x03, 0x0D);
        await using var modem = new AtModem(wire, false, ModemTestKit.Options(), _time);
        await modem.InitializeAsync(CancellationToken.None).Bounded();
        await modem.DialAsync("123", CancellationToken.None).Bounded();
        var start = _time.GetUtcNow();

        await modem.DataChannel.WriteAsync(new byte[] { 0x01 }, CancellationToken.None);
        var buffer = new byte[16];
        var first = await modem.DataChannel.ReadAsync(buffer, CancellationToken.None).AsTask().Bounded();
        Assert.Equal(new byte[] { 0x01, 0x03 }, buffer[..first]);

        // The trailing CR could start "\r\nNO CARRIER\r\n": it is held until the hold-back time passes quietly.
        var second = modem.DataChannel.ReadAsync(buffer, CancellationToken.None).AsTask();
        await Task.Delay(TimeSpan.FromMilliseconds(20), TimeProvider.System);
        Assert.False(second.IsCompleted);
        await _time.AdvanceUntilAsync(() => second.IsCompleted, TimeSpan.FromMilliseconds(10));
        Assert.Equal(1, await second);
        Assert.Equal(0x0D, buffer[0]);
        Assert.InRange(_time.GetUtcNow() - start, TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(150));
    }

    [Fact]
    public async Task AnswerAsync_AfterRing_ConnectOnline()
    {
        var wire = new ScriptedTransport().WithInit()
            .ExpectText("ATA\r").ReplyText("\r\nCONNECT 2400\r\n");
        await using var modem = new AtModem(wire, false, ModemTestKit.Options(), _time);
        await modem.InitializeAsync(CancellationToken.None).Bounded();
        wire.Inject("\r\nRING\r\n");
        Assert.Equal(ModemReplyKind.Ring, (await modem.Unsolicited.ReadAsync().AsTask().Bounded()).Kind);

        var result = await modem.AnswerAsync(CancellationToken.None).Bounded();

        Assert.Equal(OutcomeCode.Success, result.Code);
        Assert.Equal(ModemState.Online, modem.State);
    }

    [Fact]
    public async Task ResetAsync_Online_EscapeHangUpAndReinitialise()
    {
        var wire = new ScriptedTransport().WithInit()
            .ExpectText("ATD123\r").ReplyText("\r\nCONNECT\r\n")
            .ExpectText("+++").ReplyText("\r\nOK\r\n")
            .ExpectText("ATH\r").ReplyText("\r\nOK\r\n")
            .WithInit();
        await using var modem = new AtModem(wire, false, ModemTestKit.Options(), _time);
        await modem.InitializeAsync(CancellationToken.None).Bounded();
        await modem.DialAsync("123", CancellationToken.None).Bounded();

        var task = modem.ResetAsync(CancellationToken.None);
        await _time.AdvanceUntilAsync(() => task.IsCompleted || wire.ScriptComplete, TimeSpan.FromMilliseconds(100));
        var result = await task.Bounded();

        Assert.Equal(OutcomeCode.Success, result.Code);
        Assert.Equal(ModemState.Ready, modem.State);
        wire.AssertScriptDone();
    }

    [Fact]
    public async Task InitializeAsync_PortCannotOpen_TransportFailureAndFaulted()
    {
        var (left, right) = InMemoryTransport.CreatePair();
        await left.CloseAsync(CancellationToken.None);
        left.FailOpen = true;
        await using var modem = new AtModem(left, true, ModemTestKit.Options(), _time);

        var result = await modem.InitializeAsync(CancellationToken.None).Bounded();

        Assert.Equal(OutcomeCode.TransportFailure, result.Code);
        Assert.Contains("cannot be opened", result.RawReply, StringComparison.Ordinal);
        Assert.Equal(ModemState.Faulted, modem.State);
        await right.DisposeAsync();
    }

    [Fact]
    public async Task CheckAsync_LinkSevered_TransportFailure()
    {
        var (left, right) = InMemoryTransport.CreatePair();
        await using var modem = new AtModem(left, true, ModemTestKit.Options(), _time);
        var peer = RespondOk(right);
        await modem.InitializeAsync(CancellationToken.None).Bounded();

        left.Sever();
        var result = await modem.CheckAsync(CancellationToken.None).Bounded();

        Assert.Equal(OutcomeCode.TransportFailure, result.Code);
        Assert.Equal(ModemState.Faulted, modem.State);
        await peer.Bounded();
    }

    [Fact]
    public void AtModem_InvalidOptions_ThrowsNamingTheSetting()
    {
        var wire = new ScriptedTransport();
        var ex = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(
            () => new AtModem(wire, false, ModemTestKit.Options(o => o.CommandTimeout = TimeSpan.Zero), _time));
        Assert.Contains(nameof(AtModemOptions.CommandTimeout), ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DialAsync_DialStringWithCarriageReturn_ThrowsArgumentException()
    {
        var wire = new ScriptedTransport();
        await using var modem = new AtModem(wire, false, ModemTestKit.Options(), _time);
        await Assert.ThrowsAsync<ArgumentException>(() => modem.DialAsync("123\rATZ", CancellationToken.None));
    }

    /// <summary>A minimal scripted peer on the other end of an in-memory pair: answers every command line with OK.</summary>
    private static async Task<int> RespondOk(InMemoryTransport peer)
    {
        var buffer = new byte[256];
        var count = 0;
        try
        {
            while (true)
            {
                var n = await peer.ReadAsync(buffer, CancellationToken.None);
                if (n == 0)
                {
                    return count;
                }

                for (var i = 0; i < n; i++)
                {
                    if (buffer[i] == (byte)'\r')
                    {
                        count++;
                        await peer.WriteAsync(Encoding.ASCII.GetBytes("\r\nOK\r\n"), CancellationToken.None);
                    }
                }
            }
        }
        catch (TransportFailureException)
        {
            return count;
        }
    }
}
