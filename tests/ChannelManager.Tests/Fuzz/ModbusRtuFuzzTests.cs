using System.Buffers.Binary;
using ChannelManager.Core;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Transport;
using CsCheck;
using Microsoft.Extensions.Time.Testing;

namespace ChannelManager.Tests.Fuzz;

/// <summary>
/// Issue 10 item 2, target "Modbus frame decoder": the incremental RTU parser and the master's decode of whatever
/// arrives after a request (random frames, valid frames with a byte mutated, valid frames split anywhere). Only
/// typed outcomes of the protocol-command category (design.md §3 row 3) may come out; valid frames round-trip.
/// </summary>
public sealed class ModbusRtuFuzzTests
{
    private const byte Unit = 17;

    /// <summary>Every command the master supports, with quantities inside the Application Protocol limits.</summary>
    private static readonly Gen<ModbusCommand> Command = Gen.OneOf<ModbusCommand>(
        Gen.Select(Gen.UShort[0, 60000], Gen.UShort[1, 2000], (a, n) => new ReadCoils(a, n)),
        Gen.Select(Gen.UShort[0, 60000], Gen.UShort[1, 2000], (a, n) => new ReadDiscreteInputs(a, n)),
        Gen.Select(Gen.UShort[0, 60000], Gen.UShort[1, 125], (a, n) => new ReadHoldingRegisters(a, n)),
        Gen.Select(Gen.UShort[0, 60000], Gen.UShort[1, 125], (a, n) => new ReadInputRegisters(a, n)),
        Gen.Select(Gen.UShort, Gen.Bool, (a, v) => new WriteSingleCoil(a, v)),
        Gen.Select(Gen.UShort, Gen.UShort, (a, v) => new WriteSingleRegister(a, v)),
        Gen.Select(Gen.UShort[0, 60000], Gen.Bool.Array[1, 200], (a, v) => new WriteMultipleCoils(a, v)),
        Gen.Select(Gen.UShort[0, 60000], Gen.UShort.Array[1, 123], (a, v) => new WriteMultipleRegisters(a, v)));

    [Fact]
    public void Parse_ArbitraryBytes_ConsistentTypedResult()
    {
        Gen.Select(Gen.Byte.Array[0, 600], Gen.Bool).Sample((data, idle) =>
        {
            var result = ModbusRtuResponseParser.Parse(data, idle);
            switch (result.Status)
            {
                case RtuParseStatus.Frame:
                    Assert.InRange(result.Offset, 0, data.Length - 1);
                    Assert.InRange(result.Length, ModbusRtuCodec.ExceptionFrameLength, ModbusRtuCodec.MaxFrameLength);
                    Assert.True(result.Offset + result.Length <= data.Length);
                    Assert.True(ModbusCrc.IsValid(data.AsSpan(result.Offset, result.Length)));
                    break;
                case RtuParseStatus.NeedMore:
                    // Once the line is idle nothing more will come, so "need more" would wait forever.
                    Assert.False(idle);
                    Assert.InRange(result.MissingBytes, 1, ModbusRtuCodec.MaxFrameLength);
                    break;
                case RtuParseStatus.Malformed:
                    Assert.True(Enum.IsDefined(result.Fault));
                    Assert.NotEqual(RtuFrameFault.None, result.Fault);
                    break;
                default:
                    Assert.Fail($"undefined status {result.Status}");
                    break;
            }
        }, iter: FuzzSettings.Iterations);
    }

    [Fact]
    public async Task ExecuteAsync_ArbitraryReplyBytes_TypedProtocolOutcome()
    {
        // Byte-at-a-time delivery re-parses the whole buffer per byte (quadratic), so small chunks are rarer.
        var chunk = Gen.Frequency((1, Gen.Int[1, 4]), (4, Gen.Int[5, 64]));
        await Gen.Select(Command, Gen.Byte.Array[0, 300], chunk, Gen.Bool).SampleAsync(async (command, reply, chunk, close) =>
        {
            var result = await RunAsync(command, reply, chunk, close);
            AssertTyped(result);
        }, iter: FuzzSettings.Iterations);
    }

