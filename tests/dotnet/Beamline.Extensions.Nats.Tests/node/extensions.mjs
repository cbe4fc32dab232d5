// CP1 extensions as NATS services, on the official `nats` npm package: each argument after the URL
// is <subject>=<behaviour>; a subject under beamline.ext.validate.* answers as a validator.
// Prints "ready" once every subscription is on the server.
//
// Behaviours:
//   echo-rewrite      pre/post: an object payload gets "rewritten_by":"node", a string payload is
//                     upper-cased; metadata {"seen_by":"node","chunk":<metadata.stream_chunk>}.
//                     validator: {"status":"ok"}
//   upstream-rewrite  post in the upstream form {message:{payload}, context}
//   inspect           pre/post: the payload becomes the request as received
//   reject            validator: {"status":"reject","reason":"node says no","details":{...}}
//   slow              answers (as echo-rewrite) only after 3 s
//   malformed-text    answers "this is not json"
//   malformed-array   answers a JSON array
//   flapping          odd calls answer non-JSON, even calls as echo-rewrite
//   headers           pre/post: the payload becomes {"traceparent": <the message's traceparent header or null>}
// A subject with no behaviour ("dead") is simply not given: nobody serves it.
// Usage: node extensions.mjs <nats-url> <subject>=<behaviour>...
import { connect, StringCodec } from "nats";

const [, , url, ...specs] = process.argv;
const nc = await connect({ servers: url, name: "beamline-test-extensions" });
const sc = StringCodec();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function echo(validator, request) {
  if (validator) {
    return { status: "ok" };
  }
  const payload = request.payload;
  const rewritten = typeof payload === "string"
    ? payload.toUpperCase()
    : payload !== null && typeof payload === "object" && !Array.isArray(payload)
      ? { ...payload, rewritten_by: "node" }
      : payload;
  const metadata = { seen_by: "node" };
  if (request.metadata && request.metadata.stream_chunk !== undefined) {
    metadata.chunk = request.metadata.stream_chunk;
  }
  return { payload: rewritten, metadata };
}

async function answer(behaviour, validator, request, call, msg) {
  switch (behaviour) {
    case "echo-rewrite":
      return JSON.stringify(echo(validator, request));
    case "upstream-rewrite": {
      const { payload, metadata } = echo(false, request);
      return JSON.stringify({ message: { message_id: "m-1", payload }, context: metadata });
    }
    case "inspect":
      return JSON.stringify({ payload: request });
    case "reject":
      return JSON.stringify({ status: "reject", reason: "node says no", details: { tenant: request.tenant_id, rule: "no-node" } });
    case "slow":
      await sleep(3000);
      return JSON.stringify(echo(validator, request));
    case "malformed-text":
      return "this is not json";
    case "malformed-array":
      return "[1,2,3]";
    case "headers":
      return JSON.stringify({ payload: { traceparent: msg.headers ? (msg.headers.get("traceparent") || null) : null } });
    case "flapping":
      return call % 2 === 1 ? "fail" : JSON.stringify(echo(validator, request));
    default:
      throw new Error(`unknown behaviour ${behaviour}`);
  }
}

for (const spec of specs) {
  const at = spec.lastIndexOf("=");
  const subject = spec.slice(0, at);
  const behaviour = spec.slice(at + 1);
  const validator = subject.startsWith("beamline.ext.validate.");
  const sub = nc.subscribe(subject);
  let calls = 0;
  (async () => {
    for await (const m of sub) {
      const call = ++calls;
      // Each message is answered on its own: a slow answer holds up no other.
      (async () => {
        const request = JSON.parse(sc.decode(m.data));
        m.respond(sc.encode(await answer(behaviour, validator, request, call, m)));
      })().catch((e) => console.error(`${subject}: ${e}`));
    }
  })();
}
await nc.flush();
console.log("ready");
await nc.closed();
