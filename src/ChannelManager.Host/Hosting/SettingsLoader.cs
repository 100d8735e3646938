using System.Collections;
using System.Collections.Concurrent;
using System.Globalization;
using System.Reflection;
using ChannelManager.Core.Scheduling;
using Microsoft.Extensions.Configuration;

namespace ChannelManager.Host.Hosting;

/// <summary>The configuration as read: the bound settings, the values that could not even be read, and the sources.</summary>
/// <param name="Settings">Bound from <paramref name="Readable"/>; unreadable values keep their defaults (and are in <paramref name="ReadErrors"/>).</param>
/// <param name="ReadErrors">Values of the wrong shape or type (unknown enum names, unparsable TimeSpans, typos in keys), by JSON path.</param>
/// <param name="Configuration">Everything the sources hold (other sections such as Api are read from here).</param>
/// <param name="Readable">The configuration minus the unreadable values: what <see cref="Settings"/> was bound from.</param>
/// <param name="BaseDirectory">Directory of the config file; relative Storage.Path and Log.Directory are resolved against it.</param>
internal sealed record SettingsLoadResult(ChannelManagerSettings Settings, IReadOnlyList<ConfigError> ReadErrors, IConfigurationRoot Configuration, IConfiguration Readable, string BaseDirectory)
{
    /// <summary>Every error: unreadable values first, then the rules of <see cref="SettingsValidator"/>.</summary>
    public IReadOnlyList<ConfigError> AllErrors() => FileUnreadable ? ReadErrors : [.. ReadErrors, .. SettingsValidator.Validate(Settings), .. ApiErrors()];

    /// <summary>The <c>Api</c> section's rules (loopback unless AllowRemote and a token; sizes), checked with the rest.</summary>
    private IEnumerable<ConfigError> ApiErrors()
    {
        Api.ApiOptions api;
        try
        {
            api = Api.ApiOptions.From(Configuration);
        }
        catch (InvalidOperationException ex)
        {
            // A value of the wrong type (e.g. "AllowRemote": "maybe") fails the binder; name the section, keep the binder's reason.
            return [new ConfigError(Api.ApiOptions.SectionName, ex.InnerException?.Message ?? ex.Message)];
        }

        return api.Validate(Api.ApiOptions.SectionName);
    }

    /// <summary>The file itself is missing or not JSON: nothing else is worth reporting.</summary>
    public bool FileUnreadable { get; init; }

    public string ResolvePath(string path) => System.IO.Path.GetFullPath(System.IO.Path.Combine(BaseDirectory, path));
}

/// <summary>
/// Reads the configuration (design.md §6): the JSON file given by <c>--config</c>, then environment variables
/// prefixed <c>CHANNELMANAGER_</c> (<c>CHANNELMANAGER_Storage__Path</c>), then <c>--Section:Key=value</c> arguments.
/// Unlike a plain <c>ConfigurationBinder.Bind</c>, a value of the wrong type is not an exception that stops at the
/// first one: every such value becomes a <see cref="ConfigError"/> with its JSON path and the rest still binds, so
/// <c>check-config</c> can list every problem at once.
/// </summary>
internal static class SettingsLoader
{
    public const string EnvironmentPrefix = "CHANNELMANAGER_";

    /// <summary>Loads and binds; a missing or malformed file is a single error at path "$" (nothing else can be read).</summary>
    public static SettingsLoadResult Load(string configPath, IEnumerable<string>? commandLineOverrides = null, bool includeEnvironment = true)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(configPath);
        var full = Path.GetFullPath(configPath);
        var baseDirectory = Path.GetDirectoryName(full) ?? Directory.GetCurrentDirectory();
        // The framework's providers, readable in one pass for ConfigSnapshot (KeyValueProviders).
        var builder = new ConfigurationBuilder().AddReadableJsonFile(full);
        if (includeEnvironment)
        {
            builder.AddReadableEnvironmentVariables(EnvironmentPrefix);
        }

