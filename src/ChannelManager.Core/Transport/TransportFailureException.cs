namespace ChannelManager.Core.Transport;

/// <summary>What went wrong below the byte stream; maps to <see cref="OutcomeCode.TransportFailure"/>.</summary>
public enum TransportFault
{
    /// <summary>The port or endpoint could not be opened (missing device, busy, refused).</summary>
    OpenFailed,
    /// <summary>The link failed while open (reset, unplugged, write timed out).</summary>
    LinkFailed,
    /// <summary>An operation was attempted on a transport that is not open.</summary>
    NotOpen,
}

/// <summary>
/// The one exception a transport adapter throws for an I/O fault. Callers at the modem and
/// channel layers turn it into the typed <see cref="OutcomeCode.TransportFailure"/> outcome.
/// </summary>
public sealed class TransportFailureException : Exception
{
    public TransportFailureException(TransportFault fault, string endpoint, string message, Exception? innerException = null)
        : base($"{endpoint}: {message}", innerException)
    {
        Fault = fault;
        Endpoint = endpoint;
    }

    public TransportFailureException()
    {
        Endpoint = string.Empty;
    }

    public TransportFailureException(string message)
        : base(message)
    {
        Endpoint = string.Empty;
    }

    public TransportFailureException(string message, Exception innerException)
        : base(message, innerException)
    {
        Endpoint = string.Empty;
    }

    public TransportFault Fault { get; }

    public string Endpoint { get; }
}
