using ChannelManager.Core;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Transport;
using ChannelManager.Tests.Support;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;

namespace ChannelManager.Tests.Protocols.Modbus;

/// <summary>Wire scripts (style.md §3.4): exact request bytes out, scripted reply bytes in, on a virtual clock.</summary>
public sealed class ModbusRtuMasterTests
{
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(1);
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public async Task ExecuteAsync_ReadHoldingRegisters_ReturnsValues()
    {
        var link = new ScriptedTransport()
            .Expect("01 03 00 00 00 02 C4 0B")
            .Reply("01 03 04 00 0A 00 0B 9B F6");

        var result = await RunAsync(link, new ReadHoldingRegisters(0, 2));

        Assert.Equal(OutcomeCode.Success, result.Code);
        Assert.Equal(new ushort[] { 10, 11 }, result.Commands[0].Registers);
        Assert.Equal(1, result.Commands[0].Attempts);
        Assert.Equal("01 03 00 00 00 02 C4 0B", ScriptedTransport.ToHex(result.Commands[0].Request.ToArray()));
        Assert.Equal("01 03 04 00 0A 00 0B 9B F6", ScriptedTransport.ToHex(result.Commands[0].Response.ToArray()));
        AssertScriptDone(link);
    }

    [Fact]
    public async Task ExecuteAsync_AllFunctionCodes_SendsExactRequestsAndDecodesReplies()
    {
        // Request/response pairs from Modbus Application Protocol V1.1b3 §6 with RTU address 1 and CRC.
        var link = new ScriptedTransport()
            .Expect("01 01 00 13 00 13 8C 02").Reply("01 01 03 CD 6B 05 42 82")
            .Expect("01 02 00 C4 00 16 B8 39").Reply("01 02 03 AC DB 35 22 88")
            .Expect("01 04 00 08 00 01 B0 08").Reply("01 04 02 00 0A 39 37")
            .Expect("01 05 00 AC FF 00 4C 1B").Reply("01 05 00 AC FF 00 4C 1B")
            .Expect("01 06 00 01 00 03 98 0B").Reply("01 06 00 01 00 03 98 0B")
            .Expect("01 0F 00 13 00 0A 02 CD 01 72 CB").Reply("01 0F 00 13 00 0A 24 09")
            .Expect("01 10 00 01 00 02 04 00 0A 01 02 92 30").Reply("01 10 00 01 00 02 10 08")
            .Expect("01 17 00 03 00 06 00 0E 00 03 06 00 FF 00 FF 00 FF 46 91").Reply("01 17 0C 00 FE 0A CD 00 01 00 03 00 0D 00 FF 1D 79");

        var result = await RunAsync(link,
            new ReadCoils(0x13, 19),
            new ReadDiscreteInputs(0xC4, 22),
            new ReadInputRegisters(8, 1),
            new WriteSingleCoil(0xAC, true),
            new WriteSingleRegister(1, 3),
            new WriteMultipleCoils(0x13, [true, false, true, true, false, false, true, true, true, false]),
            new WriteMultipleRegisters(1, [0x000A, 0x0102]),
            new ReadWriteMultipleRegisters(3, 6, 0x0E, [0x00FF, 0x00FF, 0x00FF]));

        Assert.Equal(OutcomeCode.Success, result.Code);
        Assert.Equal(8, result.Commands.Count);
        // §6.1: CD 6B 05 = coils 20..38 LSB first.
        Assert.Equal(Bits("1011 0011 1101 0110 101"), result.Commands[0].Bits);
        Assert.Equal(Bits("0011 0101 1101 1011 1010 11"), result.Commands[1].Bits);
        Assert.Equal(new ushort[] { 10 }, result.Commands[2].Registers);
        Assert.Equal(new ushort[] { 0x00FE, 0x0ACD, 0x0001, 0x0003, 0x000D, 0x00FF }, result.Commands[7].Registers);
        AssertScriptDone(link);
    }

