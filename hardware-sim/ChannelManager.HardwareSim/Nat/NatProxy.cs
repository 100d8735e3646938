using System.Net;
using System.Net.Sockets;

namespace ChannelManager.HardwareSim.Nat;

/// <summary>What happened to one NAT mapping (one proxied TCP connection).</summary>
public enum NatMappingState : byte
{
    /// <summary>Forwarding both ways.</summary>
    Active,

    /// <summary>Idle for the timeout (or dropped on command): traffic is discarded in both directions, no FIN, no RST.</summary>
    SilentlyDropped,

    /// <summary>Closed by one of the ends, or reset on command.</summary>
    Closed,
}

/// <summary>A snapshot of one mapping, for tests and the <c>status</c> command.</summary>
public sealed record NatMappingInfo(int Id, string Client, NatMappingState State, long ForwardedBytes, long DiscardedBytes);

/// <summary>
/// A carrier-grade NAT / stateful firewall in front of an outstation, as a TCP proxy on loopback (issue 7 item 4).
/// A mapping idle for <see cref="IdleTimeout"/> or longer is forgotten <b>silently</b>: the next segment in either
/// direction is discarded, nothing is forwarded any more, and neither end gets a FIN or a RST — exactly what makes
/// always-connected links need a heartbeat (seed 001: "how long an idle HTTP connection can be maintained on the
/// operator network"). Idle time is read from the injected <see cref="TimeProvider"/> when traffic arrives (a real NAT
/// also only notices when the next packet finds no mapping), so tests can run it in virtual time.
/// </summary>
/// <remarks>
/// Unlike a real NAT, our kernel still ACKs the client's segments after a drop (the proxy holds the socket), so the
/// client's TCP stack never reports an error: the loss is visible only as a missing reply, the hardest case.
/// </remarks>
public sealed class NatProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly EndPoint _target;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Mapping> _mappings = [];
    private readonly Lock _gate = new();
    private Task _acceptLoop = Task.CompletedTask;
    private TimeSpan _idleTimeout;
    private bool _blackholed;
    private int _nextId;

    private NatProxy(IPEndPoint listen, EndPoint target, TimeSpan idleTimeout, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(idleTimeout, TimeSpan.Zero);
        _listener = new TcpListener(listen);
        _target = target;
        _time = time;
        _idleTimeout = idleTimeout;
    }

    /// <summary>Starts listening on <paramref name="listen"/> (port 0 = any free port) and forwarding to <paramref name="target"/>.</summary>
    public static NatProxy Start(IPEndPoint listen, EndPoint target, TimeSpan idleTimeout, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(listen);
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(time);
        var proxy = new NatProxy(listen, target, idleTimeout, time);
        proxy._listener.Start();
        proxy._acceptLoop = proxy.AcceptLoopAsync();
        return proxy;
    }

    // ! : a started TcpListener always has a bound IPEndPoint.
    public IPEndPoint LocalEndpoint => (IPEndPoint)_listener.LocalEndpoint!;

    public string Endpoint => $"tcp://{LocalEndpoint}";

    /// <summary>The silent-drop time X; changeable while running (takes effect at the next segment of every mapping).</summary>
    public TimeSpan IdleTimeout
    {
        get
        {
            lock (_gate)
                return _idleTimeout;
        }

        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(value, TimeSpan.Zero);
            lock (_gate)
                _idleTimeout = value;
        }
    }

    /// <summary>While on, every segment of every mapping (new ones too) is discarded — a link outage; idle time keeps running.</summary>
    public bool Blackholed
    {
        get
        {
            lock (_gate)
                return _blackholed;
        }

        set
        {
            lock (_gate)
                _blackholed = value;
        }
    }

    /// <summary>Connections accepted so far.</summary>
    public int Accepted
    {
        get
        {
            lock (_gate)
                return _nextId;
        }
    }

    /// <summary>Mappings that were silently dropped (idle timeout or <see cref="DropAll"/>).</summary>
    public int SilentDrops { get; private set; }

    public IReadOnlyList<NatMappingInfo> Mappings
    {
        get
        {
            lock (_gate)
            {
                var now = _time.GetTimestamp();
                return [.. _mappings.Select(m => new NatMappingInfo(m.Id, m.Client, StateAt(m, now), m.Forwarded, m.Discarded))];
            }
        }
    }

    /// <summary>Forgets every live mapping now, silently (as if they had all been idle too long).</summary>
    public int DropAll()
    {
        lock (_gate)
        {
            var n = 0;
            foreach (var m in _mappings.Where(m => m.State == NatMappingState.Active))
            {
                m.State = NatMappingState.SilentlyDropped;
                SilentDrops++;
                n++;
            }

            return n;
        }
    }

    /// <summary>Resets every mapping: the client gets a RST (SO_LINGER 0), the outstation a FIN.</summary>
    public int ResetAll()
    {
        List<Mapping> victims;
        lock (_gate)
        {
            victims = [.. _mappings.Where(m => m.State != NatMappingState.Closed)];
            foreach (var m in victims)
                m.State = NatMappingState.Closed;
        }

        foreach (var m in victims)
        {
            try
            {
                m.ClientSocket.LingerState = new LingerOption(true, 0);
            }
            catch (SocketException)
            {
            }

            m.ClientSocket.Dispose();
            m.UpstreamSocket.Dispose();
        }

        return victims.Count;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        List<Mapping> all;
        lock (_gate)
            all = [.. _mappings];
        foreach (var m in all)
        {
            m.ClientSocket.Dispose();
            m.UpstreamSocket.Dispose();
        }

        try
        {
            await _acceptLoop.WaitAsync(TimeSpan.FromSeconds(5), TimeProvider.System);
            await Task.WhenAll(all.Select(m => m.Pumps)).WaitAsync(TimeSpan.FromSeconds(5), TimeProvider.System);
        }
        catch (TimeoutException)
        {
            // The sockets are disposed; stragglers end on their own.
        }

        _stop.Dispose();
    }

    private NatMappingState StateAt(Mapping m, long now) =>
        m.State == NatMappingState.Active && _time.GetElapsedTime(m.LastActivity, now) >= _idleTimeout ? NatMappingState.SilentlyDropped : m.State;

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            client.NoDelay = true;
            _ = HandleAsync(client);
        }
    }

    private async Task HandleAsync(Socket client)
    {
        var upstream = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            connectTimeout.CancelAfter(TimeSpan.FromSeconds(5));
            await upstream.ConnectAsync(_target, connectTimeout.Token);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The outstation is not there: the client sees its connection reset, as from a NAT with no route.
            upstream.Dispose();
            try
            {
                client.LingerState = new LingerOption(true, 0);
            }
            catch (SocketException)
            {
            }

            client.Dispose();
            return;
        }

        Mapping m;
        lock (_gate)
        {
            m = new Mapping(++_nextId, client, upstream, _time.GetTimestamp());
            _mappings.Add(m);
        }

        m.Pumps = Task.WhenAll(PumpAsync(m, fromClient: true), PumpAsync(m, fromClient: false));
        await m.Pumps;
    }

    private async Task PumpAsync(Mapping m, bool fromClient)
    {
        var from = fromClient ? m.ClientSocket : m.UpstreamSocket;
        var to = fromClient ? m.UpstreamSocket : m.ClientSocket;
        var buffer = new byte[4096];
        while (true)
        {
            int n;
            try
            {
                n = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                n = 0;
            }

            if (n == 0)
            {
                Closed(m, fromClient);
                return;
            }

            if (!Admit(m, n))
                continue;

            try
            {
                await to.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, _stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                Closed(m, fromClient);
                return;
            }
        }
    }

    /// <summary>The NAT decision for one segment: forward (and refresh the mapping) or discard silently.</summary>
    private bool Admit(Mapping m, int bytes)
    {
        lock (_gate)
        {
            var now = _time.GetTimestamp();
            if (m.State == NatMappingState.Active && _time.GetElapsedTime(m.LastActivity, now) >= _idleTimeout)
            {
                m.State = NatMappingState.SilentlyDropped;
                SilentDrops++;
            }

            if (m.State != NatMappingState.Active || _blackholed)
            {
                m.Discarded += bytes;
                return false;
            }

            m.LastActivity = now;
            m.Forwarded += bytes;
            return true;
        }
    }

    /// <summary>
    /// One end closed. A live mapping passes that on (both sockets close); a dropped one does not: if the outstation
    /// closes, the client must not learn it (the NAT has forgotten the flow); if the client closes, we let go of both.
    /// </summary>
    private void Closed(Mapping m, bool fromClient)
    {
        bool closeBoth;
        lock (_gate)
        {
            if (m.State == NatMappingState.Active && (_blackholed || _time.GetElapsedTime(m.LastActivity) >= _idleTimeout))
            {
                // The outstation's FIN finds no mapping (or no link): it never reaches the client.
                if (!_blackholed)
                {
                    m.State = NatMappingState.SilentlyDropped;
                    SilentDrops++;
                }

                if (!fromClient)
                {
                    m.UpstreamSocket.Dispose();
                    return;
                }
            }

            closeBoth = m.State == NatMappingState.Active || fromClient || m.State == NatMappingState.Closed;
            if (closeBoth)
                m.State = NatMappingState.Closed;
        }

        if (closeBoth)
        {
            m.ClientSocket.Dispose();
            m.UpstreamSocket.Dispose();
        }
        else
        {
            m.UpstreamSocket.Dispose();
        }
    }

    private sealed class Mapping(int id, Socket client, Socket upstream, long created)
    {
        public int Id { get; } = id;

        public string Client { get; } = client.RemoteEndPoint?.ToString() ?? "?";

        public Socket ClientSocket { get; } = client;

        public Socket UpstreamSocket { get; } = upstream;

        public NatMappingState State { get; set; } = NatMappingState.Active;

        public long LastActivity { get; set; } = created;

        public long Forwarded { get; set; }

        public long Discarded { get; set; }

        public Task Pumps { get; set; } = Task.CompletedTask;
    }
}