    [Fact]
    public async Task ExecuteAsync_ValidReplySplitAnywhere_RoundTrips()
    {
        await Gen.Select(Command, Gen.UInt, Gen.Int[1, 64], Gen.Byte.Array[0, 6]).SampleAsync(async (command, seed, chunk, noise) =>
        {
            var (reply, registers, bits) = ValidReply(command, seed);

            // Leading line noise (bytes that are no function code, so no start inside the noise can be a frame) is
            // skipped by resynchronisation; the valid reply may arrive in any chunking.
            var noisy = noise.Select(b => (byte)(b % 2 == 0 ? 0x00 : 0x18 + (b % 0x60))).Where(b => b != Unit).Concat(reply).ToArray();
            var result = await RunAsync(command, noisy, chunk, close: false);

            Assert.Equal(OutcomeCode.Success, result.Code);
            var done = Assert.Single(result.Commands);
            Assert.Equal(registers, done.Registers);
            Assert.Equal(bits, done.Bits);
        }, iter: FuzzSettings.Iterations);
    }

    [Fact]
    public async Task ExecuteAsync_ValidReplyWithOneByteMutated_NeverSilentlyAccepted()
    {
        await Gen.Select(Command, Gen.UInt, Gen.Int[0, 300], Gen.Byte[1, 255]).SampleAsync(async (command, seed, at, xor) =>
        {
            var (reply, _, _) = ValidReply(command, seed);
            var mutated = (byte[])reply.Clone();
            var index = at % mutated.Length;
            mutated[index] ^= xor;

            // CRC-16 detects every error burst of up to 16 bits (Modbus over Serial Line §2.5.1.2), so the frame
            // as sent can never pass: success is only possible if resynchronisation found a different CRC-valid
            // frame inside the bytes, and then its values must not be passed off as the outstation's data.
            Assert.False(ModbusCrc.IsValid(mutated));
            var result = await RunAsync(command, mutated, mutated.Length, close: false);
            AssertTyped(result);
            var parse = ModbusRtuResponseParser.Parse(mutated, lineIdle: true);
            if (result.Code == OutcomeCode.Success)
            {
                Assert.Equal(RtuParseStatus.Frame, parse.Status);
                Assert.True(parse.Offset > 0, "a mutated frame was accepted at its own offset");
            }
            else if (parse.Status != RtuParseStatus.Frame)
            {
                // No CRC-valid frame anywhere: the bytes are malformed, or incomplete when the link closed.
                Assert.Contains(result.Code, (OutcomeCode[])[OutcomeCode.MalformedFrame, OutcomeCode.ConnectionLost]);
            }
        }, iter: FuzzSettings.Iterations);
    }

    private static void AssertTyped(ProtocolResult result)
    {
        Assert.True(Enum.IsDefined(result.Code));
        Assert.Contains(result.Code.Category(), (OutcomeCategory[])[OutcomeCategory.Success, OutcomeCategory.ProtocolCommand]);
        var command = Assert.Single(result.Commands);
        Assert.Equal(result.Code, command.Code);
        Assert.InRange(command.Attempts, 0, 1);
        if (result.Code != OutcomeCode.Success)
        {
            Assert.False(string.IsNullOrEmpty(result.Detail), $"{result.Code} without a detail");
        }
    }

    /// <summary>
    /// One command against a link that delivers <paramref name="reply"/> in chunks of <paramref name="chunk"/> bytes
    /// and then either closes (<paramref name="close"/>) or goes silent. Inter-frame delay 0 and a fake clock that
    /// only the link moves: the run is synchronous and no case depends on real timing.
    /// </summary>
    private static async Task<ProtocolResult> RunAsync(ModbusCommand command, byte[] reply, int chunk, bool close)
    {
        var options = new ModbusRtuOptions { UnitId = Unit, TimeoutRetries = 0, InterFrameDelay = TimeSpan.Zero };
        var time = new FakeTimeProvider();
        var master = new ModbusRtuMaster(options, time);
        await using var link = new ReplayLink(reply, chunk, close, time);
        return await master.ExecuteAsync(link, [command], CancellationToken.None);
    }

