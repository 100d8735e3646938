using Microsoft.Extensions.Options;

namespace ChannelManager.Host.Hosting;

/// <summary>
/// The options pipeline's factory for <see cref="ChannelManagerSettings"/> in <c>run</c>: its instance is the one
/// <see cref="SettingsLoader"/> already bound (<see cref="SettingsLoadResult.Settings"/>), not a second binding of
/// the configuration, so every fix-up of the loader (e.g. <c>BindIpOutstationSections</c>) reaches
/// <c>IOptions&lt;ChannelManagerSettings&gt;</c> without being repeated. Everything else is the framework's
/// <see cref="OptionsFactory{TOptions}"/>: registered configure/post-configure actions, then every
/// <see cref="IValidateOptions{TOptions}"/> (<see cref="ChannelManagerSettingsValidator"/>, whose failures name JSON
/// paths), so <c>ValidateOnStart</c> reports exactly what it reported when the pipeline bound its own copy.
/// </summary>
internal sealed class LoadedSettingsFactory(
    SettingsLoadResult loaded,
    IEnumerable<IConfigureOptions<ChannelManagerSettings>> setups,
    IEnumerable<IPostConfigureOptions<ChannelManagerSettings>> postConfigures,
    IEnumerable<IValidateOptions<ChannelManagerSettings>> validations)
    : OptionsFactory<ChannelManagerSettings>(setups, postConfigures, validations)
{
    /// <summary>The loader's settings for the default (unnamed) options; nothing else names this type.</summary>
    protected override ChannelManagerSettings CreateInstance(string name) =>
        name == Options.DefaultName ? loaded.Settings : base.CreateInstance(name);
}
