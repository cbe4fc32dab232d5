// A CP2 client on @grpc/grpc-js and @grpc/proto-loader: loads proto/beamline/router/v2/router.proto
// and makes the calls of a plan, one after the other; prints one JSON result per call.
// Usage: node cp2-grpc.mjs <plan.json>
//   plan: {"address": "127.0.0.1:port", "proto_root": "...", "calls": [{"method": "Decide"|"Execute"|"GetDecision"|"DecideStream",
//          "key": "...", "request": {...}, "requests": [...] (DecideStream), "deadline_ms": 0, "compress": false}]}
//   A DecideStream call writes every request of `requests`, closes its side, and collects the answers.
import { readFileSync } from "node:fs";
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import { decodeStatus, describeStatus, googleapisDir, loadRouterRoot } from "./cp2-status.mjs";

const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));
const protoFile = `${plan.proto_root}/beamline/router/v2/router.proto`;
const definition = protoLoader.loadSync(protoFile, { includeDirs: [plan.proto_root, googleapisDir()], keepCase: true, longs: String, bytes: String, defaults: true, oneofs: true });
const Router = grpc.loadPackageDefinition(definition).beamline.router.v2.Router;
const routerRoot = loadRouterRoot(plan.proto_root);

function client(compress) {
  // gzip on the request; the server may compress its answers (grpc-js accepts gzip by default).
  const options = compress ? { "grpc.default_compression_algorithm": 2 } : {};
  return new Router(plan.address, grpc.credentials.createInsecure(), options);
}

function failure(error) {
  const bin = error.metadata?.get("grpc-status-details-bin")?.[0];
  const rich = bin ? decodeStatus(bin, routerRoot) : null;
  return { ok: false, code: error.code, status: grpc.status[error.code], message: error.details, rich };
}

function callOptions(call) {
  const metadata = new grpc.Metadata();
  if (call.key) metadata.set("authorization", `Bearer ${call.key}`);
  const options = call.deadline_ms ? { deadline: new Date(Date.now() + call.deadline_ms) } : {};
  return { metadata, options };
}

// Decide or GetDecision: one request, one answer.
function unary(stub, call) {
  const { metadata, options } = callOptions(call);
  return new Promise((resolve) => stub[call.method](call.request, metadata, options, (error, response) =>
    resolve(error ? failure(error) : { ok: true, response })));
}

// An answer's error (a google.rpc.Status as proto-loader gives it, bytes in base64) read as failure() reads a call's.
function streamAnswer(answer) {
  if (answer.outcome !== "error") return answer;
  const status = { ...answer.error, details: answer.error.details.map((d) => ({ type_url: d.type_url, value: Buffer.from(d.value, "base64") })) };
  return { ...answer, rich: describeStatus(status, routerRoot) };
}

function decideStream(stub, call) {
  const { metadata, options } = callOptions(call);
  return new Promise((resolve) => {
    const answers = [];
    const stream = stub.DecideStream(metadata, options);
    stream.on("data", (answer) => answers.push(streamAnswer(answer)));
    stream.on("error", (error) => resolve({ ...failure(error), answers }));
    stream.on("end", () => resolve({ ok: true, answers }));
    for (const request of call.requests) stream.write(request);
    stream.end();
  });
}

const methods = { Execute: execute, DecideStream: decideStream, Decide: unary, GetDecision: unary };

function execute(stub, call) {
  const { metadata, options } = callOptions(call);
  return new Promise((resolve) => {
    const events = [];
    const stream = stub.Execute(call.request, metadata, options);
    stream.on("data", (event) => events.push(event));
    stream.on("error", (error) => resolve({ ...failure(error), events }));
    stream.on("end", () => resolve({ ok: true, events }));
  });
}

const results = [];
for (const call of plan.calls) {
  const stub = client(call.compress);
  results.push(await methods[call.method](stub, call));
  stub.close();
}
process.stdout.write(JSON.stringify(results));
