using Microsoft.Extensions.Options;

namespace ChannelManager.Core.Scheduling;

/// <summary>
/// Options-pattern validators for <c>.ValidateOnStart()</c> (style.md "Validated options"): DataAnnotations and the
/// cross-field rules, each failure as "JSON.path: message". The section path defaults to the option's own section.
/// </summary>
public sealed class BackoffOptionsValidator(string sectionPath = "Backoff") : IValidateOptions<BackoffOptions>
{
    public ValidateOptionsResult Validate(string? name, BackoffOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate(sectionPath);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors.Select(e => e.ToString()));
    }
}

public sealed class RepeatCallGuardOptionsValidator(string sectionPath = "RepeatCallGuard") : IValidateOptions<RepeatCallGuardOptions>
{
    public ValidateOptionsResult Validate(string? name, RepeatCallGuardOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate(sectionPath);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors.Select(e => e.ToString()));
    }
}
