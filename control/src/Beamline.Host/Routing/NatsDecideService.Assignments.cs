using Microsoft.Extensions.DependencyInjection;
using NATS.Client.Core;

namespace Beamline.Host.Routing;

// The results of pushed assignments: every control plane reads every result (no queue group) and
// gives back the quota slots of the assignments it pushed itself (AssignmentTracker).
internal sealed partial class NatsDecideService
{
    private async Task SubscribeAssignmentResultsAsync(INatsConnection connection)
    {
        await _subscriptions.SubscribeAsync(connection, AssignmentTracker.ResultSubject, null, ReadResultsAsync).ConfigureAwait(false);
        // With JetStream the results stream keeps every result from now on, not from the first push.
        _ = services.GetService<AssignmentPublisher>()?.EnsureStreamsAsync();
    }

    private async Task ReadResultsAsync(INatsSub<NatsMemoryOwner<byte>> subscription)
    {
        await foreach (var msg in subscription.Msgs.ReadAllAsync().ConfigureAwait(false))
        {
            using var body = msg.Data;
            assignments.CompleteFromResult(body.Memory.Span);
        }
    }
}
