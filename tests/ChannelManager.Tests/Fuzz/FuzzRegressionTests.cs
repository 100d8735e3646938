using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Scheduling;

namespace ChannelManager.Tests.Fuzz;

/// <summary>The cases the fuzz targets found, pinned as plain examples so they stay fixed whatever the seed.</summary>
public sealed class FuzzRegressionTests
{
    [Fact]
    public void Parse_LongReplyWhoseDataHoldsACrcValidExceptionFrame_WaitsForTheWholeReply()
    {
        // Unit 17, FC03, 8 registers; the data bytes contain 05 83 02 + CRC, which on its own is a CRC-valid
        // exception reply. Before the fix the parser returned that 5-byte run as soon as it arrived, and the master
        // reported MalformedFrame ("reply from unit 5") for a perfectly good reply.
        var embedded = new byte[5] { 0x05, 0x83, 0x02, 0, 0 };
        ModbusCrc.Append(embedded, 3);
        var pdu = new List<byte> { 17, 0x03, 16, 0x00, 0x01 };
        pdu.AddRange(embedded);
        pdu.AddRange(new byte[16 - 2 - embedded.Length]);
        var frame = new byte[pdu.Count + 2];
        pdu.CopyTo(frame);
        ModbusCrc.Append(frame, pdu.Count);
        var embeddedEnd = 5 + embedded.Length;

        Assert.Equal(RtuParseStatus.NeedMore, ModbusRtuResponseParser.Parse(frame.AsSpan(0, embeddedEnd), lineIdle: false).Status);
        Assert.Equal(RtuParseResult.Frame(0, frame.Length), ModbusRtuResponseParser.Parse(frame, lineIdle: false));

        // If the reply really stops there (the line goes idle), the embedded run is what there is.
        Assert.Equal(RtuParseResult.Frame(5, 5), ModbusRtuResponseParser.Parse(frame.AsSpan(0, embeddedEnd), lineIdle: true));
    }

    [Fact]
    public void BackoffOptionsValidate_RedialCycleWithNullCallIntervals_ConfigErrorNotException()
    {
        var options = new BackoffOptions { Strategy = BackoffStrategyKind.RedialCycle, CallIntervals = null! }; // JSON "CallIntervals": null

        var error = Assert.Single(options.Validate("Outstations[2].Backoff"));

        Assert.Equal("Outstations[2].Backoff.CallIntervals", error.Path);
        Assert.Throws<ArgumentException>(() => BackoffPolicy.From(options));
    }
}