    [Fact]
    public async Task ExecuteAsync_NoReply_RetriesThenCommandTimeoutWithAttempts()
    {
        var link = new ScriptedTransport()
            .Expect("01 03 00 00 00 02 C4 0B")
            .Expect("01 03 00 00 00 02 C4 0B")
            .Expect("01 03 00 00 00 02 C4 0B");

        var result = await RunAsync(link, new ModbusRtuOptions { TimeoutRetries = 2 }, TimeSpan.FromMilliseconds(50), new ReadHoldingRegisters(0, 2));

        Assert.Equal(OutcomeCode.CommandTimeout, result.Code);
        Assert.Equal(3, result.Commands[0].Attempts);
        Assert.Equal(3, result.TotalAttempts);
        Assert.True(result.EndedAt - result.StartedAt >= TimeSpan.FromSeconds(3), $"took {result.EndedAt - result.StartedAt}");
        Assert.Equal(FaultAttribution.Outstation, result.Code.CountedAgainst());
        AssertScriptDone(link);
    }

    [Fact]
    public async Task ExecuteAsync_ReplyOnSecondAttempt_SucceedsWithTwoAttempts()
    {
        var link = new ScriptedTransport()
            .Expect("01 03 00 00 00 02 C4 0B")
            .Expect("01 03 00 00 00 02 C4 0B").Reply("01 03 04 00 0A 00 0B 9B F6");

        var result = await RunAsync(link, new ModbusRtuOptions(), TimeSpan.FromMilliseconds(50), new ReadHoldingRegisters(0, 2));

        Assert.Equal(OutcomeCode.Success, result.Code);
        Assert.Equal(2, result.Commands[0].Attempts);
        AssertScriptDone(link);
    }

    [Fact]
    public async Task ExecuteAsync_LateDuplicateAfterRetry_DiscardedBeforeNextCommand()
    {
        // Attempt 1 times out; its late reply and the retry's reply both arrive. Without the drain the
        // duplicate (10, 11) would be taken as the answer to the second read.
        var link = new ScriptedTransport()
            .Expect("01 03 00 00 00 02 C4 0B")
            .Expect("01 03 00 00 00 02 C4 0B").Reply("01 03 04 00 0A 00 0B 9B F6").Reply("01 03 04 00 0A 00 0B 9B F6")
            .Expect("01 03 00 00 00 02 C4 0B").Reply("01 03 04 00 0C 00 0D FB F5");

        var result = await RunAsync(link, new ModbusRtuOptions(), TimeSpan.FromMilliseconds(50), new ReadHoldingRegisters(0, 2), new ReadHoldingRegisters(0, 2));

        Assert.Equal(OutcomeCode.Success, result.Code);
        Assert.Equal(new ushort[] { 10, 11 }, result.Commands[0].Registers);
        Assert.Equal(2, result.Commands[0].Attempts);
        Assert.Equal(new ushort[] { 12, 13 }, result.Commands[1].Registers);
        AssertScriptDone(link);
    }

    [Fact]
    public async Task ExecuteAsync_ZeroRetries_SingleAttempt()
    {
        var link = new ScriptedTransport().Expect("01 03 00 00 00 02 C4 0B");
        var result = await RunAsync(link, new ModbusRtuOptions { TimeoutRetries = 0 }, TimeSpan.FromMilliseconds(50), new ReadHoldingRegisters(0, 2));
        Assert.Equal(OutcomeCode.CommandTimeout, result.Code);
        Assert.Equal(1, result.TotalAttempts);
        Assert.Equal(8, link.Written.Count);
    }

