using System.Globalization;
using ChannelManager.Core.Scheduling;
using ChannelManager.Transport.Tcp;

namespace ChannelManager.Host.Hosting;

/// <summary>
/// The rules of the <c>IpOutstations</c> section (docs/ip-outstations.md §5), each error named by its JSON path.
/// Heartbeat, Reconnect, MaxPollWait and PollRetriesAfterReconnect are the Core channel's own rules
/// (<see cref="Core.Channels.Persistent.PersistentChannelOptions.Validate"/>); reads are the dial-up outstations' rules.
/// </summary>
internal static class IpOutstationValidation
{
    public static void Validate(ChannelManagerSettings settings, List<ConfigError> errors)
    {
        if (settings.IpOutstations is not { } list)
        {
            return;
        }

        // One name space for both kinds: the API, the event log and the metrics key outstations by name alone.
        // Case-insensitive, because `poll --outstation` and the API find a name case-insensitively as a fallback.
        var dialUp = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        var outstations = settings.Outstations ?? [];
        for (var i = 0; i < outstations.Count; i++)
        {
            if (outstations[i] is { Name: { Length: > 0 } name })
            {
                dialUp.TryAdd(name, i);
            }
        }

        var firstIndexOf = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < list.Count; i++)
        {
            var at = $"IpOutstations[{I(i)}]";
            string P(string member) => $"{at}.{member}";
            if (list[i] is not { } o)
            {
                errors.Add(new(at, "must not be null"));
                continue;
            }

            if (string.IsNullOrWhiteSpace(o.Name))
            {
                errors.Add(new(P("Name"), "must not be empty"));
            }
            else if (dialUp.TryGetValue(o.Name, out var clash))
            {
                errors.Add(new(P("Name"), $"'{o.Name}' is already the name of Outstations[{I(clash)}]; names must be unique across Outstations and IpOutstations"));
            }
            else if (!firstIndexOf.TryAdd(o.Name, i))
            {
                errors.Add(new(P("Name"), $"'{o.Name}' is already used by IpOutstations[{I(firstIndexOf[o.Name])}]; names must be unique"));
            }

            ValidateEndpoint(o.Endpoint, P("Endpoint"), errors);
            if (!Enum.IsDefined(o.Protocol))
            {
                errors.Add(new(P("Protocol"), $"unknown protocol '{o.Protocol}' (ModbusTcp or ModbusRtu)"));
            }

            if (o.UnitId is < 1 or > 247)
            {
                errors.Add(new(P("UnitId"), $"{I(o.UnitId)} must be between 1 and 247 (Modbus serial line §2.2; the TCP master checks replies by unit)"));
            }

            if (o.Protocol == IpOutstationProtocol.ModbusRtu && o.BaudRate is < 300 or > 921600)
            {
                errors.Add(new(P("BaudRate"), $"{I(o.BaudRate)} must be between 300 and 921600"));
            }

            Range(o.ResponseTimeout, TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(1), P("ResponseTimeout"), errors);
            if (o.TimeoutRetries is < 0 or > 10)
            {
                errors.Add(new(P("TimeoutRetries"), $"{I(o.TimeoutRetries)} must be between 0 and 10"));
            }

            Range(o.ConnectTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(2), P("ConnectTimeout"), errors);
            SettingsValidator.ValidateReads(o.Reads, P("Reads"), errors);
            Range(o.PollInterval, TimeSpan.FromSeconds(1), TimeSpan.FromDays(7), P("PollInterval"), errors);
            if (o.HeartbeatRead is null)
            {
                errors.Add(new(P("HeartbeatRead"), "must be a read, e.g. { \"Table\": \"Holding\", \"Start\": 0, \"Count\": 1 }"));
            }
            else
            {
                SettingsValidator.ValidateRead(o.HeartbeatRead, P("HeartbeatRead"), errors);
            }

            // The Core channel's own rules (heartbeat limits, seed 002 strategies, wait and retry ranges; a missing
            // Heartbeat or Reconnect object is "is required") at this path. Name is checked above.
            errors.AddRange(o.ToChannelOptions().Validate(at).Where(e => e.Path != P("Name")));
        }
    }

    /// <summary>The endpoint must be what <see cref="TcpTransportOptions.Parse"/> accepts: tcp://host:port.</summary>
    private static void ValidateEndpoint(string? endpoint, string path, List<ConfigError> errors)
    {
        if (string.IsNullOrWhiteSpace(endpoint))
        {
            errors.Add(new(path, "must be tcp://host:port (e.g. tcp://10.20.0.17:502)"));
            return;
        }

        try
        {
            _ = TcpTransportOptions.Parse(endpoint);
        }
        catch (FormatException ex)
        {
            errors.Add(new(path, ex.Message.Replace("TCP serial-server endpoint", "TCP endpoint", StringComparison.Ordinal)));
        }
    }

    private static void Range(TimeSpan value, TimeSpan min, TimeSpan max, string path, List<ConfigError> errors)
    {
        if (value < min || value > max)
        {
            errors.Add(new(path, $"{Format(value)} must be between {Format(min)} and {Format(max)}"));
        }
    }

    private static string Format(TimeSpan t) => t.ToString("c", CultureInfo.InvariantCulture);

    private static string I(int value) => value.ToString(CultureInfo.InvariantCulture);
}
