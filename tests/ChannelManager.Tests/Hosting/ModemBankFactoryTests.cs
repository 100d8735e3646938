using ChannelManager.Core.Channels;
using ChannelManager.Host.Hosting;
using ChannelManager.Transport.Serial;
using ChannelManager.Transport.Tcp;
using Microsoft.Extensions.Time.Testing;

namespace ChannelManager.Tests.Hosting;

public sealed class ModemBankFactoryTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public async Task Create_MixedSerialAndTcpBank_EveryModemWithItsRole()
    {
        ModemOptions[] modems =
        [
            new() { Name = "COM-A", Port = "/dev/ttyS9", Pools = ["north"] },
            new() { Name = "NET-B", Endpoint = "tcp://127.0.0.1:4001", Pools = ["north", "south"] },
            new() { Name = "NET-C", Endpoint = "tcp://127.0.0.1:4002", AnswerCalls = true, ReservedForDialIn = true },
        ];

        await using var manager = ModemBankFactory.Create(modems, new ChannelManagerOptions(), _time);

        var snapshot = manager.Modems;
        Assert.Equal(["COM-A", "NET-B", "NET-C"], snapshot.Select(m => m.Name));
        Assert.Equal(["north", "south"], snapshot[1].Pools);
        Assert.True(snapshot[2].ReservedForDialIn);
        Assert.All(snapshot, m => Assert.Equal(ModemAvailability.Idle, m.Availability));
    }

    [Fact]
    public void Create_InvalidModemsAndOptions_ThrowsListingEveryPath()
    {
        ModemOptions[] modems = [new() { Name = "M1", Port = "COM1" }, new() { Name = "M1", Endpoint = "x" }];
        var options = new ChannelManagerOptions { QuarantineInitial = TimeSpan.FromMinutes(10), QuarantineMax = TimeSpan.FromMinutes(1), MaxQuality = 0 };

        var ex = Assert.Throws<ModemBankConfigurationException>(() => ModemBankFactory.Create(modems, options, _time));

        Assert.Equal(
            ["Modems[1].Endpoint", "Modems[1].Name", "ChannelManager.MaxQuality", "ChannelManager.QuarantineMax"],
            ex.Errors.Select(e => e.Path));
        Assert.Contains("Modems[1].Endpoint: 'x' is not tcp://host:port", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_EveryModemReservedForDialIn_ErrorNoDialOutModem()
    {
        var errors = ModemBankFactory.Validate([new ModemOptions { Name = "M1", Port = "COM1", AnswerCalls = true, ReservedForDialIn = true }], new ChannelManagerOptions());

        var error = Assert.Single(errors);
        Assert.Equal("Modems", error.Path);
    }

    [Fact]
    public async Task CreateTransport_PortOrEndpoint_SerialOrTcpAdapter()
    {
        await using var serial = ModemBankFactory.CreateTransport(new ModemOptions { Name = "M1", Port = "/dev/ttyS9", BaudRate = 9600 }, _time);
        await using var tcp = ModemBankFactory.CreateTransport(new ModemOptions { Name = "M2", Endpoint = "tcp://10.1.2.3:4001" }, _time);

        Assert.IsType<SerialChannelTransport>(serial);
        Assert.Equal("/dev/ttyS9", serial.Endpoint);
        Assert.IsType<TcpChannelTransport>(tcp);
        Assert.Equal("tcp://10.1.2.3:4001", tcp.Endpoint);
    }
}
