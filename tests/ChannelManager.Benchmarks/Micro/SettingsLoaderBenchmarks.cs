using System.Globalization;
using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using ChannelManager.Host.Hosting;

namespace ChannelManager.Benchmarks.Micro;

/// <summary>
/// One configuration load as <c>check-config</c> and the config fuzz targets do it (issue 10): parse, the loader's
/// walk over every section, the binder and the validators (<see cref="SettingsLoader.LoadJson"/> + <c>AllErrors</c>).
/// <see cref="Copies"/> = 1 is config/appsettings.json as committed; 8 has its outstations eight times (a bigger
/// site), which shows how the cost grows with the number of keys. docs/performance.md "Config loading".
/// </summary>
/// <remarks>Not sealed: BenchmarkDotNet derives its generated runner from the benchmark class.</remarks>
[MemoryDiagnoser]
public class SettingsLoaderBenchmarks
{
    private string _json = string.Empty;

    [Params(1, 8)]
    public int Copies { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var doc = JsonNode.Parse(File.ReadAllText(FindAppsettings()))!;
        var outstations = doc["Outstations"]!.AsArray();
        var originals = outstations.Select(o => o!.DeepClone()).ToList();
        for (var copy = 1; copy < Copies; copy++)
        {
            foreach (var original in originals)
            {
                var clone = original.DeepClone();
                clone["Name"] = string.Create(CultureInfo.InvariantCulture, $"{clone["Name"]}-{copy}");
                outstations.Add(clone);
            }
        }

        _json = doc.ToJsonString();
        var loaded = SettingsLoader.LoadJson(_json, Path.GetTempPath());
        if (loaded.AllErrors().Count != 0)
        {
            throw new InvalidOperationException("the benchmark document must be valid: " + string.Join("; ", loaded.AllErrors()));
        }
    }

    [Benchmark]
    public int LoadJsonAndValidate() => SettingsLoader.LoadJson(_json, Path.GetTempPath()).AllErrors().Count;

    private static string FindAppsettings()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "config", "appsettings.json");
            if (File.Exists(candidate) && File.Exists(Path.Combine(dir.FullName, "ChannelManager.sln")))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("config/appsettings.json not found above " + AppContext.BaseDirectory);
    }
}
