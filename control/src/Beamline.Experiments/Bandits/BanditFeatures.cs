using Beamline.Routing;

namespace Beamline.Experiments.Bandits;

/// <summary>
/// LinUCB's context: a small fixed vector per request. [0] a bias (1); [1] log(1 + input tokens)
/// scaled to about [0, 1] (1 at 100,000 tokens); [2..5] the message type one-hot (chat,
/// completion, embedding, other); [6], [7] the UTC hour on a circle (sin, cos), so 23:00 is near 00:00.
/// </summary>
public static class BanditFeatures
{
    /// <summary>The vector's length.</summary>
    public const int Dimension = 8;

    private static readonly double LogTokenScale = Math.Log(1 + 100_000.0);

    /// <summary>Writes the features of <paramref name="request"/> at <paramref name="hourOfDay"/> (0..24, fractional) into <paramref name="features"/>.</summary>
    public static void Fill(Span<double> features, in RouteRequest request, double hourOfDay)
    {
        if (features.Length < Dimension)
        {
            throw new ArgumentException($"features must hold {Dimension} values", nameof(features));
        }
        features[..Dimension].Clear();
        features[0] = 1;
        features[1] = Math.Log(1 + Math.Max(0, request.InputTokens)) / LogTokenScale;
        features[request.MessageType switch
        {
            "chat" => 2,
            "completion" => 3,
            "embedding" => 4,
            _ => 5,
        }] = 1;
        var angle = hourOfDay / 24 * 2 * Math.PI;
        features[6] = Math.Sin(angle);
        features[7] = Math.Cos(angle);
    }
}
