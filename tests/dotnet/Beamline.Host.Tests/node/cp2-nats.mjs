// A CP2 client on the official `nats` package with protobufjs: encodes each call's request as a
// beamline.router.v2.DecideRequest, sends it with the tenant in the Beamline-Tenant header (the
// bus is trusted: no API key travels on NATS), and collects the replies on its own inbox until one
// that is not a chunk (Beamline-Kind header). `authorization` sends that Authorization header as
// given, to check that the control plane refuses it.
// Usage: node cp2-nats.mjs <plan.json>
//   plan: {"url": "nats://...", "proto_root": "...", "calls": [{"subject": "...", "tenant": "...",
//          "authorization": "...", "timeout_ms": 0, "request": {...}, "raw_base64": "..."}]}
//   (a `.get_decision` subject's request is a GetDecisionRequest, any other's a DecideRequest)
import { readFileSync } from "node:fs";
import { connect, createInbox, headers } from "nats";
import { decodeStatus, loadRouterRoot } from "./cp2-status.mjs";

const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));
const root = loadRouterRoot(plan.proto_root);
const DecideRequest = root.lookupType("beamline.router.v2.DecideRequest");
const GetDecisionRequest = root.lookupType("beamline.router.v2.GetDecisionRequest");
const DecideResponse = root.lookupType("beamline.router.v2.DecideResponse");
const ExecuteEvent = root.lookupType("beamline.router.v2.ExecuteEvent");
const asJson = (type, bytes) => type.toObject(type.decode(bytes), { longs: String, bytes: String, defaults: true, oneofs: true });

const nc = await connect({ servers: plan.url });
const results = [];
for (const call of plan.calls) {
  const h = headers();
  if (call.tenant) h.set("Beamline-Tenant", call.tenant);
  if (call.authorization) h.set("Authorization", call.authorization);
  if (call.timeout_ms) h.set("Beamline-Timeout-Ms", String(call.timeout_ms));
  const body = call.raw_base64 !== undefined
    ? Buffer.from(call.raw_base64, "base64")
    : call.subject.endsWith(".get_decision")
      ? GetDecisionRequest.encode(GetDecisionRequest.fromObject(call.request)).finish()
      : DecideRequest.encode(DecideRequest.fromObject(call.request)).finish();
  const inbox = createInbox();
  const sub = nc.subscribe(inbox, { timeout: 20000 });
  nc.publish(call.subject, body, { reply: inbox, headers: h });
  const replies = [];
  for await (const m of sub) {
    const kind = m.headers?.get("Beamline-Kind");
    if (kind === "chunk") {
      replies.push({ kind, event: asJson(ExecuteEvent, m.data) });
      continue;
    }
    if (kind === "error") replies.push({ kind, error: decodeStatus(m.data, root) });
    else if (kind === "decision") replies.push({ kind, decision: asJson(DecideResponse, m.data) });
    else replies.push({ kind, event: asJson(ExecuteEvent, m.data) });
    break;
  }
  sub.unsubscribe();
  results.push(replies);
}
process.stdout.write(JSON.stringify(results));
await nc.close();
