using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.CommandLine;
using Microsoft.Extensions.Configuration.EnvironmentVariables;
using Microsoft.Extensions.Configuration.Json;

namespace ChannelManager.Host.Hosting;

/// <summary>
/// The loader's sources: the framework's JSON file, JSON stream, environment-variable and command-line providers
/// unchanged (same parsing, same keys, same errors), except that each lets <see cref="ConfigSnapshot"/> read its pairs
/// in one pass (<see cref="IKeyValueProvider"/>; the framework keeps them in the protected <c>Data</c>).
/// </summary>
internal static class KeyValueProviders
{
    /// <summary>As <c>AddJsonFile(path, optional: false, reloadOnChange: false)</c>.</summary>
    public static IConfigurationBuilder AddReadableJsonFile(this IConfigurationBuilder builder, string path) =>
        builder.Add<JsonFileSource>(s =>
        {
            s.FileProvider = null;
            s.Path = path;
            s.Optional = false;
            s.ReloadOnChange = false;
            s.ResolveFileProvider();
        });

    /// <summary>As <c>AddJsonStream(stream)</c>.</summary>
    public static IConfigurationBuilder AddReadableJsonStream(this IConfigurationBuilder builder, Stream stream) =>
        builder.Add<JsonStreamSource>(s => s.Stream = stream);

    /// <summary>As <c>AddEnvironmentVariables(prefix)</c>.</summary>
    public static IConfigurationBuilder AddReadableEnvironmentVariables(this IConfigurationBuilder builder, string prefix) =>
        builder.Add(new EnvironmentSource(prefix));

    /// <summary>As <c>AddCommandLine(args)</c>.</summary>
    public static IConfigurationBuilder AddReadableCommandLine(this IConfigurationBuilder builder, string[] args) =>
        builder.Add(new CommandLineSource(args));

    private sealed class JsonFileSource : JsonConfigurationSource
    {
        public override IConfigurationProvider Build(IConfigurationBuilder builder)
        {
            EnsureDefaults(builder);
            return new JsonFileProvider(this);
        }
    }

    private sealed class JsonFileProvider(JsonConfigurationSource source) : JsonConfigurationProvider(source), IKeyValueProvider
    {
        public IEnumerable<KeyValuePair<string, string?>> KeyValues => Data;
    }

    private sealed class JsonStreamSource : JsonStreamConfigurationSource
    {
        public override IConfigurationProvider Build(IConfigurationBuilder builder) => new JsonStreamProvider(this);
    }

    private sealed class JsonStreamProvider(JsonStreamConfigurationSource source) : JsonStreamConfigurationProvider(source), IKeyValueProvider
    {
        public IEnumerable<KeyValuePair<string, string?>> KeyValues => Data;
    }

    private sealed class EnvironmentSource(string prefix) : IConfigurationSource
    {
        public IConfigurationProvider Build(IConfigurationBuilder builder) => new EnvironmentProvider(prefix);
    }

    private sealed class EnvironmentProvider(string prefix) : EnvironmentVariablesConfigurationProvider(prefix), IKeyValueProvider
    {
        public IEnumerable<KeyValuePair<string, string?>> KeyValues => Data;
    }

    private sealed class CommandLineSource(string[] args) : IConfigurationSource
    {
        public IConfigurationProvider Build(IConfigurationBuilder builder) => new CommandLineProvider(args);
    }

    private sealed class CommandLineProvider(string[] args) : CommandLineConfigurationProvider(args), IKeyValueProvider
    {
        public IEnumerable<KeyValuePair<string, string?>> KeyValues => Data;
    }
}
