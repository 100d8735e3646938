namespace ChannelManager.Host.Hosting;

/// <summary>Process exit codes of every verb (design.md §5; documented in --help and docs/operations.md).</summary>
internal static class ExitCodes
{
    /// <summary>Done; for <c>poll</c>: the outcome was Success; for <c>modems</c>: every modem answered.</summary>
    public const int Ok = 0;

    /// <summary>The operation ran but failed: a poll outcome other than Success, a modem that failed its probe.</summary>
    public const int Failed = 1;

    /// <summary>Bad configuration or bad command line (every error is printed with its JSON path).</summary>
    public const int BadConfig = 2;

    /// <summary>The state store cannot be opened, read or written (corrupt, locked, unavailable).</summary>
    public const int StoreError = 3;

    /// <summary>The service stopped on a run-time failure (a poll or the modem bank threw).</summary>
    public const int RuntimeError = 4;

    public const string HelpText =
        "Exit codes: 0 ok (poll: Success), 1 failed outcome or modem probe, 2 bad config or usage, 3 state store error, 4 run-time failure.";
}
