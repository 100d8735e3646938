using System.Net;
using System.Net.Sockets;

namespace ChannelManager.IntegrationTests.Support;

/// <summary>Ports on 127.0.0.1 for the processes and servers a test starts.</summary>
internal static class Loopback
{
    /// <summary>A TCP port the system just handed out and released, for a server the test starts next.</summary>
    public static int FreeTcpPort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
