using System.Text.Json.Nodes;
using ChannelManager.Core.Scheduling;
using ChannelManager.Host.Api;
using ChannelManager.Host.Hosting;
using ChannelManager.Tests.Hosting;
using CsCheck;
using Microsoft.Extensions.Configuration;

namespace ChannelManager.Tests.Fuzz;

/// <summary>
/// Issue 10 item 2, targets "JSON config loader" and "Api options": whatever a configuration file holds — malformed
/// JSON, duplicate keys, wrong types at any path, objects where scalars belong, extreme numbers, unknown keys — the
/// loader (as <c>run</c> and <c>check-config</c> use it) returns path-named <see cref="ConfigError"/>s, never an
/// exception. The documents are mutations of the repository's config/appsettings.json, so most cases get deep into
/// the binder and the validators instead of failing at the first byte.
/// </summary>
public sealed class ConfigFuzzTests
{
    private static readonly string BaseDirectory = Path.GetTempPath();

    private static readonly string Appsettings = File.ReadAllText(Path.Combine(SettingsTests.RepositoryRoot(), "config", "appsettings.json"));

    /// <summary>Keys the settings types know (and a few they do not), so added properties often land on a real setting.</summary>
    internal static readonly string[] Keys =
    [
        "Modems", "Outstations", "Name", "Endpoint", "Number", "UnitId", "Reads", "Table", "Start", "Count", "Interval", "Priority",
        "Backoff", "Strategy", "Initial", "Max", "MaxAttempts", "CallIntervals", "CycleLength", "CycleDelay", "Delay", "Attempts", "PerCategory",
        "RepeatCallGuard", "Profile", "Scheduler", "MaxConcurrency", "MaxQueueTime", "ChannelManager", "MinOnHookTime", "HangUpTimeout",
        "HealthCheckInterval", "Storage", "Path", "Log", "Directory", "Level", "RetainedFiles", "Simulation", "Lines", "Behaviour", "After",
        "Registers", "Fault", "SRegisters", "Api", "Urls", "Token", "AllowRemote", "MaxRequestBodyBytes", "StreamInterval",
        "name", "NAME", "", " ", "0", "1", "-1", "6", "x:y", "a.b", "[0]", "Unknown", "\u00e9",
    ];

    private static readonly Gen<string> JunkText = Gen.Frequency(
        (4, Gen.OneOf(
            "", " ", "0", "-1", "1e400", "NaN", "true", "null", "00:00:00", "-00:00:01", "10675199.02:48:05.4775808", "99:99:99", "1.00:00:00",
            "00:00:00.0000001", "UK", "uk", "XX", "UK+DE", "Exponential", "RedialCycle", "Linear", "Busy", "Answer", "NoAnswer", "NoDialTone",
            "InitError", "exception:2", "exception:", "exception:999", "Holding", "Input", "Coils", "sim://M1", "sim://", "sim://M9", "tcp://h:1",
            "tcp://h:0", "/dev/ttyS0", "COM3", "01632960001", "0123;ATH", "0123\r+++", "http://127.0.0.1:5080", "http://0.0.0.0:1", "http://*:80",
            "Information", "Verbose", "../state/x.db", "/", "\0", "..\\..", "12:00")),
        (2, Gen.String[Gen.Char[' ', '~'], 0, 20]),
        (1, Gen.String[Gen.Char, 0, 12]));

    private static readonly Gen<JsonNode?> Scalar = Gen.Frequency(
        (1, Gen.Const((JsonNode?)null)),
        (1, Gen.Bool.Select(b => (JsonNode?)JsonValue.Create(b))),
        (2, Gen.OneOf(0L, 1L, -1L, 255L, 256L, 65535L, 65536L, int.MaxValue, (long)int.MaxValue + 1, int.MinValue, long.MaxValue, long.MinValue).Select(n => (JsonNode?)JsonValue.Create(n))),
        (1, Gen.Int[-5, 100].Select(n => (JsonNode?)JsonValue.Create(n))),
        (1, Gen.OneOf(0.5, -0.0, 1e308, -1e308, 1e-320, 3.0).Select(d => (JsonNode?)JsonValue.Create(d))),
        (4, JunkText.Select(s => (JsonNode?)JsonValue.Create(s))));

    /// <summary>Scalars, or shallow lists and objects of them (type confusion: a list where a TimeSpan belongs, and so on).</summary>
    private static readonly Gen<JsonNode?> Value = Gen.Frequency(
        (6, Scalar),
        (1, Scalar.Array[0, 3].Select(items => (JsonNode?)new JsonArray([.. items]))),
        (1, Gen.Select(Gen.OneOf(Keys), Scalar).Array[0, 3].Select(pairs =>
        {
            var o = new JsonObject();
            foreach (var (k, v) in pairs)
                o[k] = v; // the indexer replaces a repeated key
            return (JsonNode?)o;
        })));

