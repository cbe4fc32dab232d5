// A CP1 client on the official `nats` npm package: sends the JSON in argv[4] to subject argv[3]
// argv[5] times (all in flight at once) and prints the replies as one JSON array.
// Usage: node request.mjs <nats-url> <subject> <json> [count]
import { connect, StringCodec } from "nats";

const [, , url, subject, body, count = "1"] = process.argv;
const nc = await connect({ servers: url });
const sc = StringCodec();
const replies = await Promise.all(
  Array.from({ length: Number(count) }, () =>
    nc.request(subject, sc.encode(body), { timeout: 10000 }).then((m) => JSON.parse(sc.decode(m.data)))));
process.stdout.write(JSON.stringify(replies));
await nc.close();
