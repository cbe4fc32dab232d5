// Load for the gateway benchmark (./build.sh bench): POST /v1/chat/completions to one URL with
// N keep-alive connections for a number of seconds after a warm-up, and print one line
//
//   <name> connections=N requests=R errors=E req_per_s=X p50_us=… p99_us=…                (whole)
//   <name> connections=N requests=R errors=E req_per_s=X ttfb_p50_us=… ttfb_p99_us=… p50_us=… p99_us=…  (stream)
//
// Whole requests go through autocannon; its own latency histogram counts whole milliseconds, so
// every response time is taken from its 'response' event (process.hrtime, sub-µs) instead.
// Streamed requests ("stream": true) go through node's http client with a keep-alive agent, one
// loop per connection: TTFB is the time from sending the request to the first body byte, the
// p50/p99 of a streamed request the time to its last byte; an answer without "[DONE]" is an error.
//
//   node load.mjs --url http://127.0.0.1:8080/v1/chat/completions --mode whole|stream
//                 --connections 16 --seconds 5 --warmup 2 --name NAME [--header 'name: value']...
import http from 'node:http';
import autocannon from 'autocannon';

function parseArgs(argv) {
  const o = { connections: 1, seconds: 5, warmup: 2, mode: 'whole', name: 'gateway', headers: {} };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, '');
    const value = argv[++i];
    if (key === 'header') {
      const at = value.indexOf(':');
      o.headers[value.slice(0, at).trim().toLowerCase()] = value.slice(at + 1).trim();
    } else if (key === 'connections' || key === 'seconds' || key === 'warmup') {
      o[key] = Number(value);
    } else {
      o[key] = value;
    }
  }
  if (!o.url) {
    throw new Error('--url is required');
  }
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const stream = opts.mode === 'stream';
const body = JSON.stringify({
  model: 'bench-model',
  messages: [{ role: 'user', content: 'Say hello.' }],
  ...(stream ? { stream: true } : {}),
});
const headers = { 'content-type': 'application/json', ...opts.headers };

function percentile(sorted, q) {
  if (sorted.length === 0) {
    return 0;
  }
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

const us = (ms) => (ms * 1000).toFixed(0);

// autocannon for `seconds`; resolves with its result and the response times (ms) it saw.
function cannon(seconds) {
  return new Promise((resolve, reject) => {
    const times = [];
    const instance = autocannon({
      url: opts.url, method: 'POST', headers, body,
      connections: opts.connections, pipelining: 1, duration: seconds,
    }, (err, result) => (err ? reject(err) : resolve({ result, times })));
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) {
        times.push(responseTime);
      }
    });
  });
}

async function runWhole() {
  if (opts.warmup > 0) {
    await cannon(opts.warmup);
  }
  const { result, times } = await cannon(opts.seconds);
  times.sort((a, b) => a - b);
  const errors = result.errors + result.timeouts + result.non2xx;
  console.log(`${opts.name} connections=${opts.connections} requests=${times.length} errors=${errors}`
    + ` req_per_s=${(times.length / opts.seconds).toFixed(0)}`
    + ` p50_us=${us(percentile(times, 0.5))} p99_us=${us(percentile(times, 0.99))}`);
}

// One streamed request: resolves with [ttfb ms, total ms] or rejects.
function streamOnce(agent, url) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    let first = 0n;
    let tail = '';
    const req = http.request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.setEncoding('latin1');
      res.on('data', (d) => {
        if (first === 0n) {
          first = process.hrtime.bigint();
        }
        tail = (tail + d).slice(-64);
      });
      res.on('end', () => {
        const end = process.hrtime.bigint();
        if (res.statusCode !== 200 || !tail.includes('[DONE]')) {
          reject(new Error(`status ${res.statusCode}, ends with ${JSON.stringify(tail)}`));
          return;
        }
        resolve([Number(first - start) / 1e6, Number(end - start) / 1e6]);
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function streamFor(seconds, record) {
  const url = new URL(opts.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.connections });
  const stop = Date.now() + seconds * 1000;
  let errors = 0;
  let lastError = null;
  const loop = async () => {
    while (Date.now() < stop) {
      try {
        const [ttfb, total] = await streamOnce(agent, url);
        record(ttfb, total);
      } catch (e) {
        errors++;
        lastError = e;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.connections }, loop));
  agent.destroy();
  return { errors, lastError };
}

async function runStream() {
  if (opts.warmup > 0) {
    await streamFor(opts.warmup, () => {});
  }
  const ttfbs = [];
  const totals = [];
  const { errors, lastError } = await streamFor(opts.seconds, (ttfb, total) => {
    ttfbs.push(ttfb);
    totals.push(total);
  });
  ttfbs.sort((a, b) => a - b);
  totals.sort((a, b) => a - b);
  if (lastError) {
    console.error(`${opts.name}: ${errors} errors, the last: ${lastError.message}`);
  }
  console.log(`${opts.name} connections=${opts.connections} requests=${ttfbs.length} errors=${errors}`
    + ` req_per_s=${(ttfbs.length / opts.seconds).toFixed(0)}`
    + ` ttfb_p50_us=${us(percentile(ttfbs, 0.5))} ttfb_p99_us=${us(percentile(ttfbs, 0.99))}`
    + ` p50_us=${us(percentile(totals, 0.5))} p99_us=${us(percentile(totals, 0.99))}`);
}

await (stream ? runStream() : runWhole());
