using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Transport;
using ChannelManager.HardwareSim.Outstations;

namespace ChannelManager.Tests.Protocols;

public sealed class OutstationArgumentsTests
{
    [Fact]
    public void Parse_PortWithValuesAndFault_FillsMapAndOptions()
    {
        var args = OutstationArguments.Parse(["--port", "/tmp/x/a", "--unit", "7", "--baud", "9600", "--parity", "even",
            "--holding", "2=10,20", "--coils", "1=1,0,1", "--fault", "slow:250"]);

        Assert.Equal("/tmp/x/a", args.Port);
        Assert.Null(args.Listen);
        Assert.Equal(7, args.Unit);
        Assert.Equal(9600, args.Baud);
        Assert.Equal(SerialParity.Even, args.Parity);
        Assert.Equal(new ushort[] { 0, 0, 10, 20 }, args.Map.GetHoldingRegisters(0, 4));
        Assert.Equal(new[] { false, true, false, true }, args.Map.GetCoils(0, 4));
        Assert.Equal(OutstationFault.SlowReply(TimeSpan.FromMilliseconds(250)), args.Fault);
    }

    [Fact]
    public void Parse_Listen_ParsesEndpoint()
    {
        var args = OutstationArguments.Parse(["--listen", "tcp://127.0.0.1:5020"]);
        Assert.Equal(5020, args.Listen?.Port);
        Assert.Null(args.Port);
    }

    [Theory]
    [InlineData("--unit 1")] // neither --port nor --listen
    [InlineData("--port a --listen tcp://127.0.0.1:1")] // both
    [InlineData("--port a --unit 0")]
    [InlineData("--port a --holding x=1")]
    [InlineData("--port a --coils 0=2")]
    [InlineData("--port a --fault explode")]
    [InlineData("--listen localhost:80")]
    [InlineData("--port")]
    public void Parse_BadArguments_FormatException(string args)
    {
        Assert.Throws<FormatException>(() => OutstationArguments.Parse(args.Split(' ')));
    }

    [Theory]
    [InlineData("noreply", OutstationFaultKind.NoReply)]
    [InlineData("badcrc", OutstationFaultKind.BadCrc)]
    [InlineData("partial", OutstationFaultKind.PartialFrame)]
    [InlineData("wrongunit", OutstationFaultKind.WrongUnit)]
    [InlineData("exception:2", OutstationFaultKind.Exception)]
    public void FaultParse_CliForms_Kinds(string text, OutstationFaultKind kind)
    {
        var fault = OutstationFault.Parse(text);
        Assert.Equal(kind, fault?.Kind);
        if (kind == OutstationFaultKind.Exception)
        {
            Assert.Equal(ModbusExceptionCode.IllegalDataAddress, fault?.Code);
        }
    }
}
