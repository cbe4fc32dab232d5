namespace Beamline.Interop.Exec;

/// <summary>A call into <c>libbeamline_exec</c> failed: the status it returned, as an exception.</summary>
public sealed class BeamlineNativeException : Exception
{
    /// <summary>Creates an exception with code <see cref="BlErrc.Internal"/>.</summary>
    public BeamlineNativeException()
        : this(BlErrc.Internal, "The native executors library reported an error.")
    {
    }

    /// <summary>Creates an exception with code <see cref="BlErrc.Internal"/> and a message.</summary>
    public BeamlineNativeException(string message)
        : this(BlErrc.Internal, message)
    {
    }

    /// <summary>Creates an exception with code <see cref="BlErrc.Internal"/>, a message and its cause.</summary>
    public BeamlineNativeException(string message, Exception innerException)
        : base(message, innerException)
    {
        Code = BlErrc.Internal;
    }

    /// <summary>Creates an exception for a status code and its message.</summary>
    public BeamlineNativeException(BlErrc code, string message)
        : base(message)
    {
        Code = code;
    }

    /// <summary>The status code.</summary>
    public BlErrc Code { get; }
}