    /// <summary>
    /// A correct reply built here from the Application Protocol (§6.1–6.16), independent of the master's decoder:
    /// reads carry random values, writes echo address and value/quantity.
    /// </summary>
    private static (byte[] Frame, ushort[] Registers, bool[] Bits) ValidReply(ModbusCommand command, uint seed)
    {
        var random = new Random((int)seed);
        var pdu = new List<byte> { Unit, (byte)command.FunctionCode };
        ushort[] registers = [];
        bool[] bits = [];
        switch (command)
        {
            case ReadCoils or ReadDiscreteInputs:
                bits = [.. Enumerable.Range(0, command is ReadCoils c ? c.Count : ((ReadDiscreteInputs)command).Count).Select(_ => random.Next(2) == 1)];
                var packed = new byte[(bits.Length + 7) / 8];
                for (var i = 0; i < bits.Length; i++)
                {
                    if (bits[i])
                    {
                        packed[i / 8] |= (byte)(1 << (i % 8));
                    }
                }

                pdu.Add((byte)packed.Length);
                pdu.AddRange(packed);
                break;
            case ReadHoldingRegisters or ReadInputRegisters:
                registers = [.. Enumerable.Range(0, command is ReadHoldingRegisters h ? h.Count : ((ReadInputRegisters)command).Count).Select(_ => (ushort)random.Next(65536))];
                pdu.Add((byte)(registers.Length * 2));
                foreach (var r in registers)
                {
                    pdu.Add((byte)(r >> 8));
                    pdu.Add((byte)r);
                }

                break;
            case WriteSingleCoil wc:
                pdu.AddRange(BigEndian(wc.Address));
                pdu.AddRange(BigEndian(wc.Value ? (ushort)0xFF00 : (ushort)0));
                break;
            case WriteSingleRegister wr:
                pdu.AddRange(BigEndian(wr.Address));
                pdu.AddRange(BigEndian(wr.Value));
                break;
            case WriteMultipleCoils wmc:
                pdu.AddRange(BigEndian(wmc.Address));
                pdu.AddRange(BigEndian((ushort)wmc.Values.Count));
                break;
            case WriteMultipleRegisters wmr:
                pdu.AddRange(BigEndian(wmr.Address));
                pdu.AddRange(BigEndian((ushort)wmr.Values.Count));
                break;
            default:
                throw new InvalidOperationException($"no reply builder for {command}");
        }

        var frame = new byte[pdu.Count + 2];
        pdu.CopyTo(frame);
        ModbusCrc.Append(frame, pdu.Count);
        return (frame, registers, bits);
    }

    private static byte[] BigEndian(ushort value)
    {
        var b = new byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(b, value);
        return b;
    }

    /// <summary>
    /// Delivers a fixed reply in fixed-size chunks, synchronously. Then either the peer closes (read returns 0) or the
    /// line goes silent: the fake clock jumps past every timeout, so the master's response or inter-character
    /// deadline fires at once (Modbus over Serial Line §2.5.1.1 t1.5) and the pending read is cancelled.
    /// </summary>
    private sealed class ReplayLink(byte[] reply, int chunk, bool close, FakeTimeProvider time) : IChannelTransport
    {
        private int _sent;

        public string Endpoint => "fuzz";

        public bool IsOpen { get; private set; } = true;

        public IModemControlLines? ControlLines => null;

        public Task OpenAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task CloseAsync(CancellationToken cancellationToken)
        {
            IsOpen = false;
            return Task.CompletedTask;
        }

        public async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken)
        {
            var n = Math.Min(Math.Min(chunk, buffer.Length), reply.Length - _sent);
            if (n > 0 || close)
            {
                reply.AsSpan(_sent, n).CopyTo(buffer.Span);
                _sent += n;
                return n;
            }

            var silence = new TaskCompletionSource<int>();
            await using var registration = cancellationToken.Register(() => silence.TrySetCanceled(cancellationToken));
            time.Advance(TimeSpan.FromMinutes(2));
            return await silence.Task;
        }

        public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