    /// <summary>One edit: kind, which node (modulo the node count when applied), a value and a key.</summary>
    internal static readonly Gen<(int Kind, int Pick, JsonNode? Value, string Key)> Edit = Gen.Select(Gen.Int[0, 4], Gen.Int[0, int.MaxValue], Value, Gen.OneOf(Keys));

    /// <summary>Text edits after serialising: truncation, an inserted or deleted character, a duplicated key.</summary>
    internal static readonly Gen<(int Kind, int Position, char Char)> TextEdit = Gen.Select(Gen.Int[0, 3], Gen.Int[0, int.MaxValue], Gen.OneOf('{', '}', '[', ']', ',', ':', '"', '\\', ' ', '\n', '0', 'x', '/', '*', '\u00ff'));

    [Fact]
    public void LoadJson_RepositoryAppsettings_NoErrors()
    {
        // The control for the targets below: the unmutated document is valid, so errors they see come from the edits.
        var loaded = SettingsLoader.LoadJson(Appsettings, BaseDirectory);

        Assert.Empty(loaded.AllErrors());
        Assert.Equal(4, loaded.Settings.Modems.Count);
    }

    [Fact]
    public void LoadJson_MutatedAppsettings_PathNamedConfigErrorsOnlyNeverAnException()
    {
        var gen = Gen.Select(Edit.Array[1, 6], TextEdit.Array[0, 2], Gen.Int[0, 9]);
        gen.Sample((edits, textEdits, textChance) =>
        {
            var json = Mutate(edits, textChance == 0 ? textEdits : []);
            var loaded = SettingsLoader.LoadJson(json, BaseDirectory);
            var errors = loaded.AllErrors();

            Assert.All(errors, e => Assert.False(string.IsNullOrWhiteSpace(e.Path) || string.IsNullOrWhiteSpace(e.Message), $"unnamed error {e} for:\n{json}"));
            if (loaded.FileUnreadable)
            {
                Assert.Equal("$", Assert.Single(errors).Path);
            }
            else if (errors.Count == 0)
            {
                // What check-config accepts, run accepts: the Api section binds and validates on the host's path too.
                Assert.Empty(ApiOptions.From(loaded.Configuration).Validate(ApiOptions.SectionName));
                Assert.Empty(SettingsValidator.Validate(loaded.Settings));
            }
        }, iter: FuzzSettings.Iterations);
    }

    /// <summary>A typed setting in the repository's file, its type's name, and the path an error about it must carry.</summary>
    private static readonly (string[] Location, string ErrorPath)[] TypedSettings =
    [
        (["Scheduler", "MaxConcurrency"], "Scheduler.MaxConcurrency"),
        (["Scheduler", "MaxQueueTime"], "Scheduler.MaxQueueTime"),
        (["ChannelManager", "MinOnHookTime"], "ChannelManager.MinOnHookTime"),
        (["Modems", "1", "CommandTimeout"], "Modems[1].CommandTimeout"),
        (["Outstations", "0", "UnitId"], "Outstations[0].UnitId"),
        (["Outstations", "2", "Interval"], "Outstations[2].Interval"),
        (["Outstations", "2", "Backoff", "Strategy"], "Outstations[2].Backoff.Strategy"),
        (["Outstations", "3", "Backoff", "Attempts"], "Outstations[3].Backoff.Attempts"),
        (["Outstations", "1", "Reads", "0", "Table"], "Outstations[1].Reads[0].Table"),
        (["Log", "RetainedFiles"], "Log.RetainedFiles"),
        (["Simulation", "Lines", "2", "Behaviour"], "Simulation.Lines[2].Behaviour"),
        (["Simulation", "Lines", "0", "After"], "Simulation.Lines[0].After"),
        (["Api", "AllowRemote"], "Api"),
    ];

