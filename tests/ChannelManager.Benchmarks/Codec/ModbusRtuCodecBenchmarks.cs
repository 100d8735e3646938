using BenchmarkDotNet.Attributes;
using ChannelManager.Core.Protocols.Modbus;

namespace ChannelManager.Benchmarks.Codec;

/// <summary>
/// Issue 5 acceptance: encoding an FC3 request and decoding its response allocate 0 bytes
/// ([MemoryDiagnoser] "Allocated" column). The command, buffers and reply are prepared once, as the
/// master does per <c>ExecuteAsync</c> (docs/protocol-driver.md "Allocation").
/// </summary>
/// <remarks>Not sealed: BenchmarkDotNet derives its generated runner from the benchmark class.</remarks>
[MemoryDiagnoser]
public class ModbusRtuCodecBenchmarks
{
    private const byte Unit = 1;

    private readonly ReadHoldingRegisters _command = new(0, 10);
    private readonly byte[] _request = new byte[ModbusRtuCodec.MaxFrameLength];
    private readonly ushort[] _registers = new ushort[10];
    private byte[] _response = [];
    private byte[] _noisyResponse = [];

    [GlobalSetup]
    public void Setup()
    {
        // Application Protocol §6.3: unit, 0x03, byte count 20, ten registers 100..109, CRC.
        var frame = new byte[3 + 20 + 2];
        frame[0] = Unit;
        frame[1] = 0x03;
        frame[2] = 20;
        for (var i = 0; i < 10; i++)
        {
            frame[3 + (2 * i)] = 0;
            frame[4 + (2 * i)] = (byte)(100 + i);
        }

        ModbusCrc.Append(frame, frame.Length - 2);
        _response = frame;
        // Three bytes of line noise in front: the parser resynchronises on the valid frame.
        _noisyResponse = [0xFF, 0x00, 0x13, .. frame];
    }

    /// <summary>FC3 request (unit, 0x03, address, quantity, CRC) into the transmit buffer.</summary>
    [Benchmark]
    public int EncodeFc3Request() => ModbusRtuCodec.EncodeRequest(Unit, _command, _request);

    /// <summary>Frame the 25-byte reply (length, CRC) and decode its ten registers.</summary>
    [Benchmark]
    public ushort DecodeFc3Response() => Decode(_response);

    /// <summary>The same after three noise bytes (the parser tries each start offset).</summary>
    [Benchmark]
    public ushort DecodeFc3ResponseAfterNoise() => Decode(_noisyResponse);

    /// <summary>A whole poll's codec work: encode the request, frame and decode the reply.</summary>
    [Benchmark]
    public ushort EncodeAndDecodeFc3() => (ushort)(ModbusRtuCodec.EncodeRequest(Unit, _command, _request) + Decode(_response));

    private ushort Decode(byte[] received)
    {
        var parse = ModbusRtuResponseParser.Parse(received, lineIdle: false);
        if (parse.Status != RtuParseStatus.Frame)
        {
            throw new InvalidOperationException($"benchmark reply did not parse: {parse}");
        }

        ModbusRtuCodec.ReadRegisters(received.AsSpan(parse.Offset, parse.Length), _registers);
        return _registers[9];
    }
}
