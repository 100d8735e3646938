using System.Text;
using System.Text.Json;
using ChannelManager.Host.Hosting;
using CsCheck;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Primitives;

namespace ChannelManager.Tests.Fuzz;

/// <summary>
/// <see cref="ConfigSnapshot"/> (the loader's linear walk, issue 10) must say exactly what the configuration itself says
/// — the same sections with the same keys, paths and values in the same order, the same <c>AsEnumerable</c>, and the
/// same settings out of the binder — so that <see cref="SettingsLoader"/>'s errors, paths and bound values are what
/// they were when it asked <c>IConfiguration.GetChildren</c> at every section.
/// </summary>
public sealed class ConfigSnapshotTests
{
    /// <summary>
    /// The differential target runs <see cref="FuzzSettings.Iterations"/> / 100 cases (1,000 in CI, 10,000 in the long
    /// run): each case walks the real configuration the slow way (a <c>GetChildren</c> per section, O(keys²)) to compare
    /// against, about 10 ms a case.
    /// </summary>
    internal const int CostFactor = 100;

    private static readonly string Appsettings = File.ReadAllText(Path.Combine(Hosting.SettingsTests.RepositoryRoot(), "config", "appsettings.json"));

    [Fact]
    public void Of_RepositoryAppsettings_SameTreeAsGetChildren()
    {
        var root = Json(Appsettings);

        var snapshot = ConfigSnapshot.Of(root);

        AssertSameAsConfiguration(root, snapshot);
        Assert.Contains("Outstations", snapshot.Root.Children.Select(c => c.Key));
        Assert.Equal("M1", snapshot.Root.Children.Single(c => c.Key == "Modems").Children[0].Children.Single(c => c.Key == "Name").Value);
    }

