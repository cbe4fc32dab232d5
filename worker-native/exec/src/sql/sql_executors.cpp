// sql.query and sql.exec: SQLite, one database per tenant in its sandbox,
// <fs.root>/<tenant>/db.sqlite3 (WAL mode, busy timeout). See docs/executors.md.
//
// Payload: {"sql": "<exactly one statement>", "params": [..] | {"name": ..}, "max_rows"?: n}
//   params: null, true/false (1/0), integers, reals, strings, and {"base64": "..."} for blobs.
//   They are bound with sqlite3_bind_*, never spliced into the text. An array binds ?1..?N in
//   order; an object binds named parameters (":name", "@name", "$name"; the key may omit the
//   prefix).
// sql.query → {"columns": ["a", ...], "rows": [[1, 2.5, "text", null, {"base64": "..."}], ...],
//              "truncated": bool}; read-only: the connection is query_only and a statement that
//              could write is refused (sqlite3_stmt_readonly).
// sql.exec  → {"changes": n, "last_insert_rowid": n}; holds the tenant's lock and may grow the
//              database only up to the tenant's quota (fs.tenant_quota_bytes).
//
// Limits ("sql" config): max_rows (default 1000), max_result_bytes (default 16 MiB: the JSON
// output of sql.query, counted while rows are read, so that a result over it is never built)
// and timeout_ms (default 5000). A progress handler stops a statement past timeout_ms or past
// the block's deadline (deadline_exceeded), or when the block is cancelled. ATTACH (and so
// VACUUM INTO) is impossible (SQLITE_LIMIT_ATTACHED = 0 plus an authorizer), as are extensions
// and most PRAGMAs: a tenant reaches no file but its own database. The authorizer lets only an
// allow-list of built-in functions run (no fts3_tokenizer, load_extension, rtreenode, ...).

#include "builtins/registry.hpp"
#include "config.hpp"
#include "detail/base64.hpp"
#include "fs/sandbox.hpp"

#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <string_view>

namespace beamline::exec::sql {

namespace {

using json = nlohmann::json;
using fs::fail;
using fs::failure;
using steady = std::chrono::steady_clock;

struct sql_config {
  uint64_t max_rows = 1000;
  uint64_t max_result_bytes = uint64_t{16} << 20;
  uint64_t timeout_ms = 5000;

