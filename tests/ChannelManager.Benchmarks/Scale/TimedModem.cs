using System.Threading.Channels;
using ChannelManager.Core.Channels;
using ChannelManager.Core.Modems;
using ChannelManager.Core.Transport;

namespace ChannelManager.Benchmarks.Scale;

/// <summary>
/// Wraps a modem to measure the modem-time the Channel Manager spends on calls: from the start of set-up
/// (InitializeAsync) to the end of the hang-up. Health checks are not call time. Used from one call at a time
/// (the Channel Manager never overlaps operations on one modem), so plain fields suffice.
/// </summary>
internal sealed class TimedModem(IModemDevice inner, TimeProvider time) : IModemDevice
{
    private DateTimeOffset? _since;

    public TimeSpan Busy { get; private set; }

    public string Name => inner.Name;

    public IChannelTransport DataChannel => inner.DataChannel;

    public ChannelReader<ModemReply> Unsolicited => inner.Unsolicited;

    public Task<ModemResult> InitializeAsync(CancellationToken cancellationToken)
    {
        _since ??= time.GetUtcNow();
        return inner.InitializeAsync(cancellationToken);
    }

    public Task<ModemResult> DialAsync(string dialString, CancellationToken cancellationToken) => inner.DialAsync(dialString, cancellationToken);

    public Task<ModemResult> AnswerAsync(CancellationToken cancellationToken) => inner.AnswerAsync(cancellationToken);

    public async Task<ModemResult> HangUpAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await inner.HangUpAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Stop();
        }
    }

    public Task<ModemResult> CheckAsync(CancellationToken cancellationToken)
    {
        Stop();
        return inner.CheckAsync(cancellationToken);
    }

    public async Task<ModemResult> ResetAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await inner.ResetAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Stop();
        }
    }

    public Task ReleaseLinkAsync(CancellationToken cancellationToken) => inner.ReleaseLinkAsync(cancellationToken);

    public ValueTask DisposeAsync() => inner.DisposeAsync();

    /// <summary>Closes a busy period still open at the end of the run.</summary>
    public void Stop()
    {
        if (_since is { } since)
        {
            Busy += time.GetUtcNow() - since;
            _since = null;
        }
    }
}
