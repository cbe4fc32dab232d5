using System.Text.Json;
using Beamline.Gateway;
using Beamline.Gateway.Translation;
using Beamline.Pipeline;
using Microsoft.AspNetCore.Http;

namespace Beamline.Host.Gateway;

/// <summary>
/// Runs a gateway call through the pipeline and answers in the client's format (OpenAI Chat
/// Completions or Responses, Anthropic Messages): whole, or as a
/// stream whose chunks are written and flushed as they arrive (translated when the provider
/// speaks the other API). An error before the first chunk is an ordinary error response; after
/// it, an error event in the client's stream. A client that goes away cancels the provider call.
/// </summary>
internal static class GatewayStreaming
{
    /// <summary>Answers a whole (not streamed) call.</summary>
    public static async Task AnswerAsync(HttpContext context, RequestPipeline pipeline, PipelineRequest request, WireFormat clientFormat, string? clientModel)
    {
        ExecuteResult result;
        try
        {
            result = await pipeline.ExecuteAsync(request, context.RequestAborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return; // the client went away: nobody to answer
        }
        if (result.Error is not null)
        {
            await GatewayHttp.WriteErrorAsync(context, GatewayErrors.FromResult(result), clientFormat).ConfigureAwait(false);
            return;
        }
        var format = result.LastAnswer?.Format ?? WireFormat.None;
        if (format == clientFormat && !IsJson(result.Output.Span))
        {
            // Passed through as it is, a broken body would be a 200 the client's SDK cannot read.
            await GatewayHttp.WriteErrorAsync(context, new GatewayError(502, "the provider's answer is not valid JSON", "bad_upstream_answer"),
                clientFormat).ConfigureAwait(false);
            return;
        }
        ReadOnlyMemory<byte> body;
        try
        {
            body = format == clientFormat || format == WireFormat.None
                ? result.Output
                : CrossFormat.TranslateAnswer(result.Output.Span, format, clientFormat, clientModel);
        }
        catch (GatewayFormatException e)
        {
            await GatewayHttp.WriteErrorAsync(context, new GatewayError(502, $"the provider's answer could not be translated: {e.Message}", "bad_upstream_answer"),
                clientFormat).ConfigureAwait(false);
            return;
        }
        if (result.Usage is { } usage)
        {
            // What the call cost at the catalog's prices, as peers report it (a stream's headers are gone before its cost is known).
            context.Response.Headers["x-beamline-cost-usd"] = Beamline.Pipeline.Costs.Nanos.ToUsd(result.CostNanos).ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (usage.Estimated)
            {
                context.Response.Headers["x-beamline-usage-estimated"] = "true";
            }
        }
        await GatewayHttp.WriteJsonAsync(context, body).ConfigureAwait(false);
    }

    /// <summary>Answers a streamed call.</summary>
    public static async Task StreamAsync(HttpContext context, RequestPipeline pipeline, PipelineRequest request, WireFormat clientFormat, string? clientModel)
    {
        var started = false;
        IStreamTranslator? translator = null;
        try
        {
            await foreach (var item in pipeline.ExecuteStreamAsync(request, context.RequestAborted).ConfigureAwait(false))
            {
                if (item.Result is { } result)
                {
                    await FinishAsync(context, result, started, translator, clientFormat, clientModel).ConfigureAwait(false);
                    return;
                }
                if (!started)
                {
                    await GatewayHttp.StartEventStreamAsync(context).ConfigureAwait(false);
                    started = true;
                }
                var events = item.Chunk;
                if (item.Format != clientFormat && item.Format != WireFormat.None)
                {
                    translator ??= CrossFormat.StreamTranslator(item.Format, clientFormat, clientModel);
                    events = translator.Push(events);
                }
                if (!events.IsEmpty)
                {
                    await GatewayHttp.WriteEventsAsync(context, events).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away: the pipeline cancelled the provider call; nobody to answer.
        }
        catch (GatewayFormatException e) when (started)
        {
            await GatewayHttp.WriteEventsAsync(context, ErrorEvent(new GatewayError(502, e.Message, "bad_upstream_answer"), clientFormat)).ConfigureAwait(false);
        }
    }

    private static async Task FinishAsync(HttpContext context, ExecuteResult result, bool started, IStreamTranslator? translator, WireFormat clientFormat,
        string? clientModel)
    {
        if (!started)
        {
            if (result.Error is not null)
            {
                await GatewayHttp.WriteErrorAsync(context, GatewayErrors.FromResult(result), clientFormat).ConfigureAwait(false);
                return;
            }
            // A provider that answered whole (a custom NATS provider, a block): its answer as a stream.
            var format = result.LastAnswer?.Format ?? WireFormat.None;
            byte[] events;
            try
            {
                events = CrossFormat.AnswerAsEvents(result.Output.Span, format, clientFormat, clientModel);
            }
            catch (GatewayFormatException e)
            {
                await GatewayHttp.WriteErrorAsync(context, new GatewayError(502, $"the provider's answer could not be streamed: {e.Message}", "bad_upstream_answer"),
                    clientFormat).ConfigureAwait(false);
                return;
            }
            await GatewayHttp.StartEventStreamAsync(context).ConfigureAwait(false);
            await GatewayHttp.WriteEventsAsync(context, events).ConfigureAwait(false);
            return;
        }
        if (translator?.Finish() is { IsEmpty: false } rest)
        {
            await GatewayHttp.WriteEventsAsync(context, rest).ConfigureAwait(false);
        }
        if (result.Error is not null)
        {
            await GatewayHttp.WriteEventsAsync(context, ErrorEvent(GatewayErrors.FromResult(result), clientFormat)).ConfigureAwait(false);
        }
    }

    private static bool IsJson(ReadOnlySpan<byte> body)
    {
        var reader = new Utf8JsonReader(body);
        try
        {
            while (reader.Read())
            {
            }
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    // OpenAI's SDKs read `data: {"error":{...}}` as an APIError; Anthropic's read `event: error`;
    // a Responses stream's error is its typed `error` event.
    private static byte[] ErrorEvent(in GatewayError error, WireFormat format)
    {
        if (format == WireFormat.OpenAIResponses)
        {
            var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
            using (var writer = new System.Text.Json.Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                writer.WriteString("type", "error");
                writer.WriteString("code", error.Code ?? GatewayErrors.OpenAIType(error.Status));
                writer.WriteString("message", error.Message);
                writer.WriteNull("param");
                writer.WriteEndObject();
            }
            return [.. "event: error\ndata: "u8, .. buffer.WrittenSpan, .. "\n\n"u8];
        }
        var json = GatewayErrors.ToBytes(error, format);
        var prefix = format == WireFormat.AnthropicMessages ? "event: error\ndata: "u8 : "data: "u8;
        return [.. prefix, .. json, .. "\n\n"u8];
    }
}
