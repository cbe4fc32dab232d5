using System.Text;

namespace Beamline.Interop.Exec;

/// <summary>Turns a returned <c>bl_status*</c> into an exception, releasing it in every case.</summary>
internal static unsafe class Status
{
    /// <summary>Returns when <paramref name="status"/> is NULL (success); otherwise throws its code and message.</summary>
    internal static void ThrowIfFailed(BlApi* api, BlStatus* status)
    {
        if (status is null)
        {
            return;
        }

        throw ToException(api, status);
    }

    /// <summary>Reads and releases a non-NULL status.</summary>
    internal static BeamlineNativeException ToException(BlApi* api, BlStatus* status)
    {
        BlErrc code;
        string message;
        try
        {
            code = (BlErrc)api->StatusCode(status);
            ulong len = 0;
            byte* text = api->StatusMessage(status, &len);
            message = text is null || len == 0
                ? $"The native call failed with {code}."
                : Encoding.UTF8.GetString(text, checked((int)len));
        }
        finally
        {
            api->StatusRelease(status);
        }

        return new BeamlineNativeException(code, message);
    }

    /// <summary>Releases a status whose content is not needed. Accepts NULL.</summary>
    internal static void Release(BlApi* api, BlStatus* status)
    {
        if (status is not null)
        {
            api->StatusRelease(status);
        }
    }
}
