using ChannelManager.Core.Channels;

namespace ChannelManager.Tests.Channels;

public sealed class ModemOptionsTests
{
    private static ModemOptions Serial(string name) => new() { Name = name, Port = "/dev/ttyUSB0" };

    private static ModemOptions Tcp(string name) => new() { Name = name, Endpoint = "tcp://10.0.0.5:4001" };

    [Fact]
    public void Validate_MixedSerialAndTcpBank_NoErrors()
    {
        var errors = ModemOptions.Validate([Serial("M1"), Tcp("M2"), new ModemOptions { Name = "M3", Endpoint = "tcp://ser2net.local:3001", Pools = ["north"], AnswerCalls = true, ReservedForDialIn = true }]);

        Assert.Empty(errors);
    }

    [Fact]
    public void Validate_BadEndpoint_ErrorNamesJsonPathAndValue()
    {
        var errors = ModemOptions.Validate([Serial("M1"), Tcp("M2"), new ModemOptions { Name = "M3", Endpoint = "x" }]);

        var error = Assert.Single(errors);
        Assert.Equal("Modems[2].Endpoint", error.Path);
        Assert.Equal("Modems[2].Endpoint: 'x' is not tcp://host:port", error.ToString());
    }

    [Theory]
    [InlineData("http://host:4001")]
    [InlineData("tcp://host")]
    [InlineData("tcp://host:4001/path")]
    [InlineData("tcp://:4001")]
    public void Validate_EndpointNotTcpHostPort_Rejected(string endpoint)
    {
        var errors = ModemOptions.Validate([new ModemOptions { Name = "M1", Endpoint = endpoint }]);

        Assert.Contains(errors, e => e.Path == "Modems[0].Endpoint");
    }

    [Fact]
    public void Validate_DuplicateNameIgnoringCase_ErrorPointsAtFirstUse()
    {
        var errors = ModemOptions.Validate([Serial("M1"), Tcp("M2"), Tcp("m1")]);

        var error = Assert.Single(errors);
        Assert.Equal("Modems[2].Name", error.Path);
        Assert.Contains("Modems[0]", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_BothPortAndEndpoint_OneErrorOnTheModem()
    {
        var errors = ModemOptions.Validate([new ModemOptions { Name = "M1", Port = "COM3", Endpoint = "tcp://h:1" }]);

        var error = Assert.Single(errors);
        Assert.Equal("Modems[0]", error.Path);
        Assert.Contains("exactly one", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_NeitherPortNorEndpoint_OneErrorOnTheModem()
    {
        var errors = ModemOptions.Validate([new ModemOptions { Name = "M1" }]);

        var error = Assert.Single(errors);
        Assert.Equal("Modems[0]", error.Path);
        Assert.Contains("Port", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("E0V1", "must start with AT")]
    [InlineData("ATE0\rATZ", "CR or LF")]
    [InlineData("ATE0\nATZ", "CR or LF")]
    [InlineData("ATE0;+CBST=7", "';'")]
    [InlineData("", "must not be empty")]
    [InlineData("ATE0\u00e9", "printable ASCII")]
    public void Validate_BadInitString_ErrorOnInitString(string init, string expected)
    {
        var errors = ModemOptions.Validate([new ModemOptions { Name = "M1", Port = "COM1", InitString = init }]);

        Assert.Contains(errors, e => e.Path == "Modems[0].InitString" && e.Message.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_SeveralBadValues_EveryErrorReported()
    {
        var errors = ModemOptions.Validate(
        [
            new ModemOptions { Name = "", Port = "COM1", BaudRate = 12345, DialTimeout = TimeSpan.FromSeconds(1), CommandTimeout = TimeSpan.Zero, Pools = [" "] },
            new ModemOptions { Name = "M2", Endpoint = "tcp://h:1", ReservedForDialIn = true },
        ]);

        Assert.Equal(
            ["Modems[0].Name", "Modems[0].BaudRate", "Modems[0].DialTimeout", "Modems[0].CommandTimeout", "Modems[0].Pools[0]", "Modems[1].ReservedForDialIn"],
            errors.Select(e => e.Path));
    }

    [Fact]
    public void Validate_EmptyList_Error()
    {
        var error = Assert.Single(ModemOptions.Validate([]));

        Assert.Equal("Modems", error.Path);
    }

    [Fact]
    public void ToAtModemOptions_CopiesAtSettings_AndPassesAtModemValidation()
    {
        var modem = new ModemOptions { Name = "M1", Port = "COM1", InitString = "AT&FE0S7=30", DialTimeout = TimeSpan.FromSeconds(40), CommandTimeout = TimeSpan.FromSeconds(3), Pools = ["a", "b"], AnswerCalls = true };

        var at = modem.ToAtModemOptions();
        var role = modem.ToRole();

        at.Validate();
        Assert.Equal(("M1", "AT&FE0S7=30", TimeSpan.FromSeconds(40), TimeSpan.FromSeconds(3)), (at.Name, at.InitString, at.EffectiveDialTimeout, at.CommandTimeout));
        Assert.Equal(["a", "b"], role.Pools);
        Assert.True(role.AnswerCalls);
        Assert.False(role.ReservedForDialIn);
    }
}
