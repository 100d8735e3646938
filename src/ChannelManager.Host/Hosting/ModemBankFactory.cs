using System.ComponentModel.DataAnnotations;
using ChannelManager.Core.Channels;
using ChannelManager.Core.Modems;
using ChannelManager.Core.Scheduling;
using ChannelManager.Core.Transport;
using ChannelManager.Transport.Serial;
using ChannelManager.Transport.Tcp;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ChannelManager.Host.Hosting;

/// <summary>
/// Builds the Channel Manager from configuration (issue 4 item 1): one <see cref="AtModem"/> per
/// <see cref="ModemOptions"/>, on a <see cref="SerialChannelTransport"/> (Port) or a
/// <see cref="TcpChannelTransport"/> (Endpoint), serial and TCP-attached modems mixed in one bank.
/// </summary>
public static class ModemBankFactory
{
    /// <summary>
    /// Validates everything first and throws <see cref="ModemBankConfigurationException"/> listing every
    /// error by JSON path (bad config is an exception, style.md); opens no port (the AT engine opens
    /// its link on first use, so a missing port is a modem fault at run time, not a start-up crash).
    /// </summary>
    public static ModemChannelManager Create(IReadOnlyList<ModemOptions> modems, ChannelManagerOptions options, TimeProvider timeProvider, ILoggerFactory? loggerFactory = null) =>
        Create(modems, options, timeProvider, loggerFactory, simulated: null);

    /// <summary>
    /// As above, with modems whose Endpoint is <c>sim://NAME</c> attached to <paramref name="simulated"/>'s in-process
    /// simulated modems (config/appsettings.json runs the demo bank this way).
    /// </summary>
    internal static ModemChannelManager Create(IReadOnlyList<ModemOptions> modems, ChannelManagerOptions options, TimeProvider timeProvider, ILoggerFactory? loggerFactory, SimulatedBank? simulated)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(modems);
        var errors = Validate([.. modems.Select(m => m is not null && SettingsValidator.IsSimulated(m) ? SettingsValidator.AsTcpForValidation(m) : m)!], options); // null entries are reported by Validate
        foreach (var m in modems.Where(m => m is not null && SettingsValidator.IsSimulated(m)))
        {
            if (simulated is null || !simulated.HostEnds.ContainsKey(SettingsValidator.SimulatedName(m)))
            {
                errors = [.. errors, new ConfigError($"Modems[{modems.ToList().IndexOf(m)}].Endpoint", $"'{m.Endpoint}' names no simulated modem")];
            }
        }

        if (errors.Count > 0)
        {
            throw new ModemBankConfigurationException(errors);
        }

        loggerFactory ??= NullLoggerFactory.Instance;
        var devices = modems.Select(m => ((IModemDevice)new AtModem(
            SettingsValidator.IsSimulated(m) ? simulated!.HostEnds[SettingsValidator.SimulatedName(m)] : CreateTransport(m, timeProvider), // checked above
            ownsTransport: true,
            m.ToAtModemOptions(),
            timeProvider,
            loggerFactory.CreateLogger<AtModem>()), m.ToRole())).ToList();
        return new ModemChannelManager(devices, options, timeProvider, loggerFactory.CreateLogger<ModemChannelManager>());
    }

    /// <summary>Every problem with the modem list and the pool options, by JSON path ("Modems[1].Port", "ChannelManager.MaxQueueTime").</summary>
    public static IReadOnlyList<ConfigError> Validate(IReadOnlyList<ModemOptions>? modems, ChannelManagerOptions? options)
    {
        var errors = new List<ConfigError>(ModemOptions.Validate(modems));
        if (options is null)
        {
            errors.Add(new("ChannelManager", "is required"));
            return errors;
        }

        errors.AddRange(ConfigError.FromAnnotations(options, "ChannelManager"));

        if (options.QuarantineMax < options.QuarantineInitial)
        {
            errors.Add(new("ChannelManager.QuarantineMax", $"must be ≥ QuarantineInitial ({options.QuarantineInitial})"));
        }

        if (modems is not null && modems.All(m => m is not null) && modems.Count > 0 && modems.All(m => m.ReservedForDialIn))
        {
            errors.Add(new("Modems", "every modem is ReservedForDialIn: no modem is left for dial-out"));
        }

        return errors;
    }

    /// <summary>The link of one modem: a local serial port or a raw TCP session to a serial server.</summary>
    internal static IChannelTransport CreateTransport(ModemOptions modem, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(modem);
        if (!string.IsNullOrWhiteSpace(modem.Endpoint))
        {
            return new TcpChannelTransport(TcpTransportOptions.Parse(modem.Endpoint), timeProvider);
        }

        return new SerialChannelTransport(new SerialTransportOptions { PortName = modem.Port ?? string.Empty, BaudRate = modem.BaudRate }, timeProvider);
    }
}
