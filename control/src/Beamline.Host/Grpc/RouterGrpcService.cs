using Beamline.Cp2;
using DecideRequest = Beamline.Cp2.DecideRequest;
using Beamline.Tenancy;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Beamline.Host.Grpc;

/// <summary>
/// CP2 over gRPC: <c>beamline.router.v2.Router</c> on the h2c endpoint. The caller's API key comes
/// in the <c>authorization: Bearer</c> metadata, as on HTTP; its deadline (grpc-timeout) bounds the
/// pipeline's work and its cancellation stops it. Errors end the call with a google.rpc.Status
/// (<see cref="Cp2Errors"/>). Only a face: <see cref="Cp2Processor"/> and the pipeline do the work.
/// Answers of <see cref="CompressFromBytes"/> or more are gzipped for a client that accepts gzip;
/// smaller ones (every decision) go as they are: gzip would cost CPU and add bytes.
/// </summary>
internal sealed class RouterGrpcService(Cp2Processor processor, ILogger<RouterGrpcService> logger) : Beamline.Cp2.Router.RouterBase
{
    private const string Face = "cp2_grpc";

    /// <summary>The smallest answer compressed (when the client accepts gzip).</summary>
    public const int CompressFromBytes = 1024;

    private static readonly WriteOptions Uncompressed = new(WriteFlags.NoCompress);

    /// <inheritdoc />
    public override Task<DecideResponse> Decide(DecideRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var caller = Authenticate(context);
        var pending = processor.DecideAsync(request, caller, Face, Timeout(context), context.CancellationToken);
        return pending.IsCompletedSuccessfully ? Task.FromResult(Answer(pending.Result, context)) : CompleteAsync(pending, context);
    }

    private static async Task<DecideResponse> CompleteAsync(ValueTask<Cp2Outcome<DecideResponse>> pending, ServerCallContext context)
        => Answer(await pending.ConfigureAwait(false), context);

    private static DecideResponse Answer(in Cp2Outcome<DecideResponse> outcome, ServerCallContext context)
        => outcome.Error is { } error ? throw Cp2Errors.ToException(error) : Compressed(outcome.Answer!, context);

    // The write options for this answer: gzip (when accepted) only from CompressFromBytes on.
    private static T Compressed<T>(T message, ServerCallContext context) where T : Google.Protobuf.IMessage
    {
        context.WriteOptions = message.CalculateSize() >= CompressFromBytes ? WriteOptions.Default : Uncompressed;
        return message;
    }

    /// <inheritdoc />
    public override async Task Execute(DecideRequest request, IServerStreamWriter<ExecuteEvent> responseStream, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(responseStream);
        ArgumentNullException.ThrowIfNull(context);
        var caller = Authenticate(context);
        var outcome = await processor.ExecuteAsync(request, caller, Face, Timeout(context),
            (item, token) => responseStream.WriteAsync(Compressed(item, context), token), context.CancellationToken).ConfigureAwait(false);
        if (outcome.Error is { } error)
        {
            throw Cp2Errors.ToException(error, outcome.FailedResult);
        }
        await responseStream.WriteAsync(Compressed(outcome.Answer!, context), context.CancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override async Task DecideStream(IAsyncStreamReader<DecideRequest> requestStream, IServerStreamWriter<DecideStreamResponse> responseStream,
        ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(requestStream);
        ArgumentNullException.ThrowIfNull(responseStream);
        ArgumentNullException.ThrowIfNull(context);
        // Once per stream: a bad key ends the call before any request is read.
        var caller = Authenticate(context);
        using var call = new DecideStreamCall(processor, caller, Face, responseStream, context, logger);
        await call.RunAsync(requestStream).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override Task<DecideResponse> GetDecision(GetDecisionRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return Task.FromResult(Answer(processor.GetDecision(request, Authenticate(context)), context));
    }

    // The API key in the call's metadata (HTTP/2 to the control plane) as the caller, charged at the key, team and tenant levels.
    private Routing.KeyCaller Authenticate(ServerCallContext context)
        => Routing.KeyCaller.From(Cp2Requests.Authenticate(context.RequestHeaders.GetValue("authorization"), processor.Directory, out var error)
            ?? throw Cp2Errors.ToException(error!));

    /// <summary>The time left until the caller's deadline, as the pipeline's timeout (none: the pipeline's default).</summary>
    internal static TimeSpan? Timeout(ServerCallContext context)
    {
        if (context.Deadline == DateTime.MaxValue)
        {
            return null;
        }
        var left = context.Deadline - DateTime.UtcNow;
        return left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1);
    }
}
