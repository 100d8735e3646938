// channelmanager CLI (design.md §5). Verbs are wired in Hosting/CommandLine.cs.
return await ChannelManager.Host.Hosting.CommandLine.RunAsync(args).ConfigureAwait(false);
