using System.Globalization;

namespace ChannelManager.Tests.Fuzz;

/// <summary>
/// How many cases each fuzz target runs (issue 10 item 2: "CI runs ≥ 100,000 cases per target; a documented long
/// run does 10⁶"). The default is the CI count; <c>FUZZ_ITERATIONS=1000000</c> selects the long run and
/// <c>CsCheck_Seed=…</c> (printed by CsCheck on a failure) replays a failing case. docs/reliability.md "Fuzzing".
/// </summary>
internal static class FuzzSettings
{
    public const long CiIterations = 100_000;

    public const string IterationsVariable = "FUZZ_ITERATIONS";

    public static long Iterations { get; } = Read();

    private static long Read()
    {
        var text = Environment.GetEnvironmentVariable(IterationsVariable);
        if (string.IsNullOrWhiteSpace(text))
        {
            return CiIterations;
        }

        // A typo must not silently shrink the run: refuse anything but a positive integer.
        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new InvalidOperationException($"{IterationsVariable}='{text}' is not a positive integer.");
    }
}
