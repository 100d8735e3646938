// channelmanager CLI (design.md §5). Verbs are wired in Hosting/CommandLine.cs.
using ChannelManager.Host.Hosting;

// WebApplicationFactory<Program> (the API tests) cannot name a verb: it runs this entry point with its host settings as
// `--key=value` arguments only (DeferredHostBuilder: --environment=…, --applicationName=…) and captures the host that
// the entry point builds. The test factory adds one host setting, ServiceHost.TestHostConfigKey, naming a configuration file; only
// then does the entry point do what `run --config PATH` does, so the factory drives the real service host. A user
// cannot reach this by accident: with no arguments (or any verb) the command line below still prints help or runs the
// verb, and the key is not a documented option.
if (ServiceHost.TryGetTestHostConfigPath(args, out var testConfig))
    return await ServiceHost.RunAsync(testConfig, urls: null, overrides: [], Console.Error).ConfigureAwait(false);
return await CommandLine.RunAsync(args).ConfigureAwait(false);
