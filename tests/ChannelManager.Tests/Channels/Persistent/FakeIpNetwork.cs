using System.Collections.Concurrent;
using ChannelManager.Core;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Transport;
using Microsoft.Extensions.Time.Testing;

namespace ChannelManager.Tests.Channels.Persistent;

/// <summary>
/// An IP path and outstation in virtual time for <c>PersistentChannel</c> unit tests: it makes the links (the transport
/// factory) and answers the exchanges (the protocol driver). A link idle for <see cref="NatIdleTimeout"/> or longer is
/// dead from then on (a silent-drop NAT): every exchange on it gets no reply.
/// </summary>
internal sealed class FakeIpNetwork(FakeTimeProvider time) : IProtocolDriver
{
    private readonly List<FakeIpLink> _links = [];
    private Exception? _throwNext;

    public TimeSpan? NatIdleTimeout { get; set; }

    /// <summary>Connect attempts refused while true (a RST to the SYN: the channel's failure).</summary>
    public bool RefuseConnects { get; set; }

    /// <summary>The outstation is up but does not answer (no reply on any link).</summary>
    public bool OutstationSilent { get; set; }

    /// <summary>Outcomes forced on the next exchanges, before the NAT model.</summary>
    public ConcurrentQueue<OutcomeCode> Forced { get; } = new();

    public ConcurrentQueue<DateTimeOffset> ConnectAttempts { get; } = new();

    public ConcurrentQueue<Exchange> Exchanges { get; } = new();

    public IReadOnlyList<ProtocolCommand>? HeartbeatCommands { get; set; }

    /// <summary>Thrown by the next poll exchange, as a driver does for a bug or bad arguments.</summary>
    public Exception? ThrowNext
    {
        get => _throwNext;
        set => _throwNext = value;
    }

    public int LinksOpened
    {
        get
        {
            lock (_links)
                return _links.Count(l => l.Opened);
        }
    }

    /// <summary>Links open now (opened and not yet closed): two hosts sharing this outstation must never have two.</summary>
    public int OpenLinks
    {
        get
        {
            lock (_links)
                return _links.Count(l => l.IsOpen);
        }
    }

    /// <summary>Connects made while another link to this outstation was still open (a one-connection outstation would refuse them).</summary>
    public int OverlappingConnects { get; private set; }

    /// <summary>While set and not completed, closing a link waits for it (a slow close: the FIN not yet sent).</summary>
    public TaskCompletionSource? CloseGate { get; set; }

    /// <summary>Closes waiting at <see cref="CloseGate"/> now.</summary>
    public int ClosesWaiting => Volatile.Read(ref _closesWaiting);

    private int _closesWaiting;

    public int HeartbeatsAnswered => Exchanges.Count(e => e.Heartbeat && e.Code == OutcomeCode.Success);

    public IChannelTransport CreateLink()
    {
        lock (_links)
        {
            var link = new FakeIpLink(this, _links.Count + 1);
            _links.Add(link);
            return link;
        }
    }

    public Task<ProtocolResult> ExecuteAsync(IChannelTransport link, IReadOnlyList<ProtocolCommand> commands, CancellationToken cancellationToken)
    {
        if (!ReferenceEquals(commands, HeartbeatCommands) && Interlocked.Exchange(ref _throwNext, null) is { } e)
            throw e;
        var l = (FakeIpLink)link;
        var now = time.GetTimestamp();
        var idleBefore = time.GetElapsedTime(l.LastActivity, now);
        OutcomeCode code;
        if (Forced.TryDequeue(out var forced))
        {
            code = forced;
        }
        else if (!l.IsOpen)
        {
            code = OutcomeCode.ConnectionLost;
        }
        else if (l.SilentlyDropped || (NatIdleTimeout is { } x && time.GetElapsedTime(l.LastActivity, now) >= x))
        {
            l.SilentlyDropped = true;
            code = OutcomeCode.CommandTimeout;
        }
        else
        {
            code = OutstationSilent ? OutcomeCode.CommandTimeout : OutcomeCode.Success;
        }

        if (code == OutcomeCode.Success)
            l.LastActivity = now;
        var heartbeat = ReferenceEquals(commands, HeartbeatCommands);
        Exchanges.Enqueue(new Exchange(l.Id, heartbeat, time.GetUtcNow(), idleBefore, code));
        var result = new CommandResult(commands[0], code, 1) { Registers = code == OutcomeCode.Success ? [42] : [], Detail = code == OutcomeCode.Success ? null : code.ToString() };
        return Task.FromResult(new ProtocolResult(code, [result]));
    }

    internal sealed record Exchange(int Link, bool Heartbeat, DateTimeOffset At, TimeSpan IdleBefore, OutcomeCode Code);

    private sealed class FakeIpLink(FakeIpNetwork network, int id) : IChannelTransport
    {
        public int Id { get; } = id;

        public bool Opened { get; private set; }

        public bool SilentlyDropped { get; set; }

        public long LastActivity { get; set; }

        public string Endpoint => $"fake://outstation/{Id}";

        public bool IsOpen { get; private set; }

        public IModemControlLines? ControlLines => null;

        public Task OpenAsync(CancellationToken cancellationToken)
        {
            network.ConnectAttempts.Enqueue(network.TimeNow());
            if (network.RefuseConnects)
                throw new TransportFailureException(TransportFault.OpenFailed, Endpoint, "cannot connect: connection refused");
            if (network.OpenLinks > 0)
                network.OverlappingConnects++;
            Opened = IsOpen = true;
            LastActivity = network.Timestamp();
            return Task.CompletedTask;
        }

        public async Task CloseAsync(CancellationToken cancellationToken)
        {
            if (network.CloseGate is { } gate)
            {
                Interlocked.Increment(ref network._closesWaiting);
                await gate.Task.WaitAsync(cancellationToken);
                Interlocked.Decrement(ref network._closesWaiting);
            }

            IsOpen = false;
        }

        public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken) => throw new InvalidOperationException("the fake driver does not read");

        public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken) => throw new InvalidOperationException("the fake driver does not write");

        public ValueTask DisposeAsync()
        {
            IsOpen = false;
            return ValueTask.CompletedTask;
        }
    }

    private DateTimeOffset TimeNow() => time.GetUtcNow();

    private long Timestamp() => time.GetTimestamp();
}
