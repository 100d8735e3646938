using System.Threading.Channels;
using ChannelManager.Core;
using ChannelManager.Core.Channels;
using ChannelManager.Core.Modems;
using ChannelManager.Core.Transport;

namespace ChannelManager.Tests.Channels;

/// <summary>A scriptable <see cref="IModemDevice"/> that also proves no two operations overlap on one modem.</summary>
internal sealed class FakeModem : IModemDevice
{
    private readonly Channel<ModemReply> _unsolicited = Channel.CreateUnbounded<ModemReply>();
    private int _busy;

    public FakeModem(string name)
    {
        Name = name;
        var (left, right) = InMemoryTransport.CreatePair(name + ":host", name + ":line");
        DataChannel = left;
        LineEnd = right;
    }

    public string Name { get; }

    public IChannelTransport DataChannel { get; }

    public InMemoryTransport LineEnd { get; }

    public ChannelReader<ModemReply> Unsolicited => _unsolicited.Reader;

    public Func<CancellationToken, Task<ModemResult>> OnInitialize { get; set; } = _ => Ok();

    public Func<string, CancellationToken, Task<ModemResult>> OnDial { get; set; } = (_, _) => Result(OutcomeCode.Success, "CONNECT 33600");

    public Func<CancellationToken, Task<ModemResult>> OnCheck { get; set; } = _ => Ok();

    public Func<CancellationToken, Task<ModemResult>> OnReset { get; set; } = _ => Ok();

    public Func<CancellationToken, Task<ModemResult>> OnHangUp { get; set; } = _ => Ok();

    public Func<CancellationToken, Task<ModemResult>> OnAnswer { get; set; } = _ => Result(OutcomeCode.Success, "CONNECT 9600");

    public List<string> Dials { get; } = [];

    public int Checks { get; private set; }

    public int HangUps { get; private set; }

    /// <summary>Set when two operations ran on this modem at once (the simulator's "no modem in two calls" check).</summary>
    public bool Overlapped { get; private set; }

    public void Ring(string? clip = null)
    {
        if (clip is not null)
        {
            _unsolicited.Writer.TryWrite(new ModemReply(ModemReplyKind.Unsolicited, $"+CLIP: \"{clip}\",129"));
        }

        _unsolicited.Writer.TryWrite(new ModemReply(ModemReplyKind.Ring, "RING"));
    }

    public static Task<ModemResult> Ok() => Result(OutcomeCode.Success, "OK");

    public static Task<ModemResult> Result(OutcomeCode code, string raw) => Task.FromResult(new ModemResult(code, raw, null, TimeSpan.FromSeconds(1)));

    public Task<ModemResult> InitializeAsync(CancellationToken cancellationToken) => Guard(() => OnInitialize(cancellationToken), enter: true);

    public Task<ModemResult> DialAsync(string dialString, CancellationToken cancellationToken)
    {
        Dials.Add(dialString);
        return OnDial(dialString, cancellationToken);
    }

    public Task<ModemResult> AnswerAsync(CancellationToken cancellationToken) => Guard(() => OnAnswer(cancellationToken), enter: true);

    public Task<ModemResult> HangUpAsync(CancellationToken cancellationToken)
    {
        HangUps++;
        Interlocked.Exchange(ref _busy, 0);
        return OnHangUp(cancellationToken);
    }

    public async Task<ModemResult> CheckAsync(CancellationToken cancellationToken)
    {
        Checks++;
        if (Interlocked.Increment(ref _busy) > 1)
        {
            Overlapped = true;
        }

        try
        {
            return await OnCheck(cancellationToken);
        }
        finally
        {
            Interlocked.Decrement(ref _busy);
        }
    }

    public Task<ModemResult> ResetAsync(CancellationToken cancellationToken) => OnReset(cancellationToken);

    /// <summary>How often the Channel Manager closed this modem's link (active/active hand-over).</summary>
    public int LinkReleases { get; private set; }

    public Task ReleaseLinkAsync(CancellationToken cancellationToken)
    {
        LinkReleases++;
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private Task<ModemResult> Guard(Func<Task<ModemResult>> op, bool enter)
    {
        if (enter && Interlocked.Increment(ref _busy) > 1)
        {
            Overlapped = true;
        }

        return op();
    }
}
