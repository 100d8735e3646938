using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.Primitives;

namespace ChannelManager.Host.Hosting;

/// <summary>One section of a <see cref="ConfigSnapshot"/>: what <c>IConfigurationSection</c> would say about it, read once.</summary>
internal sealed class ConfigNode(string key, string path)
{
    /// <summary>The last path segment, spelt as <c>GetChildren</c> spells it.</summary>
    public string Key { get; } = key;

    /// <summary>The full path (<c>Modems:0:Name</c>); the root's is empty.</summary>
    public string Path { get; } = path;

    public string? Value { get; internal set; }

    /// <summary>In <c>GetChildren</c> order (<see cref="ConfigurationKeyComparer"/>: indexes numerically first, then names).</summary>
    public IReadOnlyList<ConfigNode> Children { get; internal set; } = [];
}

/// <summary>
/// The keys of an <see cref="IConfigurationRoot"/> as a tree, read once, so that walking the whole configuration is
/// linear. <c>IConfiguration.GetChildren</c> re-scans every key of every provider and sorts the result on each call, so
/// a walk that asks each section for its children costs O(keys²): about 15 ms for config/appsettings.json, which is
/// what kept the loader's fuzz targets at 1/20 of the CI case count (docs/reliability.md "Fuzzing",
/// docs/performance.md "Config loading").
/// <para>
/// The tree is exactly what <c>GetChildren</c>, <c>Key</c>, <c>Path</c> and <c>Value</c> report (pinned by
/// <c>ConfigSnapshotTests</c>): children grouped without regard to case and in <see cref="ConfigurationKeyComparer"/>
/// order, values from the last provider that has the key. Where that is not unique — two spellings of one key
/// (<c>Modem</c> from the file, <c>MODEM</c> from an override) or two keys the comparer ranks equal (<c>1</c> and
/// <c>01</c>) — the spelling and order depend on how the framework sorts, so that one section asks the real
/// configuration. Providers whose data cannot be read directly (not <see cref="IKeyValueProvider"/> nor
/// <see cref="MemoryConfigurationProvider"/>) are read the slow way, one <c>GetChildren</c> per section.
/// </para>
/// </summary>
internal sealed class ConfigSnapshot
{
    private readonly Dictionary<string, ConfigNode> _byPath;

    /// <summary>The keys that exist (some with a null value, e.g. an empty JSON object or array) and their values.</summary>
    private readonly Dictionary<string, string?> _values;

    private ConfigSnapshot(ConfigNode root, Dictionary<string, ConfigNode> byPath, Dictionary<string, string?> values)
    {
        Root = root;
        _byPath = byPath;
        _values = values;
    }

    /// <summary>The top level: no key, no value, the configuration's first-level sections as children.</summary>
    public ConfigNode Root { get; }

    /// <summary>Every section of <paramref name="root"/>, read once.</summary>
    public static ConfigSnapshot Of(IConfigurationRoot root)
    {
        ArgumentNullException.ThrowIfNull(root);
        var sources = new List<IEnumerable<KeyValuePair<string, string?>>>();
        foreach (var provider in root.Providers)
        {
            switch (provider)
            {
                case IKeyValueProvider readable:
                    sources.Add(readable.KeyValues);
                    break;
                case MemoryConfigurationProvider memory when memory.GetType() == typeof(MemoryConfigurationProvider):
                    sources.Add(memory);
                    break;
                default:
                    // A provider that may compute keys or values its own way: ask the configuration itself.
                    return Walked(root);
            }
        }

        return Build(sources, root);
    }

    /// <summary>
    /// The (path, value) pairs of every section in the order of <c>ConfigurationExtensions.AsEnumerable</c> (depth
    /// first, last child first), leaving out the sections <paramref name="skip"/> names and everything under them.
    /// </summary>
    public IEnumerable<KeyValuePair<string, string?>> AsEnumerable(IReadOnlySet<ConfigNode>? skip = null)
    {
        var stack = new Stack<ConfigNode>();
        stack.Push(Root);
        while (stack.Count > 0)
        {
            var node = stack.Pop();
            if (skip?.Contains(node) == true)
            {
                continue;
            }

            if (!ReferenceEquals(node, Root))
            {
                yield return new KeyValuePair<string, string?>(node.Path, node.Value);
            }

            foreach (var child in node.Children)
            {
                stack.Push(child);
            }
        }
    }

    /// <summary>
    /// A read-only configuration holding what the snapshot holds, whose <c>GetChildren</c> costs the number of children
    /// rather than the number of keys (for the binder): the same keys, paths, values and child order.
    /// </summary>
    public IConfigurationRoot ToConfiguration() => new ConfigurationRoot([new Provider(this)]);

    private ConfigNode? Find(string path) => _byPath.GetValueOrDefault(path);

    /// <summary>
    /// The tree from the providers' pairs (earliest provider first). A key <c>a:b:c</c> makes sections <c>a</c>,
    /// <c>a:b</c>, <c>a:b:c</c>, as <c>ConfigurationProvider.GetChildKeys</c> does; grouping is case-insensitive, like
    /// the providers' dictionaries and <c>GetChildren</c>'s Distinct.
    /// </summary>
    private static ConfigSnapshot Build(List<IEnumerable<KeyValuePair<string, string?>>> sources, IConfigurationRoot fallback)
    {
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        var top = new Draft();
        foreach (var source in sources)
        {
            foreach (var (key, value) in source)
            {
                values[key] = value;
                var draft = top;
                var start = 0;
                while (true)
                {
                    var colon = key.IndexOf(ConfigurationPath.KeyDelimiter, start, StringComparison.Ordinal);
                    var segment = colon < 0 ? key[start..] : key[start..colon];
                    draft = draft.Child(segment);
                    if (colon < 0)
                    {
                        break;
                    }

                    start = colon + 1;
                }
            }
        }

        var byPath = new Dictionary<string, ConfigNode>(StringComparer.OrdinalIgnoreCase);
        var root = new ConfigNode(string.Empty, string.Empty);
        Resolve(top, root, isRoot: true, values, byPath, fallback);
        return new ConfigSnapshot(root, byPath, values);
    }