    [Fact]
    public void LoadJson_OneTypedSettingSetToJunk_AnErrorNamesThatPath()
    {
        // Letters only, starting with 'q': never a number, time span, boolean or any of the settings' enum names.
        var junk = Gen.String[Gen.Char['a', 'z'], 0, 12].Select(s => "q" + s);
        Gen.Select(Gen.Int[0, TypedSettings.Length - 1], junk, Edit.Array[0, 2]).Sample((which, text, noise) =>
        {
            var (location, errorPath) = TypedSettings[which];
            var doc = JsonNode.Parse(Appsettings)!;
            JsonNode parent = doc;
            foreach (var step in location[..^1])
                parent = parent is JsonArray a ? a[int.Parse(step, System.Globalization.CultureInfo.InvariantCulture)]! : parent[step]!;
            parent[location[^1]] = text;
            // Other edits may add errors elsewhere — but never hide this one.
            ApplyEdits(doc, noise);

            var loaded = SettingsLoader.LoadJson(doc.ToJsonString(), BaseDirectory);
            var errors = loaded.AllErrors();

            if (loaded.FileUnreadable || !StillThere(doc, location, text))
                return; // an edit added a duplicate key (case-insensitive), or removed or replaced the junk value or a parent of it
            Assert.True(errors.Any(e => e.Path == errorPath), $"no error at {errorPath} for '{text}'; got: {string.Join(" | ", errors)}");
        }, iter: FuzzSettings.Iterations);
    }

    private static readonly Gen<string?> Urls = Gen.Frequency(
        (1, Gen.Const((string?)null)),
        (6, Gen.OneOf(
            "http://127.0.0.1:5080", "http://localhost:1", "https://[::1]:443", "http://LOCALHOST", "http://127.1:8", "http://[::ffff:127.0.0.1]:5",
            "http://0.0.0.0:80", "http://*:80", "http://+:5000", "http://10.0.0.1:5080", "http://[::]:1", "https://example.org", "ftp://127.0.0.1:1",
            "127.0.0.1:5080", "http://127.0.0.1:99999", "http://127.0.0.1:-1", "http://127.0.0.1:5080/api", "http://127.0.0.1:5080/", "http://:5080",
            "http://", "http://localhost.:1", "http://127.0.0.1:", "http://[::1", "HTTP://127.0.0.1:1", " http://127.0.0.1:1 ", "http://user@127.0.0.1:1")
            .Array[1, 3].Select(parts => (string?)string.Join(";", parts))),
        (1, JunkText.Select(s => (string?)s)));

    private static readonly Gen<string?> Token = Gen.Frequency(
        (1, Gen.Const((string?)null)),
        (1, Gen.OneOf<string?>("", "short", "0123456789abcde", "0123456789abcdef", "0123456789abcdef ", "0123456789\tabcdef", "0123456789\u0001abcdef")),
        (2, Gen.String[Gen.Char['!', '~'], 10, 40].Select(s => (string?)s)),
        (1, JunkText.Select(s => (string?)s)));

