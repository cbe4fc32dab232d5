// google.rpc.Status and its standard details, as any client of a gRPC API reads them: the
// definitions are the public ones of googleapis (google/rpc/status.proto, error_details.proto),
// written out here because the npm packages used do not ship them.
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
  const status = Status.decode(bytes);
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