    /// <summary>Gives <paramref name="node"/> its children (spelt, ordered, valued), then theirs.</summary>
    private static void Resolve(Draft draft, ConfigNode node, bool isRoot, Dictionary<string, string?> values, Dictionary<string, ConfigNode> byPath, IConfigurationRoot fallback)
    {
        if (draft.Children is null)
        {
            return;
        }

        var groups = draft.Children.Values.ToList();
        groups.Sort((x, y) => ConfigurationKeyComparer.Instance.Compare(x.Spelling, y.Spelling));
        var ambiguous = groups.Any(g => g.Ambiguous);
        for (var i = 1; i < groups.Count && !ambiguous; i++)
        {
            ambiguous = ConfigurationKeyComparer.Instance.Compare(groups[i - 1].Spelling, groups[i].Spelling) == 0;
        }

        IEnumerable<string> keys = groups.Select(g => g.Spelling);
        if (ambiguous)
        {
            // Spelling and order here depend on the framework's sort of equal keys: take them from the configuration.
            keys = [.. (isRoot ? fallback.GetChildren() : fallback.GetSection(node.Path).GetChildren()).Select(s => s.Key)];
        }

        var children = new List<ConfigNode>(groups.Count);
        foreach (var key in keys)
        {
            var path = isRoot ? key : ConfigurationPath.Combine(node.Path, key);
            var child = new ConfigNode(key, path) { Value = values.GetValueOrDefault(path) };
            byPath[path] = child;
            children.Add(child);
            Resolve(draft.Children[key], child, isRoot: false, values, byPath, fallback);
        }

        node.Children = children;
    }

    /// <summary>The slow, always-exact way: one <c>GetChildren</c> per section.</summary>
    private static ConfigSnapshot Walked(IConfigurationRoot root)
    {
        var byPath = new Dictionary<string, ConfigNode>(StringComparer.OrdinalIgnoreCase);
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        var top = new ConfigNode(string.Empty, string.Empty);
        var pending = new Stack<(ConfigNode Node, IConfiguration Section)>();
        pending.Push((top, root));
        while (pending.Count > 0)
        {
            var (node, section) = pending.Pop();
            var children = new List<ConfigNode>();
            foreach (var child in section.GetChildren())
            {
                var childNode = new ConfigNode(child.Key, child.Path) { Value = child.Value };
                byPath[child.Path] = childNode;
                if (root.Providers.Any(p => p.TryGet(child.Path, out _)))
                {
                    values[child.Path] = child.Value;
                }

                children.Add(childNode);
                pending.Push((childNode, child));
            }

            node.Children = children;
        }

        return new ConfigSnapshot(top, byPath, values);
    }

    /// <summary>A section while the tree is read: its spellings so far and its children by case-insensitive key.</summary>
    private sealed class Draft
    {
        public string Spelling { get; private set; } = string.Empty;

        /// <summary>Seen with two spellings that differ only in case.</summary>
        public bool Ambiguous { get; private set; }

        public Dictionary<string, Draft>? Children { get; private set; }

        public Draft Child(string segment)
        {
            Children ??= new Dictionary<string, Draft>(StringComparer.OrdinalIgnoreCase);
            if (!Children.TryGetValue(segment, out var child))
            {
                child = new Draft { Spelling = segment };
                Children.Add(segment, child);
            }
            else if (!child.Ambiguous && !string.Equals(child.Spelling, segment, StringComparison.Ordinal))
            {
                child.Ambiguous = true;
            }

            return child;
        }
    }

    /// <summary>
    /// The snapshot as the provider of a configuration: <c>GetChildKeys</c> answers from the tree (the children of one
    /// section, not a scan of every key), <c>TryGet</c> from the keys and values read. Everything else —
    /// sections, paths in the case asked for, which keys exist with a null value — is the framework's own.
    /// </summary>
    private sealed class Provider(ConfigSnapshot snapshot) : IConfigurationProvider
    {
        public bool TryGet(string key, out string? value) => snapshot._values.TryGetValue(key, out value);

        public IEnumerable<string> GetChildKeys(IEnumerable<string> earlierKeys, string? parentPath)
        {
            var node = parentPath is null ? snapshot.Root : snapshot.Find(parentPath);
            var keys = node?.Children.Select(c => c.Key) ?? [];
            var earlier = earlierKeys.ToList();
            if (earlier.Count == 0)
            {
                return keys;
            }

            // After other providers (not how the loader uses it): merged and ordered as ConfigurationProvider does.
            var all = keys.Concat(earlier).ToList();
            all.Sort(ConfigurationKeyComparer.Instance);
            return all;
        }

        public void Set(string key, string? value) => throw new NotSupportedException("The configuration snapshot is read-only.");

        public IChangeToken GetReloadToken() => NeverChanges.Token;

        public void Load()
        {
        }
    }

    private static class NeverChanges
    {
        public static readonly IChangeToken Token = new CancellationChangeToken(CancellationToken.None);
    }
}

/// <summary>A configuration provider whose (key, value) pairs can be read in one pass, as <see cref="ConfigSnapshot"/> does.</summary>
internal interface IKeyValueProvider
{
    IEnumerable<KeyValuePair<string, string?>> KeyValues { get; }
}
