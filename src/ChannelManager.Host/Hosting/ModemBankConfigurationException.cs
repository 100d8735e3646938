using ChannelManager.Core.Scheduling;

namespace ChannelManager.Host.Hosting;

/// <summary>The modem bank configuration is invalid; <see cref="Errors"/> names every bad value by its JSON path.</summary>
public sealed class ModemBankConfigurationException : Exception
{
    public ModemBankConfigurationException(IReadOnlyList<ConfigError> errors)
        : base("Invalid modem bank configuration: " + string.Join("; ", errors ?? []))
    {
        Errors = errors ?? [];
    }

    public ModemBankConfigurationException()
        : this([])
    {
    }

    public ModemBankConfigurationException(string message)
        : base(message)
    {
        Errors = [];
    }

    public ModemBankConfigurationException(string message, Exception innerException)
        : base(message, innerException)
    {
        Errors = [];
    }

    public IReadOnlyList<ConfigError> Errors { get; }
}
