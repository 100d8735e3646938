using Stateless;
using Stateless.Graph;

namespace ChannelManager.Core.Modems;

/// <summary>
/// The modem's session state (style.md §2): every transition configured here, queued firing, one
/// firing at a time. The engine (<see cref="AtModem"/>) does the I/O and fires triggers; the machine only
/// says which moves are legal, so an illegal trigger is a bug and throws.
/// </summary>
internal sealed class ModemSession : IDisposable
{
    private readonly StateMachine<ModemState, ModemTrigger> _machine;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile ModemState _state = ModemState.Idle;

    public ModemSession(Action<ModemState, ModemState, ModemTrigger>? onTransitioned = null)
    {
        _machine = new StateMachine<ModemState, ModemTrigger>(() => _state, s => _state = s, FiringMode.Queued);
        if (onTransitioned is not null)
        {
            _machine.OnTransitioned(t => onTransitioned(t.Source, t.Destination, t.Trigger));
        }

        _machine.Configure(ModemState.Idle)
            .Permit(ModemTrigger.Initialize, ModemState.Initializing)
            .Permit(ModemTrigger.HangUp, ModemState.HangingUp)
            .Permit(ModemTrigger.Fault, ModemState.Faulted);

        _machine.Configure(ModemState.Initializing)
            .Permit(ModemTrigger.Initialized, ModemState.Ready)
            .Permit(ModemTrigger.Fault, ModemState.Faulted);

        _machine.Configure(ModemState.Ready)
            .Permit(ModemTrigger.Initialize, ModemState.Initializing)
            .Permit(ModemTrigger.Dial, ModemState.Dialling)
            .Permit(ModemTrigger.Answer, ModemState.Answering)
            .Permit(ModemTrigger.HangUp, ModemState.HangingUp)
            .Permit(ModemTrigger.Fault, ModemState.Faulted);

        // Seed 004: a connection failure (BUSY, NO ANSWER, NO CARRIER, timeout) leaves a healthy modem;
        // a modem fault (ERROR, NO DIALTONE, BLACKLISTED, silence) leaves it Faulted until re-initialised.
        _machine.Configure(ModemState.Dialling)
            .Permit(ModemTrigger.Connected, ModemState.Online)
            .Permit(ModemTrigger.CallFailed, ModemState.Ready)
            .Permit(ModemTrigger.Fault, ModemState.Faulted);

        _machine.Configure(ModemState.Answering)
            .Permit(ModemTrigger.Connected, ModemState.Online)
            .Permit(ModemTrigger.CallFailed, ModemState.Ready)
            .Permit(ModemTrigger.Fault, ModemState.Faulted);

        _machine.Configure(ModemState.Online)
            .Permit(ModemTrigger.Escape, ModemState.Escaped)
            .Permit(ModemTrigger.HangUp, ModemState.HangingUp)   // DTR drop (&D2)
            .Permit(ModemTrigger.CarrierLost, ModemState.Ready)  // NO CARRIER in data mode, CD drop
            .Permit(ModemTrigger.Fault, ModemState.Faulted);     // link closed under us

        _machine.Configure(ModemState.Escaped)
            .Permit(ModemTrigger.HangUp, ModemState.HangingUp)
            .Permit(ModemTrigger.CarrierLost, ModemState.Ready)
            .Permit(ModemTrigger.Fault, ModemState.Faulted);

        _machine.Configure(ModemState.HangingUp)
            .Permit(ModemTrigger.HungUp, ModemState.Ready)
            .Permit(ModemTrigger.Fault, ModemState.Faulted);

        _machine.Configure(ModemState.Faulted)
            .Permit(ModemTrigger.Initialize, ModemState.Initializing)
            .Permit(ModemTrigger.HangUp, ModemState.HangingUp)
            .Ignore(ModemTrigger.Fault);
    }

    public ModemState State => _state;

    public void Dispose() => _gate.Dispose();

    /// <summary>Fires a trigger the caller knows is legal; an illegal one is a bug (InvalidOperationException).</summary>
    public async Task FireAsync(ModemTrigger trigger)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            await _machine.FireAsync(trigger).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Fires only if legal in the current state: for link events that race with commands.</summary>
    public async Task<bool> TryFireAsync(ModemTrigger trigger)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (!_machine.CanFire(trigger))
            {
                return false;
            }

            await _machine.FireAsync(trigger).ConfigureAwait(false);
            return true;
        }
        finally
        {
            _gate.Release();
        }
    }

    public bool CanFire(ModemTrigger trigger) => _machine.CanFire(trigger);

    /// <summary>The machine as a Mermaid state diagram (docs/modem-session.mmd is this text).</summary>
    public string ToMermaid() => MermaidGraph.Format(_machine.GetInfo());
}
