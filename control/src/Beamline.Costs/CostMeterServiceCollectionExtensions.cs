using Beamline.Costs;
using Beamline.Pipeline.Costs;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers cost tracking's meter.</summary>
public static class CostMeterServiceCollectionExtensions
{
    /// <summary>Adds <see cref="CostMeter"/> as the singleton <see cref="ICostMeter"/> (unless one is registered).</summary>
    public static IServiceCollection AddBeamlineCostMeter(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton<ICostMeter>(static provider => new CostMeter(provider.GetService<TimeProvider>() ?? TimeProvider.System));
        return services;
    }
}