    [Theory]
    [InlineData("01 03 04 00 0A 00 0B 9B F7", "CRC")]                  // bad CRC: not retried
    [InlineData("02 03 04 00 0A 00 0B A8 F6", "unit 2")]               // another unit's reply
    [InlineData("01 04 04 00 0A 00 0B 9A 41", "function 0x04")]        // another function's reply
    [InlineData("01 03 04 00 0A", "stopped after 5 bytes")]            // partial frame
    public async Task ExecuteAsync_BadReply_MalformedFrameAtOnce(string reply, string detail)
    {
        var link = new ScriptedTransport().Expect("01 03 00 00 00 02 C4 0B").Reply(reply);

        var result = await RunAsync(link, new ModbusRtuOptions(), TimeSpan.FromMilliseconds(5), new ReadHoldingRegisters(0, 2));

        Assert.Equal(OutcomeCode.MalformedFrame, result.Code);
        Assert.Equal(1, result.TotalAttempts);
        Assert.Contains(detail, result.Detail, StringComparison.Ordinal);
        Assert.Equal(reply, ScriptedTransport.ToHex(result.Commands[0].Response.ToArray()));
        AssertScriptDone(link);
    }

    [Theory]
    [InlineData("01 83 02 C0 F1", ModbusExceptionCode.IllegalDataAddress, false)]
    [InlineData("01 83 06 C1 32", ModbusExceptionCode.ServerDeviceBusy, true)]
    public async Task ExecuteAsync_ExceptionReply_ExceptionResponseWithCode(string reply, ModbusExceptionCode code, bool busy)
    {
        var link = new ScriptedTransport().Expect("01 03 00 00 00 02 C4 0B").Reply(reply);

        var result = await RunAsync(link, new ReadHoldingRegisters(0, 2));

        Assert.Equal(OutcomeCode.ExceptionResponse, result.Code);
        Assert.Equal((byte)code, result.Commands[0].ExceptionCode);
        Assert.Equal(code, result.Commands[0].ModbusException());
        Assert.Equal(busy, result.ServerBusy);
        Assert.Equal(1, result.TotalAttempts);
    }

