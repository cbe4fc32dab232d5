// An OpenAI client that no one here wrote: the official `openai` npm package, pointed at Beamline.
// Runs the calls in argv[3] (a JSON array of {key, model, kind: "chat"|"stream"|"models", content, messages?,
// releaseUrl?: POSTed to once a stream's first text arrived})
// one after another and prints one JSON array with, per call, what the SDK gave: the text (and
// usage) of an answer, or the error's class name, status, type, code and Retry-After.
// Usage: node openai.mjs <base-url> <calls-json>
import OpenAI from "openai";

const [, , baseURL, callsJson] = process.argv;
const calls = JSON.parse(callsJson);
const results = [];
for (const call of calls) {
  const client = new OpenAI({ apiKey: call.key, baseURL, maxRetries: 0, timeout: 30000 });
  const messages = call.messages ?? [{ role: "user", content: call.content ?? "hi" }];
  let text = "";
  try {
    if (call.kind === "models") {
      const ids = [];
      for await (const model of client.models.list()) {
        ids.push(model.id);
      }
      results.push({ ok: true, ids });
    } else if (call.kind === "stream") {
      const stream = await client.chat.completions.create({
        model: call.model, messages, stream: true, stream_options: { include_usage: true },
      });
      let chunks = 0;
      let usage = null;
      for await (const chunk of stream) {
        chunks++;
        text += chunk.choices?.[0]?.delta?.content ?? "";
        usage = chunk.usage ?? usage;
        if (call.releaseUrl && text.length > 0 && !call.released) {
          // Tell the test's upstream that this client has the first text (it may go on now).
          call.released = true;
          await fetch(call.releaseUrl, { method: "POST" });
        }
      }
      results.push({ ok: true, text, chunks, usage });
    } else {
      const completion = await client.chat.completions.create({ model: call.model, messages });
      results.push({ ok: true, text: completion.choices[0].message.content, usage: completion.usage });
    }
  } catch (e) {
    const headers = e.headers;
    const retryAfter = headers == null ? null : typeof headers.get === "function" ? headers.get("retry-after") : headers["retry-after"] ?? null;
    results.push({
      ok: false,
      text,
      class: e.constructor.name,
      isApiError: e instanceof OpenAI.APIError,
      status: e.status ?? null,
      type: e.type ?? null,
      code: e.code ?? null,
      message: e.message,
      retryAfter,
    });
  }
}
process.stdout.write(JSON.stringify(results));
