using ChannelManager.Core.Modems;

namespace ChannelManager.Tests.Modems;

/// <summary>Golden test: docs/modem-session.mmd is generated from the Stateless configuration (style.md §2.3).</summary>
public sealed class ModemSessionGraphTests
{
    [Fact]
    public void ModemSession_Graph_MatchesDocs()
    {
        using var session = new ModemSession();
        var generated = session.ToMermaid().ReplaceLineEndings("\n").TrimEnd() + "\n";
        var path = ModemTestKit.RepoFile(Path.Combine("docs", "modem-session.mmd"));

        if (Environment.GetEnvironmentVariable("UPDATE_GOLDEN") == "1")
        {
            File.WriteAllText(path, generated);
        }

        Assert.True(File.Exists(path), $"{path} missing: run with UPDATE_GOLDEN=1 to create it");
        Assert.Equal(File.ReadAllText(path).ReplaceLineEndings("\n"), generated);
    }

    [Fact]
    public void ModemSession_Graph_HasEveryStateOfTheLifecycle()
    {
        using var session = new ModemSession();
        var graph = session.ToMermaid();

        foreach (var state in Enum.GetNames<ModemState>())
        {
            Assert.Contains(state, graph, StringComparison.Ordinal);
        }
    }
}
