namespace Beamline.Pipeline;

/// <summary>The pipeline's settings (<c>Beamline:Pipeline</c>).</summary>
public sealed class PipelineOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Beamline:Pipeline";

    /// <summary>
    /// The whole request's time limit when the face gives none: extensions and every provider
    /// attempt fit inside it. Default 60 s.
    /// </summary>
    public TimeSpan DefaultTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>The longest time limit a face may ask for. Default 300 s.</summary>
    public TimeSpan MaxTimeout { get; set; } = TimeSpan.FromSeconds(300);
}
