// An OTLP/HTTP receiver for the telemetry benchmark (./build.sh bench telemetry): accepts
// POST /v1/traces (and /v1/metrics, /v1/logs) with protobuf bodies, reads them whole, counts
// requests and bytes, and answers 200 with an empty Export*ServiceResponse — what a collector
// does, without storing anything, so that the exporter's real work is measured and not the sink's.
//
//   node otlp-sink.mjs --port 0     prints "otlp sink ready port=N"; on SIGTERM "otlp sink requests=R bytes=B"
import http from 'node:http';

const args = process.argv.slice(2);
const port = Number(args[args.indexOf('--port') + 1] || 0);
let requests = 0;
let bytes = 0;

const server = http.createServer((req, res) => {
  req.on('data', (chunk) => { bytes += chunk.length; });
  req.on('end', () => {
    requests++;
    res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': '0' });
    res.end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => console.log(`otlp sink ready port=${server.address().port}`));
process.on('SIGTERM', () => {
  console.log(`otlp sink requests=${requests} bytes=${bytes}`);
  process.exit(0);
});
