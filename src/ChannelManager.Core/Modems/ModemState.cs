namespace ChannelManager.Core.Modems;

/// <summary>States of one modem session (docs/modem-session.mmd is generated from <see cref="ModemSession"/>).</summary>
public enum ModemState
{
    /// <summary>Not initialised since construction.</summary>
    Idle,
    Initializing,
    /// <summary>Command state, initialised, on-hook.</summary>
    Ready,
    Dialling,
    Answering,
    /// <summary>Data state: bytes pass through <see cref="AtModem.DataChannel"/>.</summary>
    Online,
    /// <summary>Online-command state after "+++" (V.250 §6.3.5).</summary>
    Escaped,
    HangingUp,
    /// <summary>Not responding, erroring, or its transport failed; only init/reset/hang-up leave it.</summary>
    Faulted,
}

/// <summary>Triggers of the session machine.</summary>
public enum ModemTrigger
{
    Initialize,
    Initialized,
    Dial,
    Answer,
    Connected,
    CallFailed,
    Escape,
    HangUp,
    HungUp,
    CarrierLost,
    Fault,
}
