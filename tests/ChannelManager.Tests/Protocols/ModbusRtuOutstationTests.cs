using ChannelManager.Core;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Transport;
using ChannelManager.HardwareSim.Outstations;
using ChannelManager.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace ChannelManager.Tests.Protocols;

/// <summary>
/// The project's master against the outstation simulator in-process (InMemoryTransport, virtual clock):
/// values round-trip, and each scripted fault maps to the typed outcome of design.md §3.
/// </summary>
public sealed class ModbusRtuOutstationTests : IAsyncDisposable
{
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(10);
    private readonly FakeTimeProvider _time = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly InMemoryTransport _masterEnd;
    private readonly InMemoryTransport _outstationEnd;
    private readonly ModbusRtuOutstation _outstation;
    private readonly Task _serving;

    public ModbusRtuOutstationTests()
    {
        (_masterEnd, _outstationEnd) = InMemoryTransport.CreatePair("mem:master", "mem:outstation");
        _outstation = new ModbusRtuOutstation(1, _time);
        _outstation.Map.SetHoldingRegisters(0, 100, 101, 102, 103);
        _outstation.Map.SetInputRegisters(10, 7, 8);
        _outstation.Map.SetCoils(0, true, false, true);
        _outstation.Map.SetDiscreteInputs(5, false, true);
        _serving = Task.Run(() => _outstation.ServeAsync(_outstationEnd, _stop.Token));
    }

    [Fact]
    public async Task ServeAsync_EveryFunctionCode_ReadsAndWritesTheMap()
    {
        var result = await PollAsync(new ModbusRtuOptions(),
            new ReadHoldingRegisters(0, 4),
            new ReadInputRegisters(10, 2),
            new ReadCoils(0, 3),
            new ReadDiscreteInputs(5, 2),
            new WriteSingleRegister(20, 0xBEEF),
            new WriteMultipleRegisters(21, [1, 2, 3]),
            new WriteSingleCoil(30, true),
            new WriteMultipleCoils(31, [true, true, false, true]),
            new ReadWriteMultipleRegisters(20, 4, 0, [9]));

        Assert.Equal(OutcomeCode.Success, result.Code);
        Assert.Equal(new ushort[] { 100, 101, 102, 103 }, result.Commands[0].Registers);
        Assert.Equal(new ushort[] { 7, 8 }, result.Commands[1].Registers);
        Assert.Equal(new[] { true, false, true }, result.Commands[2].Bits);
        Assert.Equal(new[] { false, true }, result.Commands[3].Bits);
        Assert.Equal(new ushort[] { 0xBEEF, 1, 2, 3 }, result.Commands[8].Registers);
        Assert.Equal(new ushort[] { 9, 101 }, _outstation.Map.GetHoldingRegisters(0, 2));
        Assert.Equal(new[] { true, true, true, false, true }, _outstation.Map.GetCoils(30, 5));
        Assert.Equal(9, _outstation.RequestCount);
    }

    [Fact]
    public async Task ServeAsync_NoReplyFault_CommandTimeoutAfterRetries()
    {
        _outstation.Fault = OutstationFault.NoReply;
        var result = await PollAsync(new ModbusRtuOptions { TimeoutRetries = 2 }, new ReadHoldingRegisters(0, 1));
        Assert.Equal(OutcomeCode.CommandTimeout, result.Code);
        Assert.Equal(3, result.TotalAttempts);
        Assert.Equal(3, _outstation.RequestCount);
        Assert.Equal(0, _outstation.ReplyCount);
    }

    [Fact]
    public async Task ServeAsync_OneLostRequest_RetrySucceedsOnSecondAttempt()
    {
        _outstation.QueueFaults(OutstationFault.NoReply);
        var result = await PollAsync(new ModbusRtuOptions(), new ReadHoldingRegisters(0, 1));
        Assert.Equal(OutcomeCode.Success, result.Code);
        Assert.Equal(2, result.Commands[0].Attempts);
        Assert.Equal(new ushort[] { 100 }, result.Commands[0].Registers);
    }

    public static TheoryData<string, OutcomeCode, string> FaultOutcomes => new()
    {
        { "badcrc", OutcomeCode.MalformedFrame, "CRC" },
        { "partial", OutcomeCode.MalformedFrame, "stopped after" },
        { "wrongunit", OutcomeCode.MalformedFrame, "unit 2" },
        { "exception:4", OutcomeCode.ExceptionResponse, "ServerDeviceFailure" },
        { "exception:6", OutcomeCode.ExceptionResponse, "ServerDeviceBusy" },
    };

    [Theory]
    [MemberData(nameof(FaultOutcomes))]
    public async Task ServeAsync_ScriptedFault_MapsToTypedOutcomeWithoutRetry(string fault, OutcomeCode expected, string detail)
    {
        _outstation.Fault = OutstationFault.Parse(fault);
        var result = await PollAsync(new ModbusRtuOptions(), new ReadHoldingRegisters(0, 4), new ReadHoldingRegisters(0, 1));
        Assert.Equal(expected, result.Code);
        Assert.Contains(detail, result.Detail, StringComparison.Ordinal);
        Assert.Single(result.Commands);
        Assert.Equal(1, result.TotalAttempts);
        Assert.Equal(1, _outstation.RequestCount);
        Assert.Equal(FaultAttribution.Outstation, result.Code.CountedAgainst());
    }

