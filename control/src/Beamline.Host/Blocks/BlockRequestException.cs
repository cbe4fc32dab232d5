namespace Beamline.Host.Blocks;

/// <summary>A block request that cannot be run as given; <see cref="Field"/> names the culprit.</summary>
public sealed class BlockRequestException : Exception
{
    /// <summary>Creates the exception.</summary>
    public BlockRequestException(string field, string message)
        : base(message)
    {
        Field = field;
    }

    /// <summary>The JSON member (or option) at fault.</summary>
    public string Field { get; }
}
