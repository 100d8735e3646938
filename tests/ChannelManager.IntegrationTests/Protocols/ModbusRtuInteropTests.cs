using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using ChannelManager.Core;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Transport;
using ChannelManager.IntegrationTests.Support;
using ChannelManager.Transport.Serial;
using ChannelManager.Transport.Tcp;

namespace ChannelManager.IntegrationTests.Protocols;

/// <summary>
/// Issue 5 acceptance, through real ptys (socat): the project's master polls an independent pymodbus 3.0
/// RTU slave, and mbpoll (libmodbus) polls the project's outstation simulator; both read and write.
/// Every wait is bounded and every child process is killed on dispose.
/// </summary>
public sealed partial class ModbusRtuInteropTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);

    /// <summary>pymodbus 3.0.0rc1 serial server (Debian python3-pymodbus), RTU framer, 19200 8N1, zero-based addresses.</summary>
    private const string PymodbusSlave = """
        import logging, sys
        from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
        from pymodbus.server import StartSerialServer
        from pymodbus.transaction import ModbusRtuFramer
        logging.basicConfig(level=logging.WARNING)
        store = ModbusSlaveContext(
            co=ModbusSequentialDataBlock(0, [1, 0, 1, 1, 0, 0, 1, 0] + [0] * 92),
            di=ModbusSequentialDataBlock(0, [0, 1, 1, 0, 1, 0, 0, 1] + [0] * 92),
            hr=ModbusSequentialDataBlock(0, list(range(100, 110)) + [0] * 90),
            ir=ModbusSequentialDataBlock(0, list(range(200, 210)) + [0] * 90),
            zero_mode=True)
        print("READY", flush=True)
        StartSerialServer(context=ModbusServerContext(slaves={1: store}, single=False), framer=ModbusRtuFramer,
                          port=sys.argv[1], baudrate=19200, bytesize=8, parity="N", stopbits=1, timeout=0.05)
        """;

    [Fact]
    public async Task Master_PymodbusRtuSlaveOnPty_ReadsAndWritesEveryFunction()
    {
        await using var pty = await SocatPtyPair.StartAsync();
        var script = Path.Combine(pty.Directory, "slave.py");
        await File.WriteAllTextAsync(script, PymodbusSlave);
        await using var slave = ExternalProcess.Start("/usr/bin/python3", script, pty.A);
        await slave.WaitForLineAsync("READY", Bound);
        await using var link = new SerialChannelTransport(new SerialTransportOptions { PortName = pty.B, BaudRate = 19200 }, TimeProvider.System);
        await link.OpenAsync(CancellationToken.None);
        var master = new ModbusRtuMaster(Options(), TimeProvider.System);

        // The slave prints READY before its event loop opens the pty: poll until it answers (bounded).
        var first = await FirstSuccessAsync(master, link, new ReadHoldingRegisters(0, 10), slave);
        Assert.Equal(Enumerable.Range(100, 10).Select(v => (ushort)v), first.Commands[0].Registers);

        var reads = await master.ExecuteAsync(link, [
            new ReadInputRegisters(0, 10),
            new ReadCoils(0, 8),
            new ReadDiscreteInputs(0, 8),
        ], CancellationToken.None).WaitAsync(Bound);
        Assert.Equal(OutcomeCode.Success, reads.Code);
        Assert.Equal(Enumerable.Range(200, 10).Select(v => (ushort)v), reads.Commands[0].Registers);
        Assert.Equal(new[] { true, false, true, true, false, false, true, false }, reads.Commands[1].Bits);
        Assert.Equal(new[] { false, true, true, false, true, false, false, true }, reads.Commands[2].Bits);

        var writes = await master.ExecuteAsync(link, [
            new WriteSingleRegister(5, 4242),
            new WriteMultipleRegisters(20, [7, 8, 9]),
            new WriteSingleCoil(1, true),
            new WriteMultipleCoils(10, [true, true, false, true]),
            new ReadHoldingRegisters(0, 23),
            new ReadCoils(0, 14),
            new ReadWriteMultipleRegisters(20, 2, 30, [55, 66]),
            new ReadHoldingRegisters(30, 2),
        ], CancellationToken.None).WaitAsync(Bound);
        Assert.Equal(OutcomeCode.Success, writes.Code);
        var registers = writes.Commands[4].Registers;
        Assert.Equal(4242, registers[5]);
        Assert.Equal(104, registers[4]);
        Assert.Equal(new ushort[] { 7, 8, 9 }, registers.Skip(20));
        Assert.Equal(new[] { true, true, true, true, false, false, true, false, false, false, true, true, false, true }, writes.Commands[5].Bits);
        Assert.Equal(new ushort[] { 7, 8 }, writes.Commands[6].Registers);      // FC23
        Assert.Equal(new ushort[] { 55, 66 }, writes.Commands[7].Registers);

        // A real peer's exception reply: reading past the 100-register block is IllegalDataAddress (02).
        var outside = await master.ExecuteAsync(link, [new ReadHoldingRegisters(95, 10)], CancellationToken.None).WaitAsync(Bound);
        Assert.Equal(OutcomeCode.ExceptionResponse, outside.Code);
        Assert.Equal(ModbusExceptionCode.IllegalDataAddress, outside.Commands[0].ModbusException());
        Assert.Equal(1, outside.TotalAttempts);
    }

    [Fact]
    public async Task Mbpoll_OutstationSimulatorOnPty_ReadsAndWritesValues()
    {
        await using var pty = await SocatPtyPair.StartAsync();
        await using var sim = ExternalProcess.StartSimulator("outstation", "--port", pty.A, "--unit", "7", "--baud", "19200",
            "--holding", "0=11,22,33,44,55,66,77,88,99,110", "--coils", "0=1,0,0,1");
        await sim.WaitForLineAsync("READY", Bound);

        // mbpoll references are 1-based: -r 1 is register address 0.
        Assert.Equal(new[] { 11, 22, 33, 44, 55, 66, 77, 88, 99, 110 }, await MbpollAsync(pty.B, "-a 7 -r 1 -c 10 -t 4"));
        Assert.Equal(new[] { 1, 0, 0, 1 }, await MbpollAsync(pty.B, "-a 7 -r 1 -c 4 -t 0"));

        await MbpollAsync(pty.B, "-a 7 -r 3 -t 4", "500", "600", "700");   // FC16 at address 2
        await MbpollAsync(pty.B, "-a 7 -r 10 -t 4", "1234");              // FC06 at address 9
        await MbpollAsync(pty.B, "-a 7 -r 2 -t 0", "1", "1");            // FC15 at coil 1
        Assert.Equal(new[] { 11, 22, 500, 600, 700, 66, 77, 88, 99, 1234 }, await MbpollAsync(pty.B, "-a 7 -r 1 -c 10 -t 4"));
        Assert.Equal(new[] { 1, 1, 1, 1 }, await MbpollAsync(pty.B, "-a 7 -r 1 -c 4 -t 0"));
    }

    [Fact]
    public async Task Master_OutstationSimulatorOverTcp_ReadsWritesAndSeesServerBusy()
    {
        var port = Loopback.FreeTcpPort();
        await using var sim = ExternalProcess.StartSimulator("outstation", "--listen", $"tcp://127.0.0.1:{port}", "--unit", "3", "--input", "4=9,8,7");
        await sim.WaitForLineAsync("READY", Bound);
        await using var link = new TcpChannelTransport(new TcpTransportOptions { Host = "127.0.0.1", Port = port }, TimeProvider.System);
        await link.OpenAsync(CancellationToken.None);
        var master = new ModbusRtuMaster(Options(unit: 3), TimeProvider.System);

        var result = await master.ExecuteAsync(link, [
            new ReadInputRegisters(4, 3),
            new ReadWriteMultipleRegisters(0, 2, 1, [321]),
            new ReadHoldingRegisters(2000, 1),
        ], CancellationToken.None).WaitAsync(Bound);

        Assert.Equal(new ushort[] { 9, 8, 7 }, result.Commands[0].Registers);
        Assert.Equal(new ushort[] { 0, 321 }, result.Commands[1].Registers);
        Assert.Equal(OutcomeCode.ExceptionResponse, result.Code);
        Assert.Equal(ModbusExceptionCode.IllegalDataAddress, result.Commands[2].ModbusException());
    }

    [Fact]
    public async Task Master_SimulatorProcessWithBusyFault_ServerBusyOutcome()
    {
        await using var pty = await SocatPtyPair.StartAsync();
        await using var sim = ExternalProcess.StartSimulator("outstation", "--port", pty.A, "--fault", "exception:6");
        await sim.WaitForLineAsync("READY", Bound);
        await using var link = new SerialChannelTransport(new SerialTransportOptions { PortName = pty.B, BaudRate = 19200 }, TimeProvider.System);
        await link.OpenAsync(CancellationToken.None);
        var master = new ModbusRtuMaster(Options(), TimeProvider.System);

        var result = await master.ExecuteAsync(link, [new ReadHoldingRegisters(0, 1)], CancellationToken.None).WaitAsync(Bound);

        Assert.Equal(OutcomeCode.ExceptionResponse, result.Code);
        Assert.True(result.ServerBusy);
        Assert.Equal(FaultAttribution.Outstation, result.Code.CountedAgainst());
    }

    [Fact]
    public async Task Master_TimeoutOnRealPty_RetriesThenLinkStillUsable()
    {
        await using var pty = await SocatPtyPair.StartAsync();
        await using var sim = ExternalProcess.StartSimulator("outstation", "--port", pty.A, "--unit", "1", "--holding", "0=77");
        await sim.WaitForLineAsync("READY", Bound);
        await using var link = new SerialChannelTransport(new SerialTransportOptions { PortName = pty.B, BaudRate = 19200 }, TimeProvider.System);
        await link.OpenAsync(CancellationToken.None);
        var silentUnit = new ModbusRtuMaster(new ModbusRtuOptions { UnitId = 5, BaudRate = 19200, Parity = SerialParity.None, ResponseTimeout = TimeSpan.FromMilliseconds(300), TimeoutRetries = 1 }, TimeProvider.System);

        var timedOut = await silentUnit.ExecuteAsync(link, [new ReadHoldingRegisters(0, 1)], CancellationToken.None).WaitAsync(Bound);

        Assert.True(
            timedOut.Code == OutcomeCode.CommandTimeout,
            $"expected CommandTimeout, got {timedOut.Code}: {timedOut.Detail}; received {Convert.ToHexString(timedOut.Commands[0].Response.Span)}");
        Assert.Equal(2, timedOut.TotalAttempts);
        Assert.InRange(timedOut.EndedAt - timedOut.StartedAt, TimeSpan.FromMilliseconds(600), TimeSpan.FromSeconds(5));

        // The cancelled serial reads left the port usable: the right unit answers on the same link.
        var ok = await new ModbusRtuMaster(Options(), TimeProvider.System).ExecuteAsync(link, [new ReadHoldingRegisters(0, 1)], CancellationToken.None).WaitAsync(Bound);
        Assert.Equal(OutcomeCode.Success, ok.Code);
        Assert.Equal(new ushort[] { 77 }, ok.Commands[0].Registers);
    }

    private static ModbusRtuOptions Options(byte unit = 1) => new()
    {
        UnitId = unit,
        BaudRate = 19200,
        Parity = SerialParity.None,
        ResponseTimeout = TimeSpan.FromSeconds(1),
        TimeoutRetries = 1,
    };

    private static async Task<ProtocolResult> FirstSuccessAsync(ModbusRtuMaster master, IChannelTransport link, ModbusCommand command, ExternalProcess peer)
    {
        ProtocolResult? last = null;
        for (var i = 0; i < 10; i++)
        {
            last = await master.ExecuteAsync(link, [command], CancellationToken.None).WaitAsync(Bound);
            if (last.IsSuccess)
            {
                return last;
            }
        }

        Assert.Fail($"no successful poll: {last?.Code} {last?.Detail}; peer output:\n{peer.Output}");
        return last!; // ! : unreachable, Assert.Fail throws
    }

    /// <summary>Runs mbpoll once: <c>mbpoll [options] device [write values]</c> (the values must follow the device).</summary>
    private static async Task<int[]> MbpollAsync(string device, string options, params string[] writeValues)
    {
        await using var mbpoll = ExternalProcess.Start("mbpoll", ["-m", "rtu", "-b", "19200", "-P", "none", "-o", "2", "-1", .. options.Split(' '), device, .. writeValues]);
        var exit = await mbpoll.WaitForExitAsync(Bound);
        Assert.True(exit == 0, $"mbpoll exited {exit}:\n{mbpoll.Output}");
        return ValueLine().Matches(mbpoll.Output).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToArray();
    }

    /// <summary>mbpoll prints each value as "[ref]: \tvalue".</summary>
    [GeneratedRegex(@"^\[\d+\]:\s+(-?\d+)\s*$", RegexOptions.Multiline)]
    private static partial Regex ValueLine();
}
