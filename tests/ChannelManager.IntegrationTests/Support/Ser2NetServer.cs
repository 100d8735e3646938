using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace ChannelManager.IntegrationTests.Support;

/// <summary>
/// ser2net 4.x exporting one serial device (usually one end of a <see cref="SocatPtyPair"/>) as a raw TCP
/// port on 127.0.0.1 (design.md §7), with its admin port for fault injection (`disconnect`).
/// </summary>
internal sealed class Ser2NetServer : IAsyncDisposable
{
    private readonly ExternalProcess _process;
    private readonly string _directory;

    private Ser2NetServer(ExternalProcess process, string directory, int port, int adminPort)
    {
        _process = process;
        _directory = directory;
        Port = port;
        AdminPort = adminPort;
    }

    public int Port { get; }

    public int AdminPort { get; }

    public string Endpoint => $"tcp://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    /// <param name="device">The serial device to export.</param>
    /// <param name="baudRate">Its speed.</param>
    /// <param name="kickOldUser">
    /// true (the rigs' default): a new client takes the port from the old one. false: ser2net's own default — one client
    /// per port, a second is turned away while the first stays connected (as on most commercial serial servers).
    /// </param>
    public static async Task<Ser2NetServer> StartAsync(string device, int baudRate = 19200, bool kickOldUser = true)
    {
        var dir = Directory.CreateTempSubdirectory("cm-ser2net-").FullName;
        var port = Loopback.FreeTcpPort();
        var admin = Loopback.FreeTcpPort();
        var config = Path.Combine(dir, "ser2net.yaml");
        await File.WriteAllTextAsync(config, $"""
            %YAML 1.1
            ---
            connection: &con1
              accepter: tcp,127.0.0.1,{port}
              connector: serialdev,{device},{baudRate}n81,local
              options:
                kickolduser: {(kickOldUser ? "true" : "false")}
            admin:
              accepter: tcp,127.0.0.1,{admin}
            """);
        // -n: stay in the foreground (the test owns it); -u: no UUCP lock files.
        var process = ExternalProcess.Start("ser2net", "-n", "-u", "-c", config, "-P", Path.Combine(dir, "ser2net.pid"));
        var server = new Ser2NetServer(process, dir, port, admin);
        await WaitForListenerAsync(port, process, TimeSpan.FromSeconds(10));
        return server;
    }

    /// <summary>Drops the current TCP client through the admin port, as a serial server resetting a session.</summary>
    public async Task<string> DisconnectClientAsync()
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, AdminPort);
        var stream = client.GetStream();
        // Wait for the "-> " prompt, send the command, and wait for the next prompt: only then has
        // ser2net processed it (closing the admin session early can lose the command).
        var transcript = await ReadUntilPromptAsync(stream, 1);
        // ser2net accepts the TCP connection before it has attached it to the port; a disconnect sent
        // in between is a no-op. Wait until the port reports its client.
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            while (true)
            {
                await stream.WriteAsync("showport con1\r\n"u8.ToArray(), cts.Token);
                var status = await ReadUntilPromptAsync(stream, 1);
                if (status.Contains("connected to:", StringComparison.Ordinal))
                {
                    break;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(50), TimeProvider.System, cts.Token);
            }
        }

        await stream.WriteAsync("disconnect con1\r\n"u8.ToArray());
        transcript += await ReadUntilPromptAsync(stream, 1);
        return transcript;
    }

    private static async Task<string> ReadUntilPromptAsync(NetworkStream stream, int prompts)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var text = new System.Text.StringBuilder();
        var buffer = new byte[256];
        while (CountPrompts(text.ToString()) < prompts)
        {
            var n = await stream.ReadAsync(buffer, cts.Token);
            if (n == 0)
            {
                break;
            }

            text.Append(System.Text.Encoding.ASCII.GetString(buffer, 0, n));
        }

        return text.ToString();
    }

    private static int CountPrompts(string text) => text.Split("-> ").Length - 1;

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static async Task WaitForListenerAsync(int port, ExternalProcess process, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (!cts.IsCancellationRequested)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"ser2net exited: {process.Output}");
            }

            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port, cts.Token);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50), TimeProvider.System, cts.Token);
            }
        }

        throw new TimeoutException($"ser2net did not listen on {port}: {process.Output}");
    }
}