    [Fact]
    public void Of_IndexesPastNine_NumericOrderLikeGetChildren()
    {
        // Ordinal order would put 10 before 2; the configuration's comparer orders indexes as numbers.
        var root = Json("""{ "L": [0,1,2,3,4,5,6,7,8,9,10,11], "M": { "b": 1, "A": 2, "10": 3, "9": 4 } }""");

        var snapshot = ConfigSnapshot.Of(root);

        AssertSameAsConfiguration(root, snapshot);
        Assert.Equal(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"], snapshot.Root.Children[0].Children.Select(c => c.Key));
        Assert.Equal(["9", "10", "A", "b"], snapshot.Root.Children[1].Children.Select(c => c.Key));
    }

    [Fact]
    public void Of_OverridesInAnotherCase_SpellingOrderAndValuesLikeGetChildren()
    {
        // The command line spells keys differently from the file; the later provider's value wins, the spelling
        // and order come from the framework (an ambiguous section is read from the configuration itself).
        var root = new ConfigurationBuilder()
            .AddReadableJsonStream(new MemoryStream(Encoding.UTF8.GetBytes("""{ "Scheduler": { "MaxConcurrency": 2 }, "Modems": [ { "Name": "M1" } ], "a": { "x": 1 } }""")))
            .AddReadableCommandLine(["--SCHEDULER:maxconcurrency=7", "--modems:0:NAME=M9", "--modems:1:Name=M2", "--A:y=2", "--Modems:01:Name=odd"])
            .AddInMemoryCollection([new("MODEMS:0:Port", "COM1"), new("Empty", null), new("e::f", "colons"), new("g:", "trailing")])
            .Build();

        var snapshot = ConfigSnapshot.Of(root);

        AssertSameAsConfiguration(root, snapshot);
        Assert.Equal("7", root["Scheduler:MaxConcurrency"]);
        Assert.Equal("7", snapshot.ToConfiguration()["scheduler:MAXCONCURRENCY"]);
    }

    [Fact]
    public void ToConfiguration_NullValues_BinderSeesTheKeyExistsLikeOnTheConfiguration()
    {
        // The binder tells a key holding null (JSON null: the property is reset to its type's default) from a missing
        // key (the property keeps its initial value), so the snapshot's configuration must keep that difference.
        var root = Json("""{ "Modems": [ { "Name": "M1", "CommandTimeout": null }, { "Name": "M2" } ], "Scheduler": { } }""");

        var bound = ConfigSnapshot.Of(root).ToConfiguration().Get<ChannelManagerSettings>()!;

        Assert.Equal(root.Get<ChannelManagerSettings>()!.Modems.Select(m => m.CommandTimeout), bound.Modems.Select(m => m.CommandTimeout));
        Assert.NotEqual(bound.Modems[0].CommandTimeout, bound.Modems[1].CommandTimeout);
    }

    [Fact]
    public void Of_ProviderItCannotRead_StillSameTreeAsGetChildren()
    {
        // A provider computing its own keys is read through GetChildren, one call per section.
        var root = new ConfigurationBuilder()
            .AddReadableJsonStream(new MemoryStream(Encoding.UTF8.GetBytes("""{ "Log": { "Level": "Information" }, "Modems": [ { "Name": "M1" } ] }""")))
            .Add(new UpperCaseSource())
            .Build();

        var snapshot = ConfigSnapshot.Of(root);

        AssertSameAsConfiguration(root, snapshot);
        Assert.Equal("DEBUG", snapshot.ToConfiguration()["Log:Level"]);
    }

    [Fact]
    public void Load_FileEnvironmentAndCommandLine_SameTreeAsGetChildren()
    {
        // Load's own sources (file, CHANNELMANAGER_ environment, command line) are read in one pass each.
        var dir = Directory.CreateTempSubdirectory("cm-snapshot-");
        try
        {
            var path = Path.Combine(dir.FullName, "appsettings.json");
            File.WriteAllText(path, Appsettings);

            var loaded = SettingsLoader.Load(path, ["--Scheduler:MaxConcurrency=3", "--MODEMS:1:Name=Mx"]);

            AssertSameAsConfiguration(loaded.Configuration, ConfigSnapshot.Of(loaded.Configuration));
            Assert.Equal(3, loaded.Settings.Scheduler.MaxConcurrency);
            Assert.Equal("Mx", loaded.Settings.Modems[1].Name);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void Of_MutatedAppsettingsWithOverrides_SameAsConfigurationAndSameBinding()
    {
        // Overrides: a known key in any case, a junk key, or one with an index spelt "01" / " 1".
        var overrideKey = Gen.Frequency(
            (3, Gen.OneOf("Scheduler:MaxConcurrency", "Modems:0:Name", "modems:1:NAME", "MODEMS:4:Port", "Outstations:2:Backoff:Strategy", "Log:Level", "Api:Token")),
            (2, Gen.Select(Gen.OneOf(ConfigFuzzTests.Keys), Gen.OneOf(ConfigFuzzTests.Keys)).Select((a, b) => a + ":" + b)),
            (1, Gen.OneOf("Modems:01:Name", "Modems: 1:Name", "Outstations:+0:Name", "x::y", "z:")));
        var overrides = Gen.Select(overrideKey, Gen.String[Gen.Char['a', 'z'], 0, 4]).Array[0, 4];
        var gen = Gen.Select(ConfigFuzzTests.Edit.Array[1, 6], ConfigFuzzTests.TextEdit.Array[0, 2], Gen.Int[0, 9], overrides);
        gen.Sample((edits, textEdits, textChance, pairs) =>
        {
            var json = ConfigFuzzTests.Mutate(edits, textChance == 0 ? textEdits : []);
            IConfigurationRoot root;
            try
            {
                root = new ConfigurationBuilder()
                    .AddReadableJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json)))
                    .AddReadableCommandLine([.. pairs.Where((_, i) => i % 2 == 0).Select(p => $"--{p.Item1}={p.Item2}")])
                    .AddInMemoryCollection(pairs.Where((_, i) => i % 2 == 1).DistinctBy(p => p.Item1, StringComparer.OrdinalIgnoreCase).Select(p => new KeyValuePair<string, string?>(p.Item1, p.Item2)))
                    .Build();
            }
            catch (Exception ex) when (ex is JsonException or FormatException or InvalidDataException)
            {
                return; // unreadable JSON: nothing to walk
            }

            AssertSameAsConfiguration(root, ConfigSnapshot.Of(root));
        }, iter: FuzzSettings.Iterations / CostFactor);
    }

