// The official Anthropic TypeScript SDK against Beamline's /v1/messages.
// Usage: node anthropic-sdk.mjs <base url> <api key> <model> <whole|stream|error>
// Prints one JSON object: what the SDK returned, or the error class it threw.
import Anthropic from '@anthropic-ai/sdk';

const [, , baseURL, apiKey, model, mode] = process.argv;
const client = new Anthropic({ baseURL, apiKey, maxRetries: 0 });
const params = { model, max_tokens: 128, messages: [{ role: 'user', content: `Hello from node ${mode}` }] };

try {
  if (mode === 'stream') {
    const deltas = [];
    const stream = client.messages.stream(params);
    stream.on('text', (text) => deltas.push(text));
    const message = await stream.finalMessage();
    console.log(JSON.stringify({ deltas, message }));
  } else {
    const message = await client.messages.create(params);
    console.log(JSON.stringify({ message }));
  }
} catch (error) {
  console.log(JSON.stringify({
    error: error.constructor.name,
    status: error.status ?? null,
    authentication: error instanceof Anthropic.AuthenticationError,
    notFound: error instanceof Anthropic.NotFoundError,
    type: error.error?.error?.type ?? null,
  }));
}
