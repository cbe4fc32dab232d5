namespace Beamline.Pipeline;

/// <summary>The request pipeline (being written).</summary>
public sealed class RequestPipeline
{
}
