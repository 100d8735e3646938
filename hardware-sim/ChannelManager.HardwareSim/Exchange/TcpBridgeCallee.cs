using System.Globalization;
using System.Net.Sockets;
using ChannelManager.Core.Transport;

namespace ChannelManager.HardwareSim.Exchange;

/// <summary>
/// A callee that bridges the data-mode link to a TCP endpoint (for example a Modbus RTU-over-TCP
/// server such as pymodbus), so a real outstation program can sit behind a simulated modem.
/// </summary>
public static class TcpBridgeCallee
{
    /// <summary>Parses <c>tcp://host:port</c>; throws <see cref="FormatException"/> naming the problem otherwise.</summary>
    public static (string Host, int Port) ParseEndpoint(string endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme != "tcp" || uri.Port <= 0 || string.IsNullOrEmpty(uri.Host))
        {
            throw new FormatException(string.Create(CultureInfo.InvariantCulture, $"'{endpoint}' is not tcp://host:port"));
        }

        return (uri.Host, uri.Port);
    }

    public static Func<IChannelTransport, CancellationToken, Task> To(string host, int port) =>
        (calleeEnd, ct) => BridgeAsync(calleeEnd, host, port, ct);

    private static async Task BridgeAsync(IChannelTransport calleeEnd, string host, int port, CancellationToken ct)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(host, port, ct);
        }
        catch (SocketException)
        {
            // The far end is down: the callee "hangs up" at once and the caller sees NO CARRIER.
            return;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return;
        }

        var stream = client.GetStream();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var up = PumpAsync(
            async token =>
            {
                var buffer = new byte[4096];
                var n = await calleeEnd.ReadAsync(buffer, token);
                if (n > 0)
                {
                    await stream.WriteAsync(buffer.AsMemory(0, n), token);
                }

                return n;
            },
            stop.Token);
        var down = PumpAsync(
            async token =>
            {
                var buffer = new byte[4096];
                var n = await stream.ReadAsync(buffer, token);
                if (n > 0)
                {
                    await calleeEnd.WriteAsync(buffer.AsMemory(0, n), token);
                }

                return n;
            },
            stop.Token);
        await Task.WhenAny(up, down);
        await stop.CancelAsync();
        await Task.WhenAll(up, down);
    }

    /// <summary>Runs one direction until the source ends, the link breaks or the call is over.</summary>
    private static async Task PumpAsync(Func<CancellationToken, Task<int>> step, CancellationToken ct)
    {
        try
        {
            while (await step(ct) > 0)
            {
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is IOException or SocketException or TransportFailureException or ObjectDisposedException)
        {
            // Either side dropped: the bridge ends and the other direction is cancelled by the caller.
        }
    }
}
