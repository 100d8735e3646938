using ChannelManager.Host.Hosting;

namespace ChannelManager.Tests.Hosting;

/// <summary>
/// Program runs the service without a verb only for WebApplicationFactory's argument shape (Program.cs); everything a
/// user types still goes to the command line (help, verbs, errors).
/// </summary>
public sealed class TestHostArgumentsTests
{
    [Fact]
    public void TryGetTestHostConfigPath_FactoryShapedArguments_ReturnsThePath()
    {
        string[] args = ["--environment=Development", "--applicationName=channelmanager", $"--{ServiceHost.TestHostConfigKey}=/tmp/x/appsettings.json"];

        Assert.True(ServiceHost.TryGetTestHostConfigPath(args, out var path));
        Assert.Equal("/tmp/x/appsettings.json", path);
    }

    [Theory]
    [InlineData]
    [InlineData("--help")]
    [InlineData("--environment=Development", "--applicationName=channelmanager")]
    [InlineData("--ChannelManagerTestHost:Config=/tmp/a.json")]
    [InlineData("--applicationName=channelmanager", "--ChannelManagerTestHost:Config=")]
    [InlineData("run", "--applicationName=channelmanager", "--ChannelManagerTestHost:Config=/tmp/a.json")]
    [InlineData("--applicationName=channelmanager", "--ChannelManagerTestHost:Config", "/tmp/a.json")]
    [InlineData("--applicationName=channelmanager", "-c=/tmp/a.json", "--ChannelManagerTestHost:Config=/tmp/a.json")]
    public void TryGetTestHostConfigPath_UserArguments_ReturnsFalse(params string[] args)
    {
        Assert.False(ServiceHost.TryGetTestHostConfigPath(args, out var path));
        Assert.Equal(string.Empty, path);
    }
}