    [Fact]
    public async Task ExecuteAsync_WrongByteCount_UnexpectedResponse()
    {
        var link = new ScriptedTransport().Expect("01 03 00 00 00 02 C4 0B").Reply("01 03 06 00 0A 00 0B 00 0C C8 B3");
        var result = await RunAsync(link, new ReadHoldingRegisters(0, 2));
        Assert.Equal(OutcomeCode.UnexpectedResponse, result.Code);
        Assert.Contains("6 data bytes", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExecuteAsync_WriteEchoDiffers_UnexpectedResponse()
    {
        var link = new ScriptedTransport().Expect("01 06 00 01 00 03 98 0B").Reply("01 06 00 01 00 04 D9 C9");
        var result = await RunAsync(link, new WriteSingleRegister(1, 3));
        Assert.Equal(OutcomeCode.UnexpectedResponse, result.Code);
    }

    [Fact]
    public async Task ExecuteAsync_NoiseBeforeReply_Resynchronises()
    {
        var link = new ScriptedTransport().Expect("01 03 00 00 00 02 C4 0B").Reply("FF 00 13 01 03 04 00 0A 00 0B 9B F6");
        var result = await RunAsync(link, new ReadHoldingRegisters(0, 2));
        Assert.Equal(OutcomeCode.Success, result.Code);
        Assert.Equal(new ushort[] { 10, 11 }, result.Commands[0].Registers);
    }

    [Fact]
    public async Task ExecuteAsync_ReplyInFragments_AssemblesFrame()
    {
        var link = new ScriptedTransport().Expect("01 03 00 00 00 02 C4 0B").Reply("01").Reply("03 04 00").Reply("0A 00 0B 9B").Reply("F6");
        var result = await RunAsync(link, new ReadHoldingRegisters(0, 2));
        Assert.Equal(OutcomeCode.Success, result.Code);
    }

    [Fact]
    public async Task ExecuteAsync_FirstCommandFails_LaterCommandsNotSent()
    {
        var link = new ScriptedTransport().Expect("01 03 00 00 00 02 C4 0B").Reply("01 83 02 C0 F1");
        var result = await RunAsync(link, new ReadHoldingRegisters(0, 2), new WriteSingleRegister(1, 3));
        Assert.Equal(OutcomeCode.ExceptionResponse, result.Code);
        Assert.Single(result.Commands);
        Assert.Equal(8, link.Written.Count);
    }

    [Fact]
    public async Task ExecuteAsync_PeerClosesLink_ConnectionLost()
    {
        var link = new ScriptedTransport().Expect("01 03 00 00 00 02 C4 0B").ThenClose();
        var result = await RunAsync(link, new ReadHoldingRegisters(0, 2));
        Assert.Equal(OutcomeCode.ConnectionLost, result.Code);
        Assert.Equal(1, result.TotalAttempts);
    }

    [Fact]
    public async Task ExecuteAsync_NoCarrierInDataStream_ConnectionLost()
    {
        var link = new ScriptedTransport().Expect("01 03 00 00 00 02 C4 0B").ReplyText("\r\nNO CARRIER\r\n");
        var result = await RunAsync(link, new ReadHoldingRegisters(0, 2));
        Assert.Equal(OutcomeCode.ConnectionLost, result.Code);
        Assert.Contains("NO CARRIER", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExecuteAsync_LinkSevered_ConnectionLostNotTransportFailure()
    {
        var (master, peer) = InMemoryTransport.CreatePair();
        peer.Sever();
        var result = await RunAsync(master, new ReadHoldingRegisters(0, 2));
        Assert.Equal(OutcomeCode.ConnectionLost, result.Code);
        Assert.Equal(FaultAttribution.Outstation, result.Code.CountedAgainst());
    }

    [Fact]
    public async Task ExecuteAsync_LinkAlreadyClosed_ConnectionLostWithoutWriting()
    {
        var link = new ScriptedTransport();
        await link.CloseAsync(CancellationToken.None);
        var result = await RunAsync(link, new ReadHoldingRegisters(0, 2));
        Assert.Equal(OutcomeCode.ConnectionLost, result.Code);
        Assert.Equal(0, result.TotalAttempts);
        Assert.Empty(link.Written);
    }

    [Fact]
    public async Task ExecuteAsync_CarrierDetectLowAndMonitored_ConnectionLost()
    {
        var lines = Substitute.For<IModemControlLines>();
        lines.CarrierDetect.Returns(false);
        var link = new ScriptedTransport { ControlLines = lines };
        var result = await RunAsync(link, new ModbusRtuOptions { MonitorCarrierDetect = true }, Step, new ReadHoldingRegisters(0, 2));
        Assert.Equal(OutcomeCode.ConnectionLost, result.Code);
        Assert.Empty(link.Written);
    }

    [Fact]
    public async Task ExecuteAsync_BeforeEachRequest_WaitsTheSilentInterval()
    {
        // 9600 8E1: t3.5 = 3.5 x 11 / 9600 s = 4.0104 ms (Modbus over Serial Line V1.02 §2.5.1.1); the
        // master rounds the wait up to whole milliseconds (Task.Delay's resolution), i.e. 5 ms.
        var options = new ModbusRtuOptions { BaudRate = 9600 };
        var gap = options.EffectiveInterFrameDelay;
        var rest = TimeSpan.FromMilliseconds(5) - gap;
        var link = new ScriptedTransport()
            .Expect("01 06 00 01 00 03 98 0B").Reply("01 06 00 01 00 03 98 0B")
            .Expect("01 06 00 01 00 03 98 0B").Reply("01 06 00 01 00 03 98 0B");
        var master = new ModbusRtuMaster(options, _time);
        var run = Task.Run(() => master.ExecuteAsync(link, [new WriteSingleRegister(1, 3), new WriteSingleRegister(1, 3)], CancellationToken.None));

        Assert.False(await VirtualClock.UntilAsync(() => link.Written.Count > 0, 30));
        _time.Advance(gap);
        Assert.False(await VirtualClock.UntilAsync(() => link.Written.Count > 0, 30));
        _time.Advance(rest);
        Assert.True(await VirtualClock.UntilAsync(() => link.Written.Count == 8));

        // The reply arrived at the same virtual instant: the second request waits a full t3.5 after it.
        _time.Advance(gap);
        Assert.False(await VirtualClock.UntilAsync(() => link.Written.Count > 8, 30));
        _time.Advance(rest);
        var result = await run.WaitAsync(TimeSpan.FromSeconds(5), TimeProvider.System);
        Assert.Equal(OutcomeCode.Success, result.Code);
        Assert.Equal(16, link.Written.Count);
    }

    [Fact]
    public async Task ExecuteAsync_ResponseTimeout_FiresExactlyAtConfiguredTime()
    {
        var options = new ModbusRtuOptions { TimeoutRetries = 0, ResponseTimeout = TimeSpan.FromMilliseconds(500), InterFrameDelay = TimeSpan.Zero };
        var link = new ScriptedTransport().Expect("01 03 00 00 00 02 C4 0B");
        var master = new ModbusRtuMaster(options, _time);
        var run = Task.Run(() => master.ExecuteAsync(link, [new ReadHoldingRegisters(0, 2)], CancellationToken.None));
        Assert.True(await VirtualClock.UntilAsync(() => link.Written.Count == 8));
        Assert.False(await VirtualClock.UntilAsync(() => run.IsCompleted, 30));   // lets the master arm its deadline
        _time.Advance(TimeSpan.FromMilliseconds(499));
        Assert.False(await VirtualClock.UntilAsync(() => run.IsCompleted, 30));
        _time.Advance(TimeSpan.FromMilliseconds(1));
        var result = await run.WaitAsync(TimeSpan.FromSeconds(5), TimeProvider.System);
        Assert.Equal(OutcomeCode.CommandTimeout, result.Code);
    }

    [Fact]
    public async Task ExecuteAsync_Cancelled_ThrowsOperationCanceled()
    {
        var link = new ScriptedTransport().Expect("01 03 00 00 00 02 C4 0B");
        using var cts = new CancellationTokenSource();
        var master = new ModbusRtuMaster(new ModbusRtuOptions { InterFrameDelay = TimeSpan.Zero }, _time);
        var run = master.ExecuteAsync(link, [new ReadHoldingRegisters(0, 2)], cts.Token);
        Assert.True(await VirtualClock.UntilAsync(() => link.Written.Count == 8));
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(TimeSpan.FromSeconds(5), TimeProvider.System));
    }

    [Fact]
    public void Constructor_UnitIdZero_ThrowsArgumentException()
    {
        Assert.Throws<ArgumentException>(() => new ModbusRtuMaster(new ModbusRtuOptions { UnitId = 0 }, _time));
        Assert.Throws<ArgumentException>(() => new ModbusRtuMaster(new ModbusRtuOptions { ResponseTimeout = TimeSpan.Zero }, _time));
    }

    [Fact]
    public async Task ExecuteAsync_QuantityOutOfRange_ThrowsArgumentExceptionBeforeSending()
    {
        var link = new ScriptedTransport();
        var master = new ModbusRtuMaster(new ModbusRtuOptions(), _time);
        await Assert.ThrowsAsync<ArgumentException>(() => master.ExecuteAsync(link, [new ReadHoldingRegisters(0, 126)], CancellationToken.None));
        Assert.Empty(link.Written);
    }

    private Task<ProtocolResult> RunAsync(IChannelTransport link, params ModbusCommand[] commands) =>
        RunAsync(link, new ModbusRtuOptions(), Step, commands);

    private Task<ProtocolResult> RunAsync(IChannelTransport link, ModbusRtuOptions options, TimeSpan step, params ModbusCommand[] commands)
    {
        var master = new ModbusRtuMaster(options, _time);
        return VirtualClock.RunAsync(Task.Run(() => master.ExecuteAsync(link, commands, CancellationToken.None)), _time, step);
    }

    private static void AssertScriptDone(ScriptedTransport link)
    {
        Assert.Empty(link.Failures);
        Assert.True(link.ScriptComplete, "script not complete: " + link.PopUnmatchedHex());
    }

    private static bool[] Bits(string ones) => ones.Where(c => c is '0' or '1').Select(c => c == '1').ToArray();
}