    [Fact]
    public async Task ServeAsync_ServerBusyException_ResultSaysServerBusy()
    {
        _outstation.Fault = OutstationFault.Exception(ModbusExceptionCode.ServerDeviceBusy);
        var result = await PollAsync(new ModbusRtuOptions(), new WriteSingleRegister(0, 1));
        Assert.True(result.ServerBusy);
        Assert.Equal(ModbusExceptionCode.ServerDeviceBusy, result.FailedCommand!.ModbusException()); // ! : the poll failed, asserted by ServerBusy
        Assert.Equal(new ushort[] { 100 }, _outstation.Map.GetHoldingRegisters(0, 1));              // not executed
    }

    [Fact]
    public async Task ServeAsync_SlowReplyWithinTimeout_Success()
    {
        _outstation.Fault = OutstationFault.SlowReply(TimeSpan.FromMilliseconds(400));
        var result = await PollAsync(new ModbusRtuOptions { ResponseTimeout = TimeSpan.FromSeconds(1) }, new ReadHoldingRegisters(0, 1));
        Assert.Equal(OutcomeCode.Success, result.Code);
        Assert.Equal(1, result.TotalAttempts);
    }

    [Fact]
    public async Task ServeAsync_SlowReplyBeyondTimeout_CommandTimeout()
    {
        _outstation.Fault = OutstationFault.SlowReply(TimeSpan.FromSeconds(3));
        var result = await PollAsync(new ModbusRtuOptions { ResponseTimeout = TimeSpan.FromSeconds(1), TimeoutRetries = 0 }, new ReadHoldingRegisters(0, 1));
        Assert.Equal(OutcomeCode.CommandTimeout, result.Code);
    }

    [Fact]
    public async Task ServeAsync_AddressOutsideMap_IllegalDataAddress()
    {
        var result = await PollAsync(new ModbusRtuOptions(), new ReadHoldingRegisters(999, 2));
        Assert.Equal(OutcomeCode.ExceptionResponse, result.Code);
        Assert.Equal(ModbusExceptionCode.IllegalDataAddress, result.Commands[0].ModbusException());
    }

    [Fact]
    public async Task ServeAsync_RequestForAnotherUnit_Ignored()
    {
        var result = await PollAsync(new ModbusRtuOptions { UnitId = 9, TimeoutRetries = 0 }, new ReadHoldingRegisters(0, 1));
        Assert.Equal(OutcomeCode.CommandTimeout, result.Code);
        Assert.Equal(0, _outstation.RequestCount);
    }

    [Fact]
    public async Task ServeAsync_NoiseAndBadCrcBeforeRequest_ResynchronisesAndReplies()
    {
        // A corrupted request (last CRC byte wrong) then a good one: §2.4.1 says no reply to the first.
        await _masterEnd.WriteAsync(ScriptedTransport.FromHex("FF 01 03 00 00 00 01 84 0B 01 03 00 00 00 01 84 0A"), CancellationToken.None);
        var reply = new byte[16];
        var n = await _masterEnd.ReadAsync(reply, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(5), TimeProvider.System);
        Assert.Equal("01 03 02 00 64 B9 AF", ScriptedTransport.ToHex(reply[..n]));
        Assert.Equal(1, _outstation.RequestCount);
    }

    [Fact]
    public async Task ServeAsync_PeerHangsUp_Returns()
    {
        _masterEnd.HangUpLink();
        await _serving.WaitAsync(TimeSpan.FromSeconds(5), TimeProvider.System);
        Assert.True(_serving.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task ExecuteAsync_OutstationHangsUpMidPoll_ConnectionLost()
    {
        _outstation.Fault = OutstationFault.NoReply;
        var master = new ModbusRtuMaster(new ModbusRtuOptions(), _time);
        var poll = Task.Run(() => master.ExecuteAsync(_masterEnd, [new ReadHoldingRegisters(0, 1)], CancellationToken.None));
        Assert.True(await VirtualClock.AdvanceUntilAsync(_time, TimeSpan.FromMilliseconds(1), () => _outstation.RequestCount == 1));
        _outstationEnd.HangUpLink();
        var result = await poll.WaitAsync(TimeSpan.FromSeconds(5), TimeProvider.System);
        Assert.Equal(OutcomeCode.ConnectionLost, result.Code);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _serving.WaitAsync(TimeSpan.FromSeconds(5), TimeProvider.System);
        _stop.Dispose();
    }

    private Task<ProtocolResult> PollAsync(ModbusRtuOptions options, params ModbusCommand[] commands)
    {
        var master = new ModbusRtuMaster(options, _time);
        return VirtualClock.RunAsync(Task.Run(() => master.ExecuteAsync(_masterEnd, commands, CancellationToken.None)), _time, Step);
    }
}