    [Fact]
    public void ApiOptions_ArbitrarySection_ConfigErrorsOnlyAndAcceptedOnesAreSafe()
    {
        var allowRemote = Gen.OneOf<string?>(null, "true", "false", "True", "FALSE", "maybe", "1", "", "yes");
        var bodyBytes = Gen.Frequency(
            (1, Gen.OneOf<string?>(null, "", "x", "1e3", "-1", "9223372036854775808", "16384.0")),
            (3, Gen.Long[-10, 2_000_000].Select(n => (string?)n.ToString(System.Globalization.CultureInfo.InvariantCulture))));
        var interval = Gen.Frequency(
            (1, Gen.OneOf<string?>(null, "", "x", "-00:00:01", "00:00:00.0999999", "00:00:00.1", "00:01:00", "00:01:00.0000001", "10675199.02:48:05.4775808")),
            (3, Gen.Int[0, 70_000].Select(ms => (string?)TimeSpan.FromMilliseconds(ms).ToString("c", System.Globalization.CultureInfo.InvariantCulture))));

        Gen.Select(Urls, Token, allowRemote, bodyBytes, interval, Gen.Bool).Sample((urls, token, remote, bytes, stream, unknown) =>
        {
            var values = new Dictionary<string, string?>
            {
                ["Api:Urls"] = urls, ["Api:Token"] = token, ["Api:AllowRemote"] = remote, ["Api:MaxRequestBodyBytes"] = bytes, ["Api:StreamInterval"] = stream,
            };
            if (unknown)
                values["Api:Unknown"] = "1";
            var root = new ConfigurationBuilder().AddInMemoryCollection(values.Where(kv => kv.Value is not null)).Build();

            // The host's path (check-config and run): never an exception, the Api errors by path.
            var apiErrors = SettingsLoader.Bind(root, BaseDirectory).AllErrors().Where(e => e.Path == "Api" || e.Path.StartsWith("Api.", StringComparison.Ordinal)).ToList();

            ApiOptions options;
            try
            {
                options = ApiOptions.From(root);
            }
            catch (InvalidOperationException)
            {
                // The binder's one failure (a value of the wrong type) is reported as a single error at "Api".
                Assert.Equal("Api", Assert.Single(apiErrors).Path);
                return;
            }

            var errors = options.Validate(ApiOptions.SectionName).ToList();
            Assert.Equal(errors, apiErrors);
            Assert.Equal(errors.Count == 0, new ApiOptionsValidator().Validate(null, options).Succeeded);
            if (errors.Count > 0)
                return;

            // Accepted ⇒ safe, checked against System.Uri rather than the validator's own parsing (issue 10 §4).
            Assert.NotEmpty(options.UrlList);
            foreach (var url in options.UrlList)
            {
                Assert.Matches("^(?i:https?)://", url);
                var loopback = Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.IsLoopback && uri.AbsolutePath == "/";
                Assert.True(loopback || (options.AllowRemote && options.HasToken), $"'{url}' accepted without AllowRemote and a token");
            }

            Assert.True(options.Token is null or "" || (options.Token.Length >= ApiOptions.MinTokenLength && !options.Token.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))), options.Token);
            Assert.InRange(options.MaxRequestBodyBytes, 256, 1024 * 1024);
            Assert.InRange(options.StreamInterval, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(1));
        }, iter: FuzzSettings.Iterations);
    }

    internal static string Mutate((int Kind, int Pick, JsonNode? Value, string Key)[] edits, (int Kind, int Position, char Char)[] textEdits)
    {
        var doc = JsonNode.Parse(Appsettings)!;
        ApplyEdits(doc, edits);
        var text = doc.ToJsonString();
        foreach (var (kind, position, c) in textEdits)
        {
            var at = position % (text.Length + 1);
            text = kind switch
            {
                0 => text[..at],
                1 => text.Insert(at, c.ToString()),
                2 when at < text.Length => text.Remove(at, 1),
                // A duplicate key in the same object (the JSON provider refuses those) or in another case.
                _ => text.Replace("\"Name\":\"M3\"", at % 2 == 0 ? "\"Name\":\"M3\",\"Name\":\"M3\"" : "\"Name\":\"M3\",\"name\":\"x\"", StringComparison.Ordinal),
            };
        }

        return text;
    }

    private static void ApplyEdits(JsonNode doc, (int Kind, int Pick, JsonNode? Value, string Key)[] edits)
    {
        foreach (var (kind, pick, value, key) in edits)
        {
            var nodes = Descendants(doc);
            var node = nodes[pick % nodes.Count];
            var parent = node.Parent;
            switch (kind)
            {
                case 0 when parent is not null:
                    node.ReplaceWith(value?.DeepClone());
                    break;
                case 1 when parent is JsonObject o:
                    o.Remove(node.GetPropertyName());
                    break;
                case 1 when parent is JsonArray a:
                    a.RemoveAt(node.GetElementIndex());
                    break;
                case 2 when node is JsonObject o:
                    o[key] = value?.DeepClone();
                    break;
                case 3 when parent is JsonArray a:
                    a.Add(node.DeepClone());
                    break;
                case 4 when parent is not null:
                    // Another node's subtree here: a list where a scalar belongs, a modem where an outstation belongs.
                    node.ReplaceWith(nodes[(pick / 7) % nodes.Count].DeepClone());
                    break;
                default:
                    break;
            }
        }
    }

    /// <summary>Every node, pre-order (a node, then its children's subtrees in order), in one list: no nested iterators per case.</summary>
    private static List<JsonNode> Descendants(JsonNode node)
    {
        var nodes = new List<JsonNode>();
        var pending = new Stack<JsonNode>();
        pending.Push(node);
        while (pending.Count > 0)
        {
            var current = pending.Pop();
            nodes.Add(current);
            switch (current)
            {
                case JsonObject o:
                    for (var i = o.Count - 1; i >= 0; i--)
                    {
                        if (o.GetAt(i).Value is { } child)
                            pending.Push(child);
                    }

                    break;
                case JsonArray a:
                    for (var i = a.Count - 1; i >= 0; i--)
                    {
                        if (a[i] is { } child)
                            pending.Push(child);
                    }

                    break;
                default:
                    break;
            }
        }

        return nodes;
    }

    private static bool StillThere(JsonNode doc, string[] location, string text)
    {
        JsonNode? node = doc;
        foreach (var step in location)
        {
            node = node switch
            {
                JsonArray a when int.TryParse(step, System.Globalization.CultureInfo.InvariantCulture, out var i) && i < a.Count => a[i],
                JsonObject o => o[step],
                _ => null,
            };
            if (node is null)
                return false;
        }

        return node is JsonValue v && v.TryGetValue<string>(out var s) && s == text;
    }
}
