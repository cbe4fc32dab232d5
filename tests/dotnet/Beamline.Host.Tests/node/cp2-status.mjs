// google.rpc.Status and its standard details, as any client of a gRPC API reads them: the
// definitions are the public ones of googleapis (google/rpc/status.proto, error_details.proto),
// written out here because the npm packages used do not ship them.
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import protobuf from "protobufjs";

const { root } = protobuf.parse(`
syntax = "proto3";
package google.rpc;
message Any { string type_url = 1; bytes value = 2; }
message Status { int32 code = 1; string message = 2; repeated Any details = 3; }
message ErrorInfo { string reason = 1; string domain = 2; map<string, string> metadata = 3; }
message Duration { int64 seconds = 1; int32 nanos = 2; }
message RetryInfo { Duration retry_delay = 1; }
message BadRequest {
  message FieldViolation { string field = 1; string description = 2; }
  repeated FieldViolation field_violations = 1;
}
`, { keepCase: true });

const Status = root.lookupType("google.rpc.Status");

/** A google.rpc.Status from its bytes as plain JSON: code, message, the ErrorInfo, BadRequest and RetryInfo details, and any other detail by type. */
export function decodeStatus(bytes, routerRoot) {
  return describeStatus(Status.decode(bytes), routerRoot);
}

/** The same for a status already decoded ({code, message, details: [{type_url, value: bytes}]}). */
export function describeStatus(status, routerRoot) {
  const out = { code: status.code, message: status.message, details: [] };
  for (const any of status.details) {
    const typeName = any.type_url.substring(any.type_url.lastIndexOf("/") + 1);
    const type = typeName.startsWith("google.rpc.") ? root.lookupType(typeName) : routerRoot?.lookupType(typeName);
    const value = type ? type.toObject(type.decode(any.value), { longs: String, bytes: String, defaults: true }) : null;
    out.details.push({ type: typeName, value });
    if (typeName === "google.rpc.ErrorInfo") {
      out.reason = value.reason;
      out.domain = value.domain;
      out.metadata = value.metadata;
    }
  }
  return out;
}

// router.proto imports googleapis' google/rpc/status.proto, which a client takes from wherever it
// keeps googleapis; here, the public definition written out to a folder on the import path.
const STATUS_PROTO = `syntax = "proto3";
package google.rpc;
import "google/protobuf/any.proto";
message Status { int32 code = 1; string message = 2; repeated google.protobuf.Any details = 3; }
`;

/** A folder holding google/rpc/status.proto, for proto-loader's includeDirs. */
export function googleapisDir() {
  const dir = join(tmpdir(), `beamline-googleapis-${process.pid}`);
  mkdirSync(join(dir, "google", "rpc"), { recursive: true });
  writeFileSync(join(dir, "google", "rpc", "status.proto"), STATUS_PROTO);
  return dir;
}

/** router.proto loaded by protobufjs, its google/rpc import resolved in googleapisDir(). */
export function loadRouterRoot(protoRoot) {
  const googleapis = googleapisDir();
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => target.startsWith("google/rpc/") ? join(googleapis, target) : protobuf.util.path.resolve(origin, target);
  return root.loadSync(`${protoRoot}/beamline/router/v2/router.proto`, { keepCase: true });
}
