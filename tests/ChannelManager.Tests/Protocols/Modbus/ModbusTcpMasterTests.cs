using ChannelManager.Core;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Transport;
using ChannelManager.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace ChannelManager.Tests.Protocols.Modbus;

/// <summary>Modbus TCP (MBAP) wire scripts: Modbus Messaging on TCP/IP V1.0b §3.1.3 and §4, on a virtual clock.</summary>
public sealed class ModbusTcpMasterTests
{
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(10);
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public async Task ExecuteAsync_ReadHoldingRegisters_SendsMbapWithoutCrcAndDecodesReply()
    {
        // tid 1, protocol 0, length 6, unit 1, FC03 addr 0 qty 2.
        var link = new ScriptedTransport()
            .Expect("00 01 00 00 00 06 01 03 00 00 00 02")
            .Reply("00 01 00 00 00 07 01 03 04 00 0A 00 0B");

        var result = await RunAsync(link, new ModbusTcpOptions(), new ReadHoldingRegisters(0, 2));

        Assert.Equal(OutcomeCode.Success, result.Code);
        Assert.Equal(new ushort[] { 10, 11 }, result.Commands[0].Registers);
        AssertScriptDone(link);
    }

    [Fact]
    public async Task ExecuteAsync_SeveralCommands_IncrementsTransactionIdAndHandlesSplitReplies()
    {
        var link = new ScriptedTransport()
            .Expect("00 01 00 00 00 06 11 01 00 13 00 13").Reply("00 01 00 00").Reply("00 06 11 01 03 CD 6B 05")
            .Expect("00 02 00 00 00 06 11 06 00 01 00 03").Reply("00 02 00 00 00 06 11 06 00 01 00 03");

        var result = await RunAsync(link, new ModbusTcpOptions { UnitId = 0x11 }, new ReadCoils(0x13, 19), new WriteSingleRegister(1, 3));

        Assert.Equal(OutcomeCode.Success, result.Code);
        Assert.Equal(19, result.Commands[0].Bits.Count);
        Assert.True(result.Commands[0].Bits[0]);
        AssertScriptDone(link);
    }

    [Fact]
    public async Task ExecuteAsync_LateReplyToTimedOutAttempt_DroppedByTransactionId()
    {
        // Attempt 1 (tid 1) times out; its late reply arrives after the retry (tid 2) with stale values 10, 11.
        var link = new ScriptedTransport()
            .Expect("00 01 00 00 00 06 01 03 00 00 00 02")
            .Expect("00 02 00 00 00 06 01 03 00 00 00 02")
            .Reply("00 01 00 00 00 07 01 03 04 00 0A 00 0B")
            .Reply("00 02 00 00 00 07 01 03 04 00 0C 00 0D");

        var result = await RunAsync(link, new ModbusTcpOptions { ResponseTimeout = TimeSpan.FromMilliseconds(100) }, new ReadHoldingRegisters(0, 2));

        Assert.Equal(OutcomeCode.Success, result.Code);
        Assert.Equal(2, result.Commands[0].Attempts);
        Assert.Equal(new ushort[] { 12, 13 }, result.Commands[0].Registers);
    }

    [Fact]
    public async Task ExecuteAsync_ExceptionReply_ExceptionResponseWithCode()
    {
        var link = new ScriptedTransport()
            .Expect("00 01 00 00 00 06 01 03 00 00 00 02")
            .Reply("00 01 00 00 00 03 01 83 02");

        var result = await RunAsync(link, new ModbusTcpOptions(), new ReadHoldingRegisters(0, 2));

        Assert.Equal(OutcomeCode.ExceptionResponse, result.Code);
        Assert.Equal(ModbusExceptionCode.IllegalDataAddress, result.Commands[0].ModbusException());
        Assert.Equal(FaultAttribution.Outstation, result.Code.CountedAgainst());
    }

    [Theory]
    [InlineData("00 01 00 05 00 07 01 03 04 00 0A 00 0B", "protocol id 5")]
    [InlineData("00 01 00 00 01 00 01 03 04 00 0A 00 0B", "length 256")]
    [InlineData("00 01 00 00 00 07 02 03 04 00 0A 00 0B", "unit 2")]
    public async Task ExecuteAsync_BadAdu_MalformedFrameNamingTheCause(string reply, string detail)
    {
        var link = new ScriptedTransport().Expect("00 01 00 00 00 06 01 03 00 00 00 02").Reply(reply);

        var result = await RunAsync(link, new ModbusTcpOptions(), new ReadHoldingRegisters(0, 2));

        Assert.Equal(OutcomeCode.MalformedFrame, result.Code);
        Assert.Contains(detail, result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExecuteAsync_NoReply_CommandTimeoutAfterRetries()
    {
        var link = new ScriptedTransport()
            .Expect("00 01 00 00 00 06 01 03 00 00 00 02")
            .Expect("00 02 00 00 00 06 01 03 00 00 00 02");

        var result = await RunAsync(link, new ModbusTcpOptions { ResponseTimeout = TimeSpan.FromMilliseconds(100), TimeoutRetries = 1 }, new ReadHoldingRegisters(0, 2));

        Assert.Equal(OutcomeCode.CommandTimeout, result.Code);
        Assert.Equal(2, result.TotalAttempts);
    }

    [Fact]
    public async Task ExecuteAsync_PeerClosesMidReply_ConnectionLost()
    {
        var link = new ScriptedTransport()
            .Expect("00 01 00 00 00 06 01 03 00 00 00 02")
            .Reply("00 01 00 00 00 07 01").ThenClose();

        var result = await RunAsync(link, new ModbusTcpOptions(), new ReadHoldingRegisters(0, 2));

        Assert.Equal(OutcomeCode.ConnectionLost, result.Code);
    }

    [Fact]
    public void Constructor_UnitIdZero_RejectedAsBadConfig()
    {
        Assert.Throws<ArgumentException>(() => new ModbusTcpMaster(new ModbusTcpOptions { UnitId = 0 }, _time));
    }

    private Task<ProtocolResult> RunAsync(IChannelTransport link, ModbusTcpOptions options, params ModbusCommand[] commands)
    {
        var master = new ModbusTcpMaster(options, _time);
        return VirtualClock.RunAsync(Task.Run(() => master.ExecuteAsync(link, commands, CancellationToken.None)), _time, Step);
    }

    private static void AssertScriptDone(ScriptedTransport link)
    {
        Assert.Empty(link.Failures);
        Assert.True(link.ScriptComplete, "script not complete: " + link.PopUnmatchedHex());
    }
}
