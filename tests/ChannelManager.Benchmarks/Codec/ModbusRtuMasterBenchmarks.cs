using BenchmarkDotNet.Attributes;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Transport;

namespace ChannelManager.Benchmarks.Codec;

/// <summary>
/// One FC3 poll through <see cref="ModbusRtuMaster.ExecuteAsync"/> against a transport that answers at
/// once from a canned reply, with t3.5 set to zero: what the master itself costs per poll in time and
/// allocation (the result, its value array and raw-frame copies, the timeout token sources;
/// docs/protocol-driver.md "Allocation"), without I/O or timer waits.
/// </summary>
/// <remarks>Not sealed: BenchmarkDotNet derives its generated runner from the benchmark class.</remarks>
[MemoryDiagnoser]
public class ModbusRtuMasterBenchmarks : IAsyncDisposable
{
    private readonly ProtocolCommand[] _poll = [new ReadHoldingRegisters(0, 10)];
    private ModbusRtuMaster _master = null!;
    private CannedReplyTransport _link = null!;

    [GlobalSetup]
    public void Setup()
    {
        var reply = new byte[25];
        reply[0] = 1;
        reply[1] = 0x03;
        reply[2] = 20;
        for (var i = 0; i < 10; i++)
        {
            reply[4 + (2 * i)] = (byte)(100 + i);
        }

        ModbusCrc.Append(reply, 23);
        _link = new CannedReplyTransport(reply);
        _master = new ModbusRtuMaster(new ModbusRtuOptions { UnitId = 1, BaudRate = 19200, Parity = SerialParity.None, InterFrameDelay = TimeSpan.Zero }, TimeProvider.System);
    }

    [Benchmark]
    public async Task<int> PollFc3()
    {
        var result = await _master.ExecuteAsync(_link, _poll, CancellationToken.None);
        return result.IsSuccess ? result.Commands[0].Registers[9] : throw new InvalidOperationException($"{result.Code}: {result.Detail}");
    }

    public ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return _link?.DisposeAsync() ?? ValueTask.CompletedTask;
    }

    /// <summary>Answers every write with the canned reply; completes synchronously and allocates nothing.</summary>
    private sealed class CannedReplyTransport(byte[] reply) : IChannelTransport
    {
        private bool _pending;

        public string Endpoint => "canned";

        public bool IsOpen => true;

        public IModemControlLines? ControlLines => null;

        public Task OpenAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task CloseAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken)
        {
            if (!_pending)
            {
                throw new InvalidOperationException("read without a request");
            }

            _pending = false;
            reply.CopyTo(buffer);
            return ValueTask.FromResult(reply.Length);
        }

        public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            _pending = true;
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