        builder.AddReadableCommandLine([.. commandLineOverrides ?? []]);
        IConfigurationRoot root;
        try
        {
            root = builder.Build();
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or InvalidDataException or FormatException or IOException or UnauthorizedAccessException)
        {
            var message = ex is FileNotFoundException or DirectoryNotFoundException ? $"config file {full} not found" : $"cannot read {full}: {Flatten(ex)}";
            var empty = new ConfigurationBuilder().Build();
            return new SettingsLoadResult(new ChannelManagerSettings(), [new ConfigError("$", message)], empty, empty, baseDirectory) { FileUnreadable = true };
        }

        return Bind(root, baseDirectory);
    }

    /// <summary>
    /// <see cref="Load"/> on a JSON document held in memory, with no environment or command-line sources: the same
    /// JSON parser and the same binding, without a temporary file per document (the config fuzz target).
    /// </summary>
    internal static SettingsLoadResult LoadJson(string json, string baseDirectory)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentException.ThrowIfNullOrWhiteSpace(baseDirectory);
        using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json));
        IConfigurationRoot root;
        try
        {
            root = new ConfigurationBuilder().AddReadableJsonStream(stream).Build();
        }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or FormatException or InvalidDataException)
        {
            // The file provider wraps the parser's JsonException/FormatException in InvalidDataException; the stream
            // provider does not. Either way it is the one "$" error Load reports for a malformed file.
            var empty = new ConfigurationBuilder().Build();
            return new SettingsLoadResult(new ChannelManagerSettings(), [new ConfigError("$", $"cannot read the JSON document: {Flatten(ex)}")], empty, empty, baseDirectory) { FileUnreadable = true };
        }

        return Bind(root, baseDirectory);
    }

    /// <summary>Binds an already-built configuration (tests, and the host's own configuration).</summary>
    /// <remarks>
    /// Linear in the number of keys: the walk, the filter and the binder read <see cref="ConfigSnapshot"/>s, each
    /// built once, instead of calling <c>GetChildren</c> (a scan of every key) at every section.
    /// </remarks>
    public static SettingsLoadResult Bind(IConfigurationRoot root, string baseDirectory)
    {
        ArgumentNullException.ThrowIfNull(root);
        var errors = new List<ConfigError>();
        var unreadable = new HashSet<ConfigNode>();
        var snapshot = ConfigSnapshot.Of(root);
        Check(snapshot.Root, typeof(ChannelManagerSettings), string.Empty, errors, unreadable, rejectUnknown: false);

        // Everything except the unreadable sections and what is under them, in the order root.AsEnumerable() gives.
        var kept = snapshot.AsEnumerable(unreadable).Where(kv => kv.Value is not null);
        var readable = new ConfigurationBuilder().AddInMemoryCollection(kept).Build();
        var settings = new ChannelManagerSettings();
        try
        {
            // The binder over a snapshot of `readable`: the same keys, values and order as `readable` itself.
            ConfigSnapshot.Of(readable).ToConfiguration().Bind(settings);
        }
        catch (InvalidOperationException ex)
        {
            // The walk above mirrors the binder's rules; this is the safety net if they ever differ.
            errors.Add(new ConfigError("$", Flatten(ex)));
        }

        BindIpOutstationSections(readable, settings, errors);
        return new SettingsLoadResult(settings, errors, root, readable, baseDirectory);
    }

    // Reflection over the settings types, once per type rather than once per section (the walk runs per load).
    private static readonly ConcurrentDictionary<Type, PropertyInfo[]> Properties = new();
    private static readonly ConcurrentDictionary<Type, (Type Key, Type Value)?> DictionaryShapes = new();
    private static readonly ConcurrentDictionary<Type, Type?> ElementTypes = new();

    /// <summary>
    /// The two places where the <c>IpOutstations</c> section (docs/ip-outstations.md §5) must not simply merge into
    /// the defaults: a <c>Reconnect</c> section is a whole strategy (a Linear one must not inherit the default's
    /// AttemptsExceededDelay, seed 002: unset = INFINITE), and a <c>Heartbeat</c> section without <c>Default</c>
    /// starts at its own <c>Min</c> rather than at the 8-minute default it may lie outside of. Applied here only:
    /// <c>run</c>'s options pipeline takes the loader's result as its value (<see cref="LoadedSettingsFactory"/>).
    /// </summary>
    private static void BindIpOutstationSections(IConfiguration readable, ChannelManagerSettings settings, List<ConfigError> errors)
    {
        var items = readable.GetSection(nameof(ChannelManagerSettings.IpOutstations)).GetChildren().ToList();
        if (items.Count != settings.IpOutstations.Count)
        {
            return; // the binder skipped an entry it could not read; the walk has reported it by path
        }

        for (var i = 0; i < items.Count; i++)
        {
            if (settings.IpOutstations[i] is not { } ip)
            {
                continue;
            }

            try
            {
                var reconnect = items[i].GetSection(nameof(IpOutstationSettings.Reconnect));
                if (reconnect.GetChildren().Any())
                {
                    ip.Reconnect = reconnect.Get<BackoffOptions>() ?? new BackoffOptions();
                }

                var heartbeat = items[i].GetSection(nameof(IpOutstationSettings.Heartbeat));
                if (ip.Heartbeat is { } h && heartbeat.GetChildren().Any() && heartbeat[nameof(HeartbeatOptions.Default)] is null && heartbeat[nameof(HeartbeatOptions.Min)] is not null)
                {
                    h.Default = h.Min;
                }
            }
            catch (InvalidOperationException ex)
            {
                // As in Bind: the walk mirrors the binder's rules, so this is only a safety net.
                errors.Add(new ConfigError($"IpOutstations[{items[i].Key}]", Flatten(ex)));
            }
        }
    }

    /// <summary>
    /// Walks the configuration alongside the settings types: every key must name a property (except at the top
    /// level), every scalar must convert to its property's type, lists need index keys, objects need children.
    /// </summary>
    private static void Check(ConfigNode section, Type type, string path, List<ConfigError> errors, HashSet<ConfigNode> unreadable, bool rejectUnknown)
    {
        var properties = Properties.GetOrAdd(type, t => [.. t.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.GetMethod is not null)]);
        foreach (var child in section.Children)
        {
            var property = properties.FirstOrDefault(p => p.Name.Equals(child.Key, StringComparison.OrdinalIgnoreCase));
            if (property is null)
            {
                if (rejectUnknown)
                {
                    errors.Add(new ConfigError(JoinPath(path, child.Key), $"unknown setting (known here: {string.Join(", ", properties.Select(p => p.Name))})"));
                }

                continue;
            }

            CheckValue(child, property.PropertyType, JoinPath(path, property.Name), errors, unreadable);
        }
    }

    private static void CheckValue(ConfigNode section, Type type, string path, List<ConfigError> errors, HashSet<ConfigNode> unreadable)
    {
        var underlying = Nullable.GetUnderlyingType(type);
        var target = underlying ?? type;
        var hasChildren = section.Children.Count > 0;
        if (IsScalar(target))
        {
            if (hasChildren)
            {
                errors.Add(new ConfigError(path, $"must be a single {Describe(target)} value, not an object or a list"));
                unreadable.Add(section);
                return;
            }

            if (string.IsNullOrEmpty(section.Value))
            {
                if (target != typeof(string) && underlying is null)
                {
                    errors.Add(new ConfigError(path, $"must have a value ({Describe(target)})"));
                }

                if (target != typeof(string))
                {
                    unreadable.Add(section);
                }

                return;
            }

            if (ScalarProblem(section.Value, target) is { } problem)
            {
                errors.Add(new ConfigError(path, problem));
                unreadable.Add(section);
            }

            return;
        }

        if (!hasChildren)
        {
            if (!string.IsNullOrEmpty(section.Value))
            {
                errors.Add(new ConfigError(path, $"'{section.Value}' must be {(ElementType(target) is not null ? "a list" : "an object")}"));
                unreadable.Add(section);
            }

            return;
        }

        if (DictionaryShapes.GetOrAdd(target, DictionaryTypes) is var (keyType, valueType))
        {
            foreach (var entry in section.Children)
            {
                var entryPath = JoinPath(path, entry.Key);
                if (ScalarProblem(entry.Key, Nullable.GetUnderlyingType(keyType) ?? keyType) is { } keyProblem)
                {
                    errors.Add(new ConfigError(entryPath, $"key {keyProblem}"));
                    unreadable.Add(entry);
                    continue;
                }

                CheckValue(entry, valueType, entryPath, errors, unreadable);
            }

            return;
        }

        if (ElementTypes.GetOrAdd(target, ElementType) is { } elementType)
        {
            foreach (var item in section.Children)
            {
                if (!int.TryParse(item.Key, NumberStyles.None, CultureInfo.InvariantCulture, out var index))
                {
                    errors.Add(new ConfigError(JoinPath(path, item.Key), "must be a list (JSON array), not an object"));
                    unreadable.Add(section);
                    return;
                }

                CheckValue(item, elementType, string.Create(CultureInfo.InvariantCulture, $"{path}[{index}]"), errors, unreadable);
            }

            return;
        }

        Check(section, target, path, errors, unreadable, rejectUnknown: true);
    }

    private static string? ScalarProblem(string value, Type type)
    {
        var invariant = CultureInfo.InvariantCulture;
        if (type.IsEnum)
        {
            var names = Enum.GetNames(type);
            return names.Any(n => n.Equals(value.Trim(), StringComparison.OrdinalIgnoreCase))
                ? null
                : $"'{value}' is not one of {string.Join(", ", names)}";
        }

        var ok = type switch
        {
            _ when type == typeof(string) => true,
            _ when type == typeof(TimeSpan) => TimeSpan.TryParse(value, invariant, out _),
            _ when type == typeof(TimeOnly) => TimeOnly.TryParse(value, invariant, DateTimeStyles.None, out _),
            _ when type == typeof(bool) => bool.TryParse(value, out _),
            _ when type == typeof(int) => int.TryParse(value, NumberStyles.Integer, invariant, out _),
            _ when type == typeof(long) => long.TryParse(value, NumberStyles.Integer, invariant, out _),
            _ when type == typeof(byte) => byte.TryParse(value, NumberStyles.Integer, invariant, out _),
            _ when type == typeof(ushort) => ushort.TryParse(value, NumberStyles.Integer, invariant, out _),
            _ when type == typeof(double) => double.TryParse(value, NumberStyles.Float, invariant, out _),
            _ => true,
        };
        return ok ? null : $"'{value}' is not {Describe(type)}";
    }

    private static string Describe(Type type) => type switch
    {
        _ when type == typeof(TimeSpan) => "a time span (d.hh:mm:ss, e.g. 00:02:00)",
        _ when type == typeof(TimeOnly) => "a time of day (hh:mm)",
        _ when type == typeof(bool) => "true or false",
        _ when type == typeof(int) || type == typeof(long) => "a whole number",
        _ when type == typeof(byte) => "a whole number 0–255",
        _ when type == typeof(ushort) => "a whole number 0–65535",
        _ when type == typeof(double) => "a number",
        _ when type.IsEnum => $"one of {string.Join(", ", Enum.GetNames(type))}",
        _ => type.Name,
    };

    private static bool IsScalar(Type type) =>
        type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(TimeSpan) || type == typeof(TimeOnly) || type == typeof(decimal);

    private static Type? ElementType(Type type)
    {
        if (type.IsArray)
        {
            return type.GetElementType();
        }

        if (type.IsGenericType && typeof(IEnumerable).IsAssignableFrom(type) && type.GetGenericArguments() is [var element])
        {
            return element;
        }

        return null;
    }

    private static (Type Key, Type Value)? DictionaryTypes(Type type)
    {
        var dictionary = type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IDictionary<,>)
            ? type
            : type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IDictionary<,>));
        return dictionary?.GetGenericArguments() is [var key, var value] ? (key, value) : null;
    }

    private static string JoinPath(string prefix, string member) => string.IsNullOrEmpty(prefix) ? member : $"{prefix}.{member}";

    private static string Flatten(Exception ex)
    {
        var messages = new List<string>();
        for (var e = ex; e is not null; e = e.InnerException)
        {
            messages.Add(e.Message);
        }

        return string.Join(" ", messages);
    }
}
