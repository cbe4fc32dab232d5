// A mock OpenAI Chat Completions upstream for the gateway benchmark (./build.sh bench): answers
// POST .../chat/completions at once, whole (one JSON object) or, when the body asks for
// "stream": true, as an SSE stream of a few chunks. No delay, no parsing beyond finding "stream".
//
//   node mock-upstream.mjs --port 0     prints "mock upstream ready port=N" once it listens
import http from 'node:http';

const args = process.argv.slice(2);
const port = Number(args[args.indexOf('--port') + 1] || 0);

const created = Math.floor(Date.now() / 1000);
const whole = Buffer.from(JSON.stringify({
  id: 'chatcmpl-bench', object: 'chat.completion', created, model: 'bench-model',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello from the mock upstream.' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 8, completion_tokens: 6, total_tokens: 14 },
}));
const chunk = (delta, finish) => `data: ${JSON.stringify({
  id: 'chatcmpl-bench', object: 'chat.completion.chunk', created, model: 'bench-model',
  choices: [{ index: 0, delta, finish_reason: finish }],
})}\n\n`;
// Role, three words, the finish chunk, [DONE]: each event its own write (its own HTTP chunk).
const events = [
  chunk({ role: 'assistant', content: '' }, null),
  chunk({ content: 'Hello' }, null),
  chunk({ content: ' from the' }, null),
  chunk({ content: ' mock upstream.' }, null),
  chunk({}, 'stop'),
  'data: [DONE]\n\n',
].map((e) => Buffer.from(e));

const server = http.createServer((req, res) => {
  const parts = [];
  req.on('data', (d) => parts.push(d));
  req.on('end', () => {
    if (req.method !== 'POST' || !req.url.endsWith('/chat/completions')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"not found","type":"invalid_request_error"}}');
      return;
    }
    // Clients differ in spacing ("stream": true / "stream":true).
    const stream = /"stream"\s*:\s*true/.test(Buffer.concat(parts).toString('latin1'));
    if (!stream) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': whole.length });
      res.end(whole);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    for (let i = 0; i < events.length - 1; i++) {
      res.write(events[i]);
    }
    res.end(events[events.length - 1]);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => {
  console.log(`mock upstream ready port=${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