    /// <summary>Tree, AsEnumerable, the snapshot's configuration (incl. paths asked in another case) and the binder all agree.</summary>
    private static void AssertSameAsConfiguration(IConfigurationRoot root, ConfigSnapshot snapshot)
    {
        var expected = Flatten(root);
        Assert.Equal(expected, Flatten(snapshot.Root));
        Assert.Equal(root.AsEnumerable(), snapshot.AsEnumerable());

        var copy = snapshot.ToConfiguration();
        Assert.Equal(expected, Flatten(copy));
        foreach (var (_, path, _, _) in expected.Where((_, i) => i % 16 == 0))
        {
            var asked = path.ToUpperInvariant();
            Assert.Equal(Flatten(root.GetSection(asked)), Flatten(copy.GetSection(asked)));
            Assert.Equal(root[asked], copy[asked]);
        }

        Assert.Equal(BindOrError(root), BindOrError(copy));
    }

    /// <summary>Every section under <paramref name="configuration"/>, depth first in child order, with its depth.</summary>
    private static List<(string Key, string Path, string? Value, int Depth)> Flatten(IConfiguration configuration)
    {
        var sections = new List<(string, string, string?, int)>();
        void Visit(IConfiguration parent, int depth)
        {
            foreach (var child in parent.GetChildren())
            {
                sections.Add((child.Key, child.Path, child.Value, depth));
                Visit(child, depth + 1);
            }
        }

        Visit(configuration, 0);
        return sections;
    }

    private static List<(string Key, string Path, string? Value, int Depth)> Flatten(ConfigNode top)
    {
        var sections = new List<(string, string, string?, int)>();
        void Visit(ConfigNode parent, int depth)
        {
            foreach (var child in parent.Children)
            {
                sections.Add((child.Key, child.Path, child.Value, depth));
                Visit(child, depth + 1);
            }
        }

        Visit(top, 0);
        return sections;
    }

    /// <summary>The settings the binder makes of <paramref name="configuration"/>, as JSON, or the binder's error.</summary>
    private static string BindOrError(IConfiguration configuration)
    {
        var settings = new ChannelManagerSettings();
        try
        {
            configuration.Bind(settings);
        }
        catch (InvalidOperationException ex)
        {
            return "error: " + ex.Message + " / " + ex.InnerException?.Message;
        }

        return JsonSerializer.Serialize(settings);
    }

    private static IConfigurationRoot Json(string json) =>
        new ConfigurationBuilder().AddReadableJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();

    /// <summary>Not readable in one pass: upper-cases the log level its own way.</summary>
    private sealed class UpperCaseSource : IConfigurationSource, IConfigurationProvider
    {
        public IConfigurationProvider Build(IConfigurationBuilder builder) => this;

        public bool TryGet(string key, out string? value)
        {
            value = key.Equals("Log:Level", StringComparison.OrdinalIgnoreCase) ? "DEBUG" : null;
            return value is not null;
        }

        public void Set(string key, string? value) => throw new NotSupportedException();

        public IChangeToken GetReloadToken() => new CancellationChangeToken(CancellationToken.None);

        public void Load()
        {
        }

        public IEnumerable<string> GetChildKeys(IEnumerable<string> earlierKeys, string? parentPath) =>
            parentPath is null ? [.. earlierKeys, "Log"] : parentPath.Equals("Log", StringComparison.OrdinalIgnoreCase) ? [.. earlierKeys, "Level"] : earlierKeys;
    }
}
