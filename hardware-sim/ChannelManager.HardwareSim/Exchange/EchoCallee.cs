using ChannelManager.Core.Transport;

namespace ChannelManager.HardwareSim.Exchange;

/// <summary>A data-mode outstation for tests: sends back every byte it receives until the link ends.</summary>
public static class EchoCallee
{
    public static async Task ServeAsync(IChannelTransport calleeEnd, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(calleeEnd);
        var buffer = new byte[4096];
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var n = await calleeEnd.ReadAsync(buffer, ct);
                if (n == 0)
                {
                    return;
                }

                await calleeEnd.WriteAsync(buffer.AsMemory(0, n), ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The caller hung up: the call is over.
        }
        catch (TransportFailureException)
        {
            // The line broke: nothing to answer any more.
        }
    }
}
