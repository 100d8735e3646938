using Stateless;
using Stateless.Graph;

namespace ChannelManager.Core.Modems;

/// <summary>
/// The modem's session state (style.md §2): every transition configured here, one firing at a time. The
/// engine (<see cref="AtModem"/>) does the I/O and fires triggers; the machine only says which moves are
/// legal, so an illegal trigger is a bug and throws.
/// <para>
/// The transitions are configured (and drawn, <see cref="ToMermaid"/>) with Stateless, but fired from a table
/// read out of that configuration once: every transition is a plain Permit or Ignore with no guards or
/// actions, so the table says exactly what Stateless would, and a firing is a dictionary look-up under a lock
/// instead of Stateless's async firing (a dozen allocations and a semaphore hand-off per trigger, ~10 % of the
/// scale simulation's allocations — issue 9).
/// </para>
/// </summary>
internal sealed class ModemSession : IDisposable
{
    private static readonly Task<bool> Fired = Task.FromResult(true);
    private static readonly Task<bool> NotFired = Task.FromResult(false);

    private readonly StateMachine<ModemState, ModemTrigger> _machine;
    private readonly Dictionary<(ModemState State, ModemTrigger Trigger), ModemState?> _transitions = [];
    private readonly Action<ModemState, ModemState, ModemTrigger>? _onTransitioned;
    private readonly Lock _gate = new();
    private volatile ModemState _state = ModemState.Idle;

    public ModemSession(Action<ModemState, ModemState, ModemTrigger>? onTransitioned = null)
    {
        _machine = new StateMachine<ModemState, ModemTrigger>(() => _state, s => _state = s, FiringMode.Queued);
        _onTransitioned = onTransitioned;

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

        foreach (var state in _machine.GetInfo().States)
        {
            var from = (ModemState)state.UnderlyingState;
            if (state.DynamicTransitions.Any() || state.EntryActions.Any() || state.ExitActions.Any() || state.Substates.Any() || state.Superstate is not null)
            {
                throw new InvalidOperationException($"ModemSession fires from a table of Permit/Ignore transitions; state {from} has more than that.");
            }

            foreach (var t in state.FixedTransitions)
            {
                _transitions.Add((from, (ModemTrigger)t.Trigger.UnderlyingTrigger), (ModemState)t.DestinationState.UnderlyingState);
            }

            foreach (var t in state.IgnoredTriggers)
            {
                _transitions.Add((from, (ModemTrigger)t.Trigger.UnderlyingTrigger), null);
            }
        }
    }

    public ModemState State => _state;

    public void Dispose()
    {
    }

    /// <summary>Fires a trigger the caller knows is legal; an illegal one is a bug (InvalidOperationException).</summary>
    public Task FireAsync(ModemTrigger trigger)
    {
        Fire(trigger, mustBeLegal: true);
        return Task.CompletedTask;
    }

    /// <summary>Fires only if legal in the current state: for link events that race with commands.</summary>
    public Task<bool> TryFireAsync(ModemTrigger trigger) => Fire(trigger, mustBeLegal: false) ? Fired : NotFired;

    /// <summary>True if the trigger is permitted or ignored in the current state (as Stateless's CanFire).</summary>
    public bool CanFire(ModemTrigger trigger) => _transitions.ContainsKey((_state, trigger));

    /// <summary>The Stateless machine the table was read from (tests compare the two).</summary>
    internal StateMachine<ModemState, ModemTrigger> Machine => _machine;

    private bool Fire(ModemTrigger trigger, bool mustBeLegal)
    {
        lock (_gate)
        {
            var from = _state;
            if (!_transitions.TryGetValue((from, trigger), out var destination))
            {
                return mustBeLegal
                    ? throw new InvalidOperationException($"No valid leaving transitions are permitted from state '{from}' for trigger '{trigger}'. Consider ignoring the trigger.")
                    : false;
            }

            if (destination is { } to)
            {
                // Under the lock, as Stateless ran its transition callbacks inside the firing: logs keep the order.
                _state = to;
                _onTransitioned?.Invoke(from, to, trigger);
            }

            return true;
        }
    }

    /// <summary>The machine as a Mermaid state diagram (docs/modem-session.mmd is this text).</summary>
    public string ToMermaid() => MermaidGraph.Format(_machine.GetInfo());
}