  static sql_config from_json(const json& section) {
    sql_config c;
    const auto read = [&](const char* key, uint64_t& into, uint64_t min, uint64_t max) {
      const auto it = section.find(key);
      if (it == section.end() || it->is_null())
        return;
      if (!it->is_number_unsigned() || it->get<uint64_t>() < min || it->get<uint64_t>() > max)
        fail(BL_ERR_INVALID_ARGUMENT, std::string{"executor config sql."} + key
                                        + " must be an integer in " + std::to_string(min) + ".."
                                        + std::to_string(max));
      into = it->get<uint64_t>();
    };
    read("max_rows", c.max_rows, 1, 10'000'000);
    // Far below protobuf's 2 GiB message limit, which the ExecResult must stay under.
    read("max_result_bytes", c.max_result_bytes, 1024, uint64_t{1} << 30);
    read("timeout_ms", c.timeout_ms, 1, 3'600'000);
    return c;
  }
};

struct db_closer {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct stmt_finalizer {
  void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
using db_ptr = std::unique_ptr<sqlite3, db_closer>;
using stmt_ptr = std::unique_ptr<sqlite3_stmt, stmt_finalizer>;

/// What the progress handler looks at.
struct watch {
  const bl_api* api;
  const bl_exec_context* ctx;
  steady::time_point until;
  enum class why { none, timeout, stopped } reason = why::none;
  /// Set by the authorizer when it refused a function: SQLite reports that as a plain
  /// SQLITE_ERROR ("not authorized to use function"), not as SQLITE_AUTH.
  bool function_refused = false;
};

int on_progress(void* user) noexcept {
  auto* w = static_cast<watch*>(user);
  if (w->api->context_cancelled(w->ctx) != 0) {
    w->reason = watch::why::stopped;
    return 1;
  }
  if (steady::now() >= w->until) {
    w->reason = watch::why::timeout;
    return 1;
  }
  return 0;
}

/// Read-only introspection PRAGMAs a tenant may run; every other PRAGMA is refused.
bool allowed_pragma(const char* name, const char* arg) {
  static constexpr std::string_view read_only[] = {
    "table_info",   "table_xinfo",    "table_list",   "index_list",      "index_info",
    "index_xinfo",  "foreign_key_list", "foreign_key_check", "integrity_check", "quick_check",
    "page_count",   "page_size",      "freelist_count", "schema_version", "data_version",
    "collation_list", "function_list", "pragma_list", "encoding",  "journal_mode"};
  if (name == nullptr)
    return false;
  const std::string_view n{name};
  if (n == "user_version")
    return true; // reading and setting it are both harmless
  if (arg != nullptr && n != "table_info" && n != "table_xinfo" && n != "index_list"
      && n != "index_info" && n != "index_xinfo" && n != "foreign_key_list"
      && n != "foreign_key_check" && n != "integrity_check" && n != "quick_check"
      && n != "table_list")
    return false; // setting a value
  return std::find(std::begin(read_only), std::end(read_only), n) != std::end(read_only);
}

/// The SQL functions a tenant may call: SQLite's core scalar, aggregate, window, date, math and
/// JSON functions, and the FTS3/FTS5 query functions. Everything else is refused, notably
/// fts3_tokenizer (its one-argument form returns a native pointer, its two-argument form
/// installs one: a code-execution primitive), load_extension, fts5 (a pointer too) and the
/// rtree debugging functions. The sqlite_rename_* / sqlite_drop_column functions are SQLite's
/// own (ALTER TABLE): a statement cannot call them, only SQLite's nested parse can.
bool allowed_function(const char* name) {
  static constexpr std::string_view allowed[] = {
    // core scalar
    "abs", "changes", "char", "coalesce", "concat", "concat_ws", "format", "glob", "hex", "if",
    "ifnull", "iif", "instr", "last_insert_rowid", "length", "like", "likelihood", "likely",
    "lower", "ltrim", "max", "min", "nullif", "octet_length", "printf", "quote", "random",
    "randomblob", "replace", "round", "rtrim", "sign", "soundex", "sqlite_source_id",
    "sqlite_version", "substr", "substring", "total_changes", "trim", "typeof", "unhex",
    "unicode", "unistr", "unlikely", "upper", "zeroblob",
    // aggregate and window
    "avg", "count", "group_concat", "string_agg", "sum", "total", "median", "percentile",
    "percentile_cont", "percentile_disc", "row_number", "rank", "dense_rank", "percent_rank",
    "cume_dist", "ntile", "lag", "lead", "first_value", "last_value", "nth_value",
    // date and time
    "date", "time", "datetime", "julianday", "unixepoch", "strftime", "timediff",
    "current_date", "current_time", "current_timestamp",
    // math
    "acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "ceil", "ceiling", "cos", "cosh",
    "degrees", "exp", "floor", "ln", "log", "log10", "log2", "mod", "pi", "pow", "power",
    "radians", "sin", "sinh", "sqrt", "tan", "tanh", "trunc",
    // JSON
    "->", "->>", "json", "jsonb", "json_array", "jsonb_array", "json_array_length",
    "json_error_position", "json_extract", "jsonb_extract", "json_group_array",
    "jsonb_group_array", "json_group_object", "jsonb_group_object", "json_insert",
    "jsonb_insert", "json_object", "jsonb_object", "json_patch", "jsonb_patch", "json_pretty",
    "json_quote", "json_remove", "jsonb_remove", "json_replace", "jsonb_replace", "json_set",
    "jsonb_set", "json_type", "json_valid",
    // full-text search queries (FTS3/4 and FTS5)
    "match", "matchinfo", "offsets", "snippet", "highlight", "bm25",
    // ALTER TABLE's own (not callable from a statement)
    "sqlite_rename_column", "sqlite_rename_table", "sqlite_rename_test", "sqlite_rename_quotefix",
    "sqlite_drop_column"};
  if (name == nullptr)
    return false;
  std::string lowered{name};
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::find(std::begin(allowed), std::end(allowed), lowered) != std::end(allowed);
}

/// The authorizer; `user` is the block's watch.
int authorize(void* user, int action, const char* a, const char* b, const char*, const char*) noexcept {
  switch (action) {
  case SQLITE_ATTACH:
  case SQLITE_DETACH:
    return SQLITE_DENY;
  case SQLITE_PRAGMA:
    return allowed_pragma(a, b) ? SQLITE_OK : SQLITE_DENY;
  case SQLITE_FUNCTION: // a: unused, b: the function's name
    try {
      if (allowed_function(b))
        return SQLITE_OK;
    } catch (...) {
    }
    static_cast<watch*>(user)->function_refused = true;
    return SQLITE_DENY;
  default:
    return SQLITE_OK;
  }
}

[[noreturn]] void fail_sqlite(sqlite3* db, int rc, const watch& w, const char* what) {
  if (rc == SQLITE_INTERRUPT || w.reason != watch::why::none) {
    if (w.reason == watch::why::stopped)
      fs::fail_stopped(w.api, w.ctx);
    fail(BL_ERR_DEADLINE_EXCEEDED, std::string{what} + ": the statement ran past the time limit "
                                     "(sql.timeout_ms or the block's deadline)");
  }
  const std::string msg = std::string{what} + ": " + (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  if (w.function_refused)
    fail(BL_ERR_PERMISSION_DENIED, msg);
  switch (rc & 0xff) {
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    fail(BL_ERR_RESOURCE_UNAVAILABLE, msg + " (the database is busy)");
  case SQLITE_FULL:
    fail(BL_ERR_RESOURCE_UNAVAILABLE, msg + " (quota exceeded: fs.tenant_quota_bytes)");
  case SQLITE_AUTH:
  case SQLITE_PERM:
  case SQLITE_READONLY:
    fail(BL_ERR_PERMISSION_DENIED, msg);
  case SQLITE_NOMEM:
    fail(BL_ERR_RESOURCE_UNAVAILABLE, msg);
  case SQLITE_CANTOPEN:
  case SQLITE_IOERR:
  case SQLITE_CORRUPT:
  case SQLITE_NOTADB:
    fail(BL_ERR_INTERNAL, msg);
  default:
    // SQLITE_ERROR (syntax, missing table ...), SQLITE_CONSTRAINT, SQLITE_MISMATCH, SQLITE_RANGE,
    // SQLITE_TOOBIG: the tenant's SQL or data.
    fail(BL_ERR_INVALID_INPUT, msg);
  }
}

void exec_internal(sqlite3* db, const char* sql, const watch& w) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  sqlite3_free(err);
  if (rc != SQLITE_OK)
    fail_sqlite(db, rc, w, "setting up the database");
}

/// Opens the tenant's database: WAL, busy timeout, no ATTACH, no extensions, defensive mode.
db_ptr open_database(const std::string& path, const watch& w, uint64_t timeout_ms) {
  sqlite3* raw = nullptr;
  // NOFOLLOW: SQLite refuses a link anywhere in the path it opens (db, -wal, -shm).
  const int rc = sqlite3_open_v2(path.c_str(), &raw,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
                                   | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_EXRESCODE,
                                 nullptr);
  db_ptr db{raw};
  if (rc != SQLITE_OK) {
    if ((rc & 0xff) == SQLITE_CANTOPEN)
      fail(BL_ERR_PERMISSION_DENIED, "cannot open the tenant's database (a symbolic link in its "
                                     "path, or no access): " + std::string{sqlite3_errstr(rc)});
    fail_sqlite(db.get(), rc, w, "opening the tenant's database");
  }
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_limit(db.get(), SQLITE_LIMIT_ATTACHED, 0);
  sqlite3_limit(db.get(), SQLITE_LIMIT_LENGTH, 64 << 20);
  sqlite3_limit(db.get(), SQLITE_LIMIT_SQL_LENGTH, 1 << 20);
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, nullptr);
  // The two-argument fts3_tokenizer installs a native pointer; the authorizer refuses the
  // function as well.
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER, 0, nullptr);
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  sqlite3_busy_timeout(db.get(), static_cast<int>(std::min<uint64_t>(timeout_ms, INT_MAX)));
  exec_internal(db.get(), "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", w);
  return db;
}

void bind_one(sqlite3_stmt* stmt, int index, const json& v, const std::string& where) {
  int rc = SQLITE_OK;
  if (v.is_null()) {
    rc = sqlite3_bind_null(stmt, index);
  } else if (v.is_boolean()) {
    rc = sqlite3_bind_int(stmt, index, v.get<bool>() ? 1 : 0);
  } else if (v.is_number_integer() && !v.is_number_unsigned()) {
    rc = sqlite3_bind_int64(stmt, index, v.get<int64_t>());
  } else if (v.is_number_unsigned()) {
    if (v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      fail(BL_ERR_INVALID_INPUT, where + " is larger than a 64-bit signed integer");
    rc = sqlite3_bind_int64(stmt, index, static_cast<int64_t>(v.get<uint64_t>()));
  } else if (v.is_number_float()) {
    rc = sqlite3_bind_double(stmt, index, v.get<double>());
  } else if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    rc = sqlite3_bind_text64(stmt, index, s.data(), s.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  } else if (v.is_object() && v.size() == 1 && v.contains("base64") && v["base64"].is_string()) {
    auto bytes = detail::base64_decode(v["base64"].get_ref<const std::string&>());
    if (!bytes)
      fail(BL_ERR_INVALID_INPUT, where + ": \"base64\" is not valid base64");
    rc = sqlite3_bind_blob64(stmt, index, bytes->data(), bytes->size(), SQLITE_TRANSIENT);
  } else {
    fail(BL_ERR_INVALID_INPUT, where + " must be null, a boolean, a number, a string or "
                                       "{\"base64\": \"...\"}");
  }
  if (rc != SQLITE_OK)
    fail(BL_ERR_INVALID_INPUT, where + ": " + sqlite3_errstr(rc));
}

void bind_params(sqlite3_stmt* stmt, const json& doc) {
  const int wanted = sqlite3_bind_parameter_count(stmt);
  const auto it = doc.find("params");
  if (it == doc.end() || it->is_null()) {
    if (wanted != 0)
      fail(BL_ERR_INVALID_INPUT, "the statement has " + std::to_string(wanted)
                                   + " parameter(s) but no \"params\" were given");
    return;
  }
  if (it->is_array()) {
    if (it->size() != static_cast<size_t>(wanted))
      fail(BL_ERR_INVALID_INPUT, "the statement has " + std::to_string(wanted) + " parameter(s); "
                                   + std::to_string(it->size()) + " were given");
    for (int i = 1; i <= wanted; ++i) {
      const char* name = sqlite3_bind_parameter_name(stmt, i);
      if (name != nullptr && name[0] != '?')
        fail(BL_ERR_INVALID_INPUT, std::string{"parameter "} + name
                                     + " is named: give \"params\" as an object");
      bind_one(stmt, i, (*it)[static_cast<size_t>(i - 1)], "params[" + std::to_string(i - 1) + "]");
    }
    return;
  }
  if (!it->is_object())
    fail(BL_ERR_INVALID_INPUT, "\"params\" must be an array or an object");
  size_t used = 0;
  for (int i = 1; i <= wanted; ++i) {
    const char* name = sqlite3_bind_parameter_name(stmt, i);
    if (name == nullptr || name[0] == '?')
      fail(BL_ERR_INVALID_INPUT, "parameter " + std::to_string(i)
                                   + " is positional: give \"params\" as an array");
    auto v = it->find(name);
    if (v == it->end())
      v = it->find(name + 1); // the key without its ':', '@' or '$'
    if (v == it->end())
      fail(BL_ERR_INVALID_INPUT, std::string{"no value for parameter "} + name);
    bind_one(stmt, i, *v, std::string{"params."} + name);
    ++used;
  }
  if (used != it->size())
    fail(BL_ERR_INVALID_INPUT, "\"params\" has keys that name no parameter of the statement");
}

json column_value(sqlite3_stmt* stmt, int i) {
  switch (sqlite3_column_type(stmt, i)) {
  case SQLITE_INTEGER:
    return sqlite3_column_int64(stmt, i);
  case SQLITE_FLOAT:
    return sqlite3_column_double(stmt, i);
  case SQLITE_TEXT: {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
    return std::string{text == nullptr ? "" : text, static_cast<size_t>(sqlite3_column_bytes(stmt, i))};
  }
  case SQLITE_BLOB: {
    const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt, i));
    const auto size = static_cast<size_t>(sqlite3_column_bytes(stmt, i));
    return json{{"base64", detail::base64_encode(std::string_view{data == nullptr ? "" : data, size})}};
  }
  default:
    return nullptr;
  }
}

/// The fewest bytes column `i` of the current row takes in the output, found without converting
/// or copying the value: a blob's base64 object, a text's bytes and quotes.
/// (The type is asked first: sqlite3_column_bytes converts numbers, after which the type is
/// undefined.)
uint64_t least_json_bytes(sqlite3_stmt* stmt, int i) {
  const int type = sqlite3_column_type(stmt, i);
  if (type != SQLITE_BLOB && type != SQLITE_TEXT)
    return 2;
  const auto bytes = static_cast<uint64_t>(std::max(sqlite3_column_bytes(stmt, i), 0));
  switch (type) {
  case SQLITE_BLOB:
    return 13 + (bytes + 2) / 3 * 4; // {"base64":"..."},
  case SQLITE_TEXT:
    return bytes + 3;
  default:
    return 2;
  }
}

std::string dump_json(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

struct sql_block {
  const bl_api* api;
  bl_exec_context* ctx;
  json doc;
  fs::sandbox_config fs_config;
  sql_config config;
  std::string tenant;
  fs::unique_fd tenant_dir;
  std::string db_path;
};

sql_block open_block(const bl_api* api, bl_exec_context* ctx, const uint8_t* payload,
                     uint64_t payload_len) {
  sql_block b{api, ctx, {}, {}, {}, {}, {}, {}};
  const auto* text = reinterpret_cast<const char*>(payload);
  b.doc = json::parse(text, text + payload_len, nullptr, /*allow_exceptions=*/false);
  if (b.doc.is_discarded() || !b.doc.is_object())
    fail(BL_ERR_INVALID_INPUT, "the payload must be a JSON object with \"sql\"");
  const auto sql = b.doc.find("sql");
  if (sql == b.doc.end() || !sql->is_string() || sql->get_ref<const std::string&>().empty())
    fail(BL_ERR_INVALID_INPUT, "\"sql\" (a non-empty string) is required");
  b.fs_config = fs::sandbox_config::from_json(executor_config(ctx, "fs"));
  b.config = sql_config::from_json(executor_config(ctx, "sql"));
  const bl_exec_info* info = api->context_info(ctx);
  b.tenant.assign(info->tenant_id == nullptr ? "" : info->tenant_id,
                  info->tenant_id == nullptr ? 0 : static_cast<size_t>(info->tenant_id_len));
  b.tenant_dir = fs::open_tenant_dir(b.fs_config, b.tenant);
  // The database file itself must not be a link either (SQLite's NOFOLLOW checks this too).
  struct stat st {};
  if (fstatat(b.tenant_dir.get(), "db.sqlite3", &st, AT_SYMLINK_NOFOLLOW) == 0
      && !S_ISREG(st.st_mode))
    fail(BL_ERR_PERMISSION_DENIED, "the tenant's database is not a regular file");
  // SQLite opens by name: use the root's canonical path so that NOFOLLOW only sees our names.
  char* real = realpath(b.fs_config.root.c_str(), nullptr);
  if (real == nullptr)
    fail(BL_ERR_INTERNAL, "cannot resolve the sandbox root '" + b.fs_config.root + "'");
  b.db_path = std::string{real} + "/" + b.tenant + "/db.sqlite3";
  std::free(real);
  return b;
}

/// Prepares exactly one statement: the rest of the text may only be whitespace and comments.
stmt_ptr prepare_one(sqlite3* db, const std::string& sql, const watch& w) {
  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v3(db, sql.c_str(), static_cast<int>(sql.size()), 0, &raw, &tail);
  stmt_ptr stmt{raw};
  if (rc != SQLITE_OK)
    fail_sqlite(db, rc, w, "preparing the statement");
  if (!stmt)
    fail(BL_ERR_INVALID_INPUT, "\"sql\" holds no statement");
  if (tail != nullptr && *tail != '\0') {
    sqlite3_stmt* next = nullptr;
    const char* ignored = nullptr;
    rc = sqlite3_prepare_v3(db, tail, -1, 0, &next, &ignored);
    const bool another = rc != SQLITE_OK || next != nullptr;
    sqlite3_finalize(next);
    if (another)
      fail(BL_ERR_INVALID_INPUT, "\"sql\" must hold exactly one statement; found more after '"
                                   + std::string{sqlite3_sql(stmt.get())} + "'");
  }
  return stmt;
}

watch make_watch(const sql_block& b) {
  return watch{b.api, b.ctx, steady::now() + std::chrono::milliseconds{b.config.timeout_ms}};
}

void write_output(const sql_block& b, const json& out) {
  fs::write_json(b.api, b.ctx, out);
}


bl_status* BL_CALL run_query(void* user, bl_exec_context* ctx, const uint8_t* payload,
                             uint64_t payload_len) {
  const auto* api = static_cast<const bl_api*>(user);
  return fs::run_guarded(api, "sql.query", [&] {
    const sql_block b = open_block(api, ctx, payload, payload_len);
    uint64_t max_rows = b.config.max_rows;
    if (const auto it = b.doc.find("max_rows"); it != b.doc.end() && !it->is_null()) {
      if (!it->is_number_unsigned())
        fail(BL_ERR_INVALID_INPUT, "\"max_rows\" must be a non-negative integer");
      max_rows = std::min(max_rows, it->get<uint64_t>());
    }
    watch w = make_watch(b);
    const db_ptr db = open_database(b.db_path, w, b.config.timeout_ms);
    exec_internal(db.get(), "PRAGMA query_only=ON;", w);
    sqlite3_set_authorizer(db.get(), authorize, &w);
    sqlite3_progress_handler(db.get(), 1000, on_progress, &w);
    const stmt_ptr stmt = prepare_one(db.get(), b.doc["sql"].get_ref<const std::string&>(), w);
    if (sqlite3_stmt_readonly(stmt.get()) == 0)
      fail(BL_ERR_PERMISSION_DENIED, "sql.query runs read-only statements; use sql.exec to write");
    bind_params(stmt.get(), b.doc);

    const int ncols = sqlite3_column_count(stmt.get());
    json columns = json::array();
    for (int i = 0; i < ncols; ++i) {
      const char* name = sqlite3_column_name(stmt.get(), i);
      columns.push_back(name == nullptr ? "" : name);
    }
    // The output is built here, row by row, so that its size is known while rows are read: a
    // value is looked at (sqlite3_column_bytes, no copy) before it is converted, and a result
    // over max_result_bytes stops at the row that crosses it.
    const uint64_t limit = b.config.max_result_bytes;
    constexpr size_t tail_bytes = 24; // "],\"truncated\":false}"
    const auto too_large = [&](uint64_t at_least) {
      fail(BL_ERR_RESOURCE_UNAVAILABLE,
           "result too large: the query's output reaches at least " + std::to_string(at_least)
             + " bytes; the limit is " + std::to_string(limit)
             + " (sql.max_result_bytes). Select fewer rows or columns, or read large values in "
               "pieces (substr)");
    };
    std::string out = "{\"columns\":" + dump_json(columns) + ",\"rows\":[";
    if (out.size() + tail_bytes > limit)
      too_large(out.size() + tail_bytes);
    uint64_t row_count = 0;
    bool truncated = false;
    for (;;) {
      const int rc = sqlite3_step(stmt.get());
      if (rc == SQLITE_DONE)
        break;
      if (rc != SQLITE_ROW)
        fail_sqlite(db.get(), rc, w, "running the query");
      if (row_count >= max_rows) {
        truncated = true;
        break;
      }
      uint64_t least = out.size() + tail_bytes + 2;
      for (int i = 0; i < ncols; ++i)
        least += least_json_bytes(stmt.get(), i);
      if (least > limit)
        too_large(least);
      json row = json::array();
      for (int i = 0; i < ncols; ++i)
        row.push_back(column_value(stmt.get(), i));
      const std::string text = dump_json(row);
      if (out.size() + 1 + text.size() + tail_bytes > limit)
        too_large(out.size() + 1 + text.size() + tail_bytes);
      if (row_count != 0)
        out += ',';
      out += text;
      ++row_count;
    }
    out += truncated ? "],\"truncated\":true}" : "],\"truncated\":false}";
    if (bl_status* st = api->context_write(ctx, reinterpret_cast<const uint8_t*>(out.data()), out.size());
        st != nullptr) {
      uint64_t len = 0;
      const char* msg = api->status_message(st, &len);
      failure f{static_cast<bl_errc>(api->status_code(st)), std::string{msg, len}};
      api->status_release(st);
      throw f;
    }
  });
}

bl_status* BL_CALL run_exec(void* user, bl_exec_context* ctx, const uint8_t* payload,
                            uint64_t payload_len) {
  const auto* api = static_cast<const bl_api*>(user);
  return fs::run_guarded(api, "sql.exec", [&] {
    const sql_block b = open_block(api, ctx, payload, payload_len);
    watch w = make_watch(b);
    // One writer per tenant at a time, and the quota is checked under the same lock as fs.*.
    fs::tenant_lock lock{b.tenant_dir.get(), b.tenant, api, ctx};
    const db_ptr db = open_database(b.db_path, w, b.config.timeout_ms);
    // The database may grow only by what the quota leaves.
    const uint64_t used = fs::scan_usage_and_sweep(b.tenant_dir.get()).bytes;
    const uint64_t left = b.fs_config.tenant_quota_bytes - std::min(used, b.fs_config.tenant_quota_bytes);
    {
      stmt_ptr pages;
      sqlite3_stmt* raw = nullptr;
      if (sqlite3_prepare_v2(db.get(), "PRAGMA page_count", -1, &raw, nullptr) != SQLITE_OK)
        fail_sqlite(db.get(), SQLITE_ERROR, w, "reading the page count");
      pages.reset(raw);
      const int64_t page_count = sqlite3_step(pages.get()) == SQLITE_ROW ? sqlite3_column_int64(pages.get(), 0) : 0;
      raw = nullptr;
      if (sqlite3_prepare_v2(db.get(), "PRAGMA page_size", -1, &raw, nullptr) != SQLITE_OK)
        fail_sqlite(db.get(), SQLITE_ERROR, w, "reading the page size");
      pages.reset(raw);
      const int64_t page_size = sqlite3_step(pages.get()) == SQLITE_ROW ? sqlite3_column_int64(pages.get(), 0) : 4096;
      const uint64_t max_pages =
        static_cast<uint64_t>(page_count) + left / static_cast<uint64_t>(std::max<int64_t>(page_size, 512));
      const std::string pragma = "PRAGMA max_page_count=" + std::to_string(std::max<uint64_t>(max_pages, 1)) + ";";
      exec_internal(db.get(), pragma.c_str(), w);
    }
    sqlite3_set_authorizer(db.get(), authorize, &w);
    sqlite3_progress_handler(db.get(), 1000, on_progress, &w);
    const stmt_ptr stmt = prepare_one(db.get(), b.doc["sql"].get_ref<const std::string&>(), w);
    bind_params(stmt.get(), b.doc);
    for (;;) {
      const int rc = sqlite3_step(stmt.get());
      if (rc == SQLITE_DONE)
        break;
      if (rc != SQLITE_ROW) // RETURNING rows are read and dropped
        fail_sqlite(db.get(), rc, w, "running the statement");
    }
    write_output(b, json{{"changes", sqlite3_changes64(db.get())},
                         {"last_insert_rowid", sqlite3_last_insert_rowid(db.get())}});
  });
}

BEAMLINE_REGISTER_BUILTIN("sql.query", run_query);
BEAMLINE_REGISTER_BUILTIN("sql.exec", run_exec);

} // namespace

} // namespace beamline::exec::sql
