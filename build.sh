#!/usr/bin/env bash
# Beamline build entry point (POSIX). build.ps1 takes the same verbs.
#
#   ./build.sh deps    install the Debian packages the build and tests need (as root; else prints the command)
#   ./build.sh build   native (CMake preset "release") + C# (Release); programs in out/bin, libraries in out/lib
#   ./build.sh test    deps + build, then GoogleTest (ctest) and xunit; ends with "N passed, N failed, N skipped"
#   ./build.sh run     deps + build, then `beamline serve` with the example configuration (demo key; extra args are passed on)
#   ./build.sh bench   deps + build, then the benchmarks of docs/benchmarks.md (`bench gateway`: only the gateway against Portkey;
#                      `bench telemetry`: only the cost of metrics and tracing on the gateway path;
#                      `bench decide`: decide over CP2 gRPC (unary and DecideStream), CP2 NATS and CP1 NATS side by side)
#   ./build.sh chaos   deps + build, then the chaos suite (docs/reliability.md): workers, nats-server and control planes
#                      killed under load; prints sent/answered/lost/executed twice and writes the table; not CI
#                      (extra args go to the harness, e.g. `chaos --scenario nats-restart --core`)
#   ./build.sh fuzz    clang + the libFuzzer targets (preset "fuzz"), each run BEAMLINE_FUZZ_SECONDS (60); not CI
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"

CONFIGURATION="${BEAMLINE_CONFIGURATION:-Release}"
RESULTS="$ROOT/build/test-results"

# Debian packages: build (native), run (worker, tests) and test tools.
DEB_PACKAGES=(
  cmake g++ pkg-config
  libcaf-dev libnats-dev nats-server
  protobuf-compiler libprotobuf-dev
  libcurl4-openssl-dev libsqlite3-dev nlohmann-json3-dev zlib1g-dev
  libssl-dev libre2-dev libxxhash-dev
  libgtest-dev
  prometheus   # promtool and a Prometheus server: the /metrics tests check the exposition with both
  chromium fonts-liberation   # the /ui dashboard tests drive the system browser (Playwright, no browser download)
)

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

missing_packages() {
  local missing=()
  for p in "${DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  echo "${missing[@]:-}"
}

cmd_deps() {
  local missing
  missing="$(missing_packages)"
  if [[ -n "$missing" ]]; then
    if [[ "$(id -u)" == 0 ]]; then
      log "installing: $missing"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -q
      # shellcheck disable=SC2086
      apt-get install -y -q --no-install-recommends $missing
    else
      echo "Missing Debian packages. Run as root:" >&2
      echo "  sudo apt-get update && sudo apt-get install -y $missing" >&2
      exit 1
    fi
  fi
  if ! command -v dotnet >/dev/null 2>&1; then
    echo "The .NET 10 SDK is required (dotnet on PATH): https://dotnet.microsoft.com/download" >&2
    exit 1
  fi
}

cmd_build() {
  log "native build (CMake preset release)"
  cmake --preset release >/dev/null
  cmake --build --preset release -j "$(nproc)"

  log "control plane (dotnet, $CONFIGURATION)"
  dotnet build "$ROOT/Beamline.sln" -c "$CONFIGURATION" -nologo -v quiet -clp:ErrorsOnly
  dotnet publish "$ROOT/control/src/Beamline.Cli/Beamline.Cli.csproj" -c "$CONFIGURATION" --no-build \
    -o "$ROOT/out/control" -nologo -v quiet
  # out/bin/beamline: the published CLI, next to beamline-worker; it finds out/lib by itself.
  cat >"$ROOT/out/bin/beamline" <<'EOF'
#!/usr/bin/env bash
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
export BEAMLINE_NATIVE_DIR="${BEAMLINE_NATIVE_DIR:-$here/../lib}"
exec "$here/../control/beamline" "$@"
EOF
  chmod +x "$ROOT/out/bin/beamline"
}

# Sums GoogleTest (ctest JUnit) and xunit (trx) results into one line.
summarize() {
  local passed=0 failed=0 skipped=0 f t fl s ex pa
  for f in "$RESULTS"/native/*.xml; do
    [[ -f "$f" ]] || continue
    # ctest writes the attributes of <testsuite> one per line.
    t=" $(tr '\n\t' '  ' <"$f" | grep -o '<testsuite [^>]*' | head -1) "
    local tests failures skip
    tests=$(sed -n 's/.* tests="\([0-9]*\)".*/\1/p' <<<"$t")
    failures=$(sed -n 's/.* failures="\([0-9]*\)".*/\1/p' <<<"$t")
    skip=$(sed -n 's/.* skipped="\([0-9]*\)".*/\1/p' <<<"$t")
    passed=$((passed + ${tests:-0} - ${failures:-0} - ${skip:-0}))
    failed=$((failed + ${failures:-0}))
    skipped=$((skipped + ${skip:-0}))
  done
  for f in "$RESULTS"/dotnet/*.trx; do
    [[ -f "$f" ]] || continue
    t=$(grep -o '<Counters [^>]*' "$f" | head -1)
    t=" $t "
    pa=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$t")
    fl=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$t")
    ex=$(sed -n 's/.* error="\([0-9]*\)".*/\1/p' <<<"$t")
    s=$(sed -n 's/.* notExecuted="\([0-9]*\)".*/\1/p' <<<"$t")
    passed=$((passed + ${pa:-0}))
    failed=$((failed + ${fl:-0} + ${ex:-0}))
    skipped=$((skipped + ${s:-0}))
  done
  echo "$passed passed, $failed failed, $skipped skipped"
  [[ $failed == 0 && $passed -gt 0 ]]
}

cmd_test() {
  cmd_deps
  cmd_build
  rm -rf "$RESULTS"
  mkdir -p "$RESULTS/native" "$RESULTS/dotnet"
  local rc=0

  log "GoogleTest (ctest)"
  ctest --preset release --output-junit "$RESULTS/native/ctest.xml" || rc=1

  log "xunit (dotnet test)"
  # One project at a time, each with its own trx file (integration tests start real processes).
  local project name
  for project in "$ROOT"/tests/dotnet/*.Tests/*.Tests.csproj; do
    name="$(basename "$project" .csproj)"
    dotnet test "$project" -c "$CONFIGURATION" --no-build -nologo \
      --logger "trx;LogFileName=$name.trx" --logger "console;verbosity=normal" \
      --results-directory "$RESULTS/dotnet" || rc=1
  done

  summarize || rc=1
  return $rc
}

cmd_run() {
  cmd_deps
  cmd_build
  log "beamline serve with the example configuration (demo tenant and key; data in build/data; Ctrl-C stops)"
  exec "$ROOT/out/bin/beamline" serve --config "$ROOT/control/src/Beamline.Cli/examples/beamline.example.json" \
    --data-dir "$ROOT/build/data" "$@"
}

free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

# Waits until something listens on port $1: up to $2 tries 50 ms apart (default 200: 10 s).
wait_port() {
  for _ in $(seq 1 "${2:-200}"); do
    (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing listens on port $1" >&2
  return 1
}

# Executor blocks (cpu.hash 4 KiB, fs.read 4 KiB, sql.query point lookup), in-process and through
# NATS to a worker offering cpu and io pools, with one executor configuration (a scratch sandbox).
bench_executors() {
  local url="$1" seconds="$2" inflight="$3" dir="$ROOT/build/bench" data
  rm -rf "$dir" && mkdir -p "$dir/sandbox"
  printf '{"fs":{"root":"%s"}}\n' "$dir/sandbox" >"$dir/executors.json"
  printf '{"Beamline":{"InProcess":{"ExecutorConfigFile":"%s","Pools":{"cpu":%s,"io":16}}}}\n' \
    "$dir/executors.json" "$(nproc)" >"$dir/beamline.json"
  "$ROOT/out/bin/beamline-worker" --nats "$url" --worker-id bench-exec-worker --pool "cpu=$(nproc)" --pool io=16 \
    --executor-config "$dir/executors.json" >"$dir/worker.log" 2>&1 & BENCH_PIDS+=($!)
  for _ in $(seq 1 100); do grep -q "beamline-worker ready" "$dir/worker.log" && break; sleep 0.1; done
  data="$(head -c 4096 /dev/urandom | base64 -w0)"
  local exec=("$ROOT/out/bin/beamline" exec --config "$dir/beamline.json" --tenant bench --pool io)
  "${exec[@]}" --type fs.write --payload "{\"path\":\"bench/4k.bin\",\"data_base64\":\"$data\",\"parents\":true}" >/dev/null
  "${exec[@]}" --type sql.exec --payload '{"sql":"CREATE TABLE IF NOT EXISTS kv (k INTEGER PRIMARY KEY, v TEXT)"}' >/dev/null
  "${exec[@]}" --type sql.exec \
    --payload "{\"sql\":\"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<1000) INSERT OR REPLACE INTO kv SELECT x, 'value-' || x FROM c\"}" >/dev/null

  local name type pool payload
  while IFS='|' read -r name type pool payload; do
    log "executor $type ($name): in-process ($(nproc) in flight), then over NATS ($inflight in flight)"
    "$ROOT/out/bin/beamline" bench dispatch --config "$dir/beamline.json" --tenant bench --type "$type" --pool "$pool" \
      --payload "$payload" --inflight "$(nproc)" --seconds "$seconds" --name "inprocess_$name"
    "$ROOT/out/bin/beamline" bench dispatch --nats "$url" --tenant bench --type "$type" --pool "$pool" \
      --payload "$payload" --inflight "$inflight" --seconds "$seconds" --name "nats_$name"
  done <<EOF
cpu_hash_4k|cpu.hash|cpu|{"algorithm":"sha256","data_base64":"$data"}
fs_read_4k|fs.read|io|{"path":"bench/4k.bin"}
sql_point_lookup|sql.query|io|{"sql":"SELECT v FROM kv WHERE k = ?","params":[500]}
EOF
}

# CP1 decide over NATS end to end: a control plane with the example configuration answers
# beamline.router.v1.decide; a nats.c requester keeps N decide requests in flight.
bench_decide() {
  local url="$1" seconds="$2" inflight="$3" dir="$ROOT/build/bench" http_port
  mkdir -p "$dir"
  http_port="$(free_port)"
  # The example's demo tenant is capped at 600 requests per minute: the bench tenant has the
  # same policy and providers, and limits high enough that the quota gate runs but never refuses.
  # The extension-hop policies call NATS.Net echo services (control/bench/extensions/).
  Beamline__Extensions__Directory="$ROOT/control/bench/extensions" \
    "$ROOT/out/bin/beamline" serve --nats "$url" --urls "http://127.0.0.1:$http_port" --data-dir "$dir/data" \
    --config "$ROOT/control/bench/decide-config.json" >"$dir/serve.log" 2>&1 & BENCH_PIDS+=($!)
  "$ROOT/out/bin/beamline" bench responder --nats "$url" --subject beamline.ext.pre.bench_pre.v1 \
    beamline.ext.validate.bench_validate_1.v1 beamline.ext.validate.bench_validate_2.v1 beamline.ext.validate.bench_validate_3.v1 \
    >"$dir/responder.log" 2>&1 & BENCH_PIDS+=($!)
  wait_port "$http_port"
  for _ in $(seq 1 100); do grep -q "responder ready" "$dir/responder.log" && break; sleep 0.1; done
  log "CP1 decide over NATS (C requester -> beamline serve), $inflight in flight and 1 in flight"
  local decide decide1
  decide="$("$ROOT/out/bin/beamline-nats-bench" --nats "$url" --inflight "$inflight" --seconds "$seconds" \
    --subject beamline.router.v1.decide --body-file "$ROOT/control/bench/decide-request.json" --expect '"ok":true')"
  echo "$decide"
  decide1="$("$ROOT/out/bin/beamline-nats-bench" --nats "$url" --inflight 1 --seconds "$seconds" \
    --subject beamline.router.v1.decide --body-file "$ROOT/control/bench/decide-request.json" --expect '"ok":true')"
  echo "$decide1"
  # The same service through the NATS.Net requester of the echo reference: the best echo and the
  # decide figure then share their client, and the ratio shows the control plane's own cost.
  local net_decide net_decide1
  net_decide="$("$ROOT/out/bin/beamline" bench request --nats "$url" --inflight "$inflight" --seconds "$seconds" \
    --subject beamline.router.v1.decide --body-file "$ROOT/control/bench/decide-request.json" --expect '"ok":true' --name dotnet_to_decide)"
  echo "$net_decide"
  net_decide1="$("$ROOT/out/bin/beamline" bench request --nats "$url" --inflight 1 --seconds "$seconds" \
    --subject beamline.router.v1.decide --body-file "$ROOT/control/bench/decide-request.json" --expect '"ok":true' --name dotnet_to_decide)"
  echo "$net_decide1"
  awk -v a="$(field req_per_s "$decide")" -v b="$RAW_RPS" 'BEGIN { printf "ratio decide/(1) = %.2f (target >= 0.50)\n", a / b }'
  awk -v a="$(field req_per_s "$decide")" -v c="$(field req_per_s "$net_decide")" -v b="$BEST_RPS" \
    'BEGIN { printf "ratio decide/best_echo = %.2f\n", (a > c ? a : c) / b }'
  awk -v a="$(field p50_us "$decide1")" -v c="$(field p50_us "$net_decide1")" -v b="$BEST_P50" \
    'BEGIN { printf "p50 1 in flight decide/best_echo = %.2f (target <= 1.5)\n", (a < c ? a : c) / b }'
  bench_extension_hops "$url" "$seconds" "$inflight" "$(field p50_us "$net_decide1")" "$(field p50_us "$net_decide")"
}

# Decide with one pre and one validator (2 hops), and with one pre and three validators run
# concurrently (still 2 hops): the added latency per hop against the best echo round trip.
bench_extension_hops() {
  local url="$1" seconds="$2" inflight="$3" base1="$4" base="$5" dir="$ROOT/build/bench" policy out1 out
  for policy in ext_pre_validator ext_pre_3validators; do
    sed "s/\"policy_id\":\"default\"/\"policy_id\":\"$policy\"/" "$ROOT/control/bench/decide-request.json" >"$dir/decide-$policy.json"
    log "CP1 decide over NATS with extensions ($policy), 1 and $inflight in flight"
    out1="$("$ROOT/out/bin/beamline" bench request --nats "$url" --inflight 1 --seconds "$seconds" \
      --subject beamline.router.v1.decide --body-file "$dir/decide-$policy.json" --expect '"ok":true' --name "decide_$policy")"
    echo "$out1"
    out="$("$ROOT/out/bin/beamline" bench request --nats "$url" --inflight "$inflight" --seconds "$seconds" \
      --subject beamline.router.v1.decide --body-file "$dir/decide-$policy.json" --expect '"ok":true' --name "decide_$policy")"
    echo "$out"
    awk -v e="$(field p50_us "$out1")" -v d="$base1" -v b="$BEST_P50" \
      'BEGIN { printf "extension hop %s: added p50 per hop (1 in flight) = %.0f us = %.2f best-echo round trips (target <= 1.2)\n", "'"$policy"'", (e - d) / 2, (e - d) / 2 / b }'
    awk -v e="$(field p50_us "$out")" -v d="$base" -v b="$BEST_P50" \
      'BEGIN { printf "extension hop %s: added p50 per hop (%d in flight) = %.0f us\n", "'"$policy"'", '"$inflight"', (e - d) / 2 }'
  done
}

# A loopback port the kernel lets us bind now: free_port's connect probe misses ports held by the
# local end of client connections (or in TIME_WAIT), which a random pick in the ephemeral range can hit.
bound_free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}

# The gateway against Portkey (docs/benchmarks.md, "Gateway against Portkey"): a mock OpenAI upstream
# on loopback (control/bench/gateway/mock-upstream.mjs) called directly, through Portkey 1.15.2
# (npm, --headless) and through `beamline serve` (an openai_compatible provider at the mock), at 1
# and 16 connections, whole (autocannon: latency, req/s) and streamed (time to first byte), after
# a warm-up of each path. Overhead = via - direct, in the same run.
bench_gateway() {
  local seconds="$1" dir="$ROOT/build/bench-gateway" bench="$ROOT/control/bench/gateway"
  local warm="${BENCH_GATEWAY_WARMUP:-3}"
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "The gateway benchmark needs node (20 or later) and npm." >&2
    return 1
  fi
  rm -rf "$dir" && mkdir -p "$dir"
  log "gateway: npm ci (Portkey, autocannon) in control/bench/gateway"
  (cd "$bench" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)

  local mock_port pk_port bl_port pk_pid bl_pid
  mock_port="$(bound_free_port)"
  node "$bench/mock-upstream.mjs" --port "$mock_port" >"$dir/mock.log" 2>&1 & BENCH_PIDS+=($!)
  wait_port "$mock_port" 1200
  pk_port="$(bound_free_port)"
  node "$bench/node_modules/@portkey-ai/gateway/build/start-server.js" --port="$pk_port" --headless \
    >"$dir/portkey.log" 2>&1 & pk_pid=$!; BENCH_PIDS+=($pk_pid)
  wait_port "$pk_port" 1200
  bl_port="$(bound_free_port)"
  # The provider's base_url (the mock on loopback) is a trusted destination: no allow-list needed.
  BENCH_UPSTREAM_URL="http://127.0.0.1:$mock_port/v1" BENCH_UPSTREAM_KEY=sk-bench \
    "$ROOT/out/bin/beamline" serve --config "$bench/beamline.json" --urls "http://127.0.0.1:$bl_port" \
    --data-dir "$dir/data" >"$dir/serve.log" 2>&1 & bl_pid=$!; BENCH_PIDS+=($bl_pid)
  # A first start creates the tenancy database: on a loaded machine that can take more than 10 s.
  wait_port "$bl_port" 1200

  local key=bl_gwbench_HzkXZldHOaTv1OlnmftTNg7Q5-gMLaD0_zPsB7etegw
  local -A url=(
    [direct]="http://127.0.0.1:$mock_port/v1/chat/completions"
    [portkey]="http://127.0.0.1:$pk_port/v1/chat/completions"
    [beamline]="http://127.0.0.1:$bl_port/v1/chat/completions")
  local -A pid=([direct]="" [portkey]="$pk_pid" [beamline]="$bl_pid")
  local -a direct_h=() portkey_h=(--header 'x-portkey-provider: openai' \
    --header "x-portkey-custom-host: http://127.0.0.1:$mock_port/v1" --header 'authorization: Bearer sk-bench')
  local -a beamline_h=(--header "authorization: Bearer $key")
  local target mode c line cpu0 cpu1 ticks
  local -A out=()
  ticks="$(getconf CLK_TCK)"
  for target in direct portkey beamline; do
    log "gateway: warm-up of $target (${warm} s whole, ${warm} s streamed, 16 connections)"
    local -n h="${target}_h"
    node "$bench/load.mjs" --url "${url[$target]}" --mode whole --connections 16 --seconds "$warm" --warmup 0 --name warmup "${h[@]}" >/dev/null
    node "$bench/load.mjs" --url "${url[$target]}" --mode stream --connections 16 --seconds "$warm" --warmup 0 --name warmup "${h[@]}" >/dev/null
    unset -n h
  done
  # Each figure is taken for the three paths back to back, so that they share the machine's state.
  for c in 1 16; do
    for mode in whole stream; do
      log "gateway: $mode, $c connection(s): direct, Portkey, Beamline"
      for target in direct portkey beamline; do
        local -n h="${target}_h"
        node "$bench/load.mjs" --url "${url[$target]}" --mode "$mode" --connections "$c" --seconds 1 --warmup 0 \
          --name warmup "${h[@]}" >/dev/null
        [[ -n "${pid[$target]}" ]] && cpu0="$(awk '{ print $14 + $15 }' "/proc/${pid[$target]}/stat")"
        line="$(node "$bench/load.mjs" --url "${url[$target]}" --mode "$mode" --connections "$c" --seconds "$seconds" \
          --warmup 0 --name "gateway_${target}_${mode}" "${h[@]}")"
        unset -n h
        if [[ -n "${pid[$target]}" ]]; then
          # The gateway process's CPU (utime + stime) over the measured window, per request answered.
          cpu1="$(awk '{ print $14 + $15 }' "/proc/${pid[$target]}/stat")"
          line="$line $(awk -v a="$cpu0" -v b="$cpu1" -v t="$ticks" -v n="$(field requests "$line")" \
            'BEGIN { printf "server_cpu_us_per_req=%.0f", (b - a) * 1e6 / t / n }')"
          line="$line server_threads=$(ls "/proc/${pid[$target]}/task" | wc -l)"
        fi
        echo "$line"
        out[${target}_${mode}_$c]="$line"
      done
    done
  done

  local gw
  for c in 1 16; do
    for gw in portkey beamline; do
      awk -v gw="$gw" -v c="$c" \
        -v a50="$(field p50_us "${out[${gw}_whole_$c]}")" -v a99="$(field p99_us "${out[${gw}_whole_$c]}")" \
        -v d50="$(field p50_us "${out[direct_whole_$c]}")" -v d99="$(field p99_us "${out[direct_whole_$c]}")" \
        -v t50="$(field ttfb_p50_us "${out[${gw}_stream_$c]}")" -v t99="$(field ttfb_p99_us "${out[${gw}_stream_$c]}")" \
        -v u50="$(field ttfb_p50_us "${out[direct_stream_$c]}")" -v u99="$(field ttfb_p99_us "${out[direct_stream_$c]}")" \
        'BEGIN { printf "gateway overhead %s connections=%d whole_p50_us=%.0f whole_p99_us=%.0f ttfb_p50_us=%.0f ttfb_p99_us=%.0f\n",
                 gw, c, a50 - d50, a99 - d99, t50 - u50, t99 - u99 }'
    done
  done
  local d99 p99 b99 dt bt pt
  d99="$(field p99_us "${out[direct_whole_1]}")"
  p99="$(field p99_us "${out[portkey_whole_1]}")"
  b99="$(field p99_us "${out[beamline_whole_1]}")"
  awk -v b="$((b99 - d99))" -v p="$((p99 - d99))" \
    'BEGIN { printf "ratio gateway p99 overhead beamline/portkey (1 connection) = %.3f (target <= 0.10)\n", b / p }'
  awk -v b="$((b99 - d99))" \
    'BEGIN { printf "ratio gateway p99 overhead beamline/0.5 ms (1 connection) = %.2f (target < 1: %.0f us)\n", b / 500, b }'
  awk -v b="$(field req_per_s "${out[beamline_whole_16]}")" -v p="$(field req_per_s "${out[portkey_whole_16]}")" \
    'BEGIN { printf "ratio gateway req_per_s beamline/portkey (16 connections) = %.1f (target >= 5)\n", b / p }'
  dt="$(field ttfb_p99_us "${out[direct_stream_1]}")"
  bt="$(field ttfb_p99_us "${out[beamline_stream_1]}")"
  pt="$(field ttfb_p99_us "${out[portkey_stream_1]}")"
  awk -v b="$((bt - dt))" -v b50="$(( $(field ttfb_p50_us "${out[beamline_stream_1]}") - $(field ttfb_p50_us "${out[direct_stream_1]}") ))" \
    'BEGIN { printf "ratio gateway ttfb overhead beamline/0.5 ms (1 connection) = %.2f p99, %.2f p50 (target < 1: %.0f us p99, %.0f us p50)\n", b / 500, b50 / 500, b, b50 }'
  awk -v b="$((bt - dt))" -v p="$((pt - dt))" \
    'BEGIN { printf "ratio gateway ttfb p99 overhead beamline/portkey (1 connection) = %.3f\n", b / p }'
  # The mock upstream must not be what limits a gateway: its direct rate against the gateways'.
  awk -v d="$(field req_per_s "${out[direct_whole_16]}")" -v b="$(field req_per_s "${out[beamline_whole_16]}")" \
    'BEGIN { printf "ratio gateway req_per_s direct/beamline (16 connections) = %.1f (the mock is not the limit when > 1.5)\n", d / b }'
}

# The cost of telemetry on the gateway path (docs/benchmarks.md, "Telemetry cost"): the same
# gateway twice, side by side on one mock upstream — "off" (Beamline:Metrics:Enabled=false, no
# tracing exporter) and "on" (metrics, scraped every 5 s, and tracing at 10 % sampling exported over
# OTLP/HTTP to a sink on loopback) — at 1 and 16 connections, whole requests, in alternating order
# over four rounds; the medians and the loss (1 - on/off) are printed. Target: loss <= 5 %.
bench_telemetry() {
  local seconds="$1" dir="$ROOT/build/bench-telemetry" bench="$ROOT/control/bench/gateway"
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "The telemetry benchmark needs node (20 or later) and npm." >&2
    return 1
  fi
  rm -rf "$dir" && mkdir -p "$dir"
  log "telemetry: npm ci (autocannon) in control/bench/gateway"
  (cd "$bench" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
  local mock_port sink_port off_port on_port sink_pid scrape_pid
  mock_port="$(bound_free_port)"
  node "$bench/mock-upstream.mjs" --port "$mock_port" >"$dir/mock.log" 2>&1 & BENCH_PIDS+=($!)
  wait_port "$mock_port" 1200
  sink_port="$(bound_free_port)"
  node "$bench/otlp-sink.mjs" --port "$sink_port" >"$dir/sink.log" 2>&1 & sink_pid=$!; BENCH_PIDS+=($sink_pid)
  wait_port "$sink_port" 1200
  off_port="$(bound_free_port)"
  Beamline__Metrics__Enabled=false BENCH_UPSTREAM_URL="http://127.0.0.1:$mock_port/v1" BENCH_UPSTREAM_KEY=sk-bench \
    "$ROOT/out/bin/beamline" serve --config "$bench/beamline.json" --urls "http://127.0.0.1:$off_port" \
    --data-dir "$dir/data-off" >"$dir/serve-off.log" 2>&1 & BENCH_PIDS+=($!)
  wait_port "$off_port" 1200
  on_port="$(bound_free_port)"
  OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink_port" OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf \
    Beamline__Tracing__SampleRatio=0.1 BENCH_UPSTREAM_URL="http://127.0.0.1:$mock_port/v1" BENCH_UPSTREAM_KEY=sk-bench \
    "$ROOT/out/bin/beamline" serve --config "$bench/beamline.json" --urls "http://127.0.0.1:$on_port" \
    --data-dir "$dir/data-on" >"$dir/serve-on.log" 2>&1 & BENCH_PIDS+=($!)
  wait_port "$on_port" 1200
  # A Prometheus scraping every 5 s.
  (while true; do curl -s "http://127.0.0.1:$on_port/metrics" >/dev/null; sleep 5; done) & scrape_pid=$!; BENCH_PIDS+=($scrape_pid)

  local key=bl_gwbench_HzkXZldHOaTv1OlnmftTNg7Q5-gMLaD0_zPsB7etegw
  local -A url=([off]="http://127.0.0.1:$off_port/v1/chat/completions" [on]="http://127.0.0.1:$on_port/v1/chat/completions")
  local side c round line
  for side in off on; do
    log "telemetry: warm-up of $side (3 s, 16 connections)"
    node "$bench/load.mjs" --url "${url[$side]}" --mode whole --connections 16 --seconds 3 --warmup 0 --name warmup \
      --header "authorization: Bearer $key" >/dev/null
  done
  # Whichever side runs second in a pair pays for the first's background work (its ledger and
  # audit writers, its span exports): four rounds, alternating which goes first, a pause before each
  # run, and the loss taken from the geometric mean of the per-round on/off ratios.
  local -A rps=() p50=() p99=() ratio=()
  for round in 1 2 3 4; do
    for c in 1 16; do
      local order=(off on)
      ((round % 2 == 0)) && order=(on off)
      for side in "${order[@]}"; do
        sleep 3
        line="$(node "$bench/load.mjs" --url "${url[$side]}" --mode whole --connections "$c" --seconds "$seconds" --warmup 1 \
          --name "telemetry_${side}" --header "authorization: Bearer $key")"
        echo "round $round: $line"
        rps[${side}_$c]+="$(field req_per_s "$line") "
        p50[${side}_$c]+="$(field p50_us "$line") "
        p99[${side}_$c]+="$(field p99_us "$line") "
        rps[${side}_${c}_last]="$(field req_per_s "$line")"
      done
      ratio[$c]+="$(awk -v on="${rps[on_${c}_last]}" -v off="${rps[off_${c}_last]}" 'BEGIN { printf "%.6f", on / off }') "
    done
  done
  median() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -n | awk '{ v[NR] = $1 } END { print (v[int((NR + 1) / 2)] + v[int(NR / 2) + 1]) / 2 }'; }
  geomean() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | awk '{ s += log($1); n++ } END { printf "%.6f", exp(s / n) }'; }
  for c in 1 16; do
    awk -v c="$c" -v g="$(geomean "${ratio[$c]}")" -v off="$(median "${rps[off_$c]}")" -v on="$(median "${rps[on_$c]}")" \
      -v off50="$(median "${p50[off_$c]}")" -v on50="$(median "${p50[on_$c]}")" \
      -v off99="$(median "${p99[off_$c]}")" -v on99="$(median "${p99[on_$c]}")" \
      'BEGIN { printf "telemetry connections=%d loss=%.1f%% (target <= 5%%; geometric mean of the rounds) off_req_per_s=%.0f on_req_per_s=%.0f off_p50_us=%.0f on_p50_us=%.0f off_p99_us=%.0f on_p99_us=%.0f\n",
               c, (1 - g) * 100, off, on, off50, on50, off99, on99 }'
  done
  kill "$scrape_pid" 2>/dev/null || true
  kill -TERM "$sink_pid" 2>/dev/null && sleep 0.5
  grep "otlp sink requests" "$dir/sink.log" || true
}

# The processes a bench starts; global so that the EXIT trap still sees them after cmd_bench returns
# (a `local` array is gone by then, and `wait` would block forever on the nats-server it started).
BENCH_PIDS=()

stop_bench_processes() {
  if ((${#BENCH_PIDS[@]})); then
    kill "${BENCH_PIDS[@]}" 2>/dev/null || true
    wait "${BENCH_PIDS[@]}" 2>/dev/null || true
  fi
}

field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2"; }

# Decide over the four faces in one run (docs/benchmarks.md, "CP2 decide"): one nats-server, one
# control plane with gRPC on, the same tenant, policy and request (control/bench/decide-*.json;
# CP2 gRPC carries the tenant's key, CP2 NATS the tenant id in Beamline-Tenant); the same load tool
# (beamline bench decide) for each transport: CP2 gRPC unary, CP2 gRPC DecideStream (every decide
# on one bidirectional call), CP2 NATS, CP1 NATS. Each line also has the server's CPU per request
# (the serve process's CPU time over the measured window), which does not depend on the client.
bench_cp2_decide() {
  local seconds="$1" inflight="$2" dir="$ROOT/build/bench-cp2" port url http_port grpc_port serve_pid
  mkdir -p "$dir"
  port="$(free_port)"; url="nats://127.0.0.1:$port"
  nats-server -a 127.0.0.1 -p "$port" >/dev/null 2>&1 & BENCH_PIDS+=($!)
  wait_port "$port"
  http_port="$(free_port)"; grpc_port="$(free_port)"
  "$ROOT/out/bin/beamline" serve --nats "$url" --urls "http://127.0.0.1:$http_port" --grpc-urls "http://127.0.0.1:$grpc_port" \
    --data-dir "$dir/data" --config "$ROOT/control/bench/decide-config.json" >"$dir/serve.log" 2>&1 & serve_pid=$!; BENCH_PIDS+=($serve_pid)
  wait_port "$http_port"; wait_port "$grpc_port"
  local key="bl_bench_Zb7Kq2Xw9Lm4Np6Rt8Vy1Cd3Fg5Hj0Ks2Qa4We6Ty8U" rounds="${BENCH_ROUNDS:-3}" n r t line lines
  log "load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)"
  # Rounds alternate the transports, so that a neighbour's burst of load or the server's JIT
  # does not fall on one transport only; each ratio compares medians.
  for n in "$inflight" 1; do
    log "decide, $n in flight, $rounds rounds: CP2 gRPC, CP2 gRPC stream, CP2 NATS, CP1 NATS (beamline bench decide -> beamline serve)"
    lines=""
    for r in $(seq 1 "$rounds"); do
      for t in cp2-grpc cp2-grpc-stream cp2-nats cp1-nats; do
        case "$t" in
          cp2-grpc|cp2-grpc-stream) line="$("$ROOT/out/bin/beamline" bench decide --transport "$t" --grpc "http://127.0.0.1:$grpc_port" --key "$key" --inflight "$n" --seconds "$seconds" --server-pid "$serve_pid")" ;;
          cp2-nats) line="$("$ROOT/out/bin/beamline" bench decide --transport "$t" --nats "$url" --tenant tenant_bench --inflight "$n" --seconds "$seconds" --server-pid "$serve_pid")" ;;
          cp1-nats) line="$("$ROOT/out/bin/beamline" bench decide --transport "$t" --nats "$url" --body-file "$ROOT/control/bench/decide-request.json" --inflight "$n" --seconds "$seconds" --server-pid "$serve_pid")" ;;
        esac
        echo "$line"
        lines+="$line"$'\n'
      done
    done
    awk -v n="$n" '
      function median(name, key,   i, j, c, v, tmp) { c = 0; for (i = 1; i <= rows; i++) if (label[i] == name) v[++c] = val[i, key];
        for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (v[j] < v[i]) { tmp = v[i]; v[i] = v[j]; v[j] = tmp }
        return c ? v[int((c + 1) / 2)] : 0 }
      function show(name) { printf "  %-16s req_per_s=%d p50_us=%.1f p99_us=%.1f client_cpu_us_per_req=%.1f server_cpu_us_per_req=%.1f\n", name,
        median(name, "req_per_s"), median(name, "p50_us"), median(name, "p99_us"), median(name, "cpu_us_per_req"), median(name, "server_cpu_us_per_req") }
      NF { rows++; label[rows] = $1; for (f = 2; f <= NF; f++) { split($f, kv, "="); val[rows, kv[1]] = kv[2] } }
      END {
        printf "decide %s in flight (medians):\n", n
        show("decide_cp2_grpc"); show("decide_cp2_grpc_stream"); show("decide_cp2_nats"); show("decide_cp1_nats")
        c1 = median("decide_cp1_nats", "req_per_s"); s1 = median("decide_cp1_nats", "server_cpu_us_per_req")
        printf "ratio decide %s in flight, throughput vs cp1_nats (target >= 1.00): cp2_nats %.2f, cp2_grpc %.2f, cp2_grpc_stream %.2f\n", n,
          median("decide_cp2_nats", "req_per_s") / c1, median("decide_cp2_grpc", "req_per_s") / c1, median("decide_cp2_grpc_stream", "req_per_s") / c1
        printf "ratio decide %s in flight, server CPU per request vs cp1_nats (lower is cheaper): cp2_nats %.2f, cp2_grpc %.2f, cp2_grpc_stream %.2f\n", n,
          median("decide_cp2_nats", "server_cpu_us_per_req") / s1, median("decide_cp2_grpc", "server_cpu_us_per_req") / s1, median("decide_cp2_grpc_stream", "server_cpu_us_per_req") / s1
      }' <<<"$lines"
  done
}

# The benchmarks of docs/benchmarks.md, in one run on this machine: the two echo references (the
# nats.c pair and the NATS.Net pair; the faster is "best_echo"), the same traffic through the
# control plane and the CAF worker, CP1 decide over NATS, executors, and in-process P/Invoke.
cmd_bench() {
  cmd_deps
  cmd_build
  local seconds="${BENCH_SECONDS:-5}" inflight="${BENCH_INFLIGHT:-64}" payload="${BENCH_PAYLOAD:-200}"
  if [[ "${1:-}" == gateway ]]; then
    trap stop_bench_processes EXIT
    bench_gateway "$seconds"
    return
  fi
  if [[ "${1:-}" == decide ]]; then
    trap stop_bench_processes EXIT
    bench_cp2_decide "$seconds" "$inflight"
    return
  fi
  if [[ "${1:-}" == telemetry ]]; then
    trap stop_bench_processes EXIT
    bench_telemetry "$seconds"
    return
  fi
  local port url
  port="$(free_port)"
  url="nats://127.0.0.1:$port"
  trap stop_bench_processes EXIT
  nats-server -a 127.0.0.1 -p "$port" >/dev/null 2>&1 & BENCH_PIDS+=($!)
  wait_port "$port"

  log "(1) echo references, $inflight in flight and 1 in flight, $payload-byte payload: nats.c pair, NATS.Net pair"
  local raw raw1 net net1
  raw="$("$ROOT/out/bin/beamline-nats-bench" --nats "$url" --inflight "$inflight" --payload "$payload" --seconds "$seconds")"
  echo "$raw"
  raw1="$("$ROOT/out/bin/beamline-nats-bench" --nats "$url" --inflight 1 --payload "$payload" --seconds "$seconds")"
  echo "$raw1"
  net="$("$ROOT/out/bin/beamline" bench echo --nats "$url" --inflight "$inflight" --payload-bytes "$payload" --seconds "$seconds")"
  echo "$net"
  net1="$("$ROOT/out/bin/beamline" bench echo --nats "$url" --inflight 1 --payload-bytes "$payload" --seconds "$seconds")"
  echo "$net1"
  local best_rps best_p50
  best_rps="$(awk -v a="$(field req_per_s "$raw")" -v b="$(field req_per_s "$net")" 'BEGIN { print (a > b ? a : b) }')"
  best_p50="$(awk -v a="$(field p50_us "$raw1")" -v b="$(field p50_us "$net1")" 'BEGIN { print (a < b ? a : b) }')"
  echo "best_echo req_per_s=$best_rps p50_us_1_inflight=$best_p50"
  RAW_RPS="$(field req_per_s "$raw")"
  BEST_RPS="$best_rps"
  BEST_P50="$best_p50"

  log "(2) echo blocks: C# control plane -> NATS -> CAF worker (pool cpu=$(nproc)), $inflight in flight and 1 in flight"
  "$ROOT/out/bin/beamline-worker" --nats "$url" --worker-id bench-worker --pool "cpu=$(nproc)" >"$ROOT/build/bench-worker.log" 2>&1 & BENCH_PIDS+=($!)
  for _ in $(seq 1 100); do grep -q "beamline-worker ready" "$ROOT/build/bench-worker.log" && break; sleep 0.1; done
  local cs cs1
  cs="$("$ROOT/out/bin/beamline" bench dispatch --nats "$url" --inflight "$inflight" --payload-bytes "$payload" \
        --seconds "$seconds" --name cs_nats_worker_echo)"
  echo "$cs"
  cs1="$("$ROOT/out/bin/beamline" bench dispatch --nats "$url" --inflight 1 --payload-bytes "$payload" \
        --seconds "$seconds" --name cs_nats_worker_echo)"
  echo "$cs1"
  "$ROOT/out/bin/beamline-nats-bench" --nats "$url" --inflight "$inflight" --payload "$payload" --seconds "$seconds" \
    --subject caf.exec.v2.cpu --exec-echo

  awk -v a="$(field req_per_s "$cs")" -v b="$RAW_RPS" 'BEGIN { printf "ratio (2)/(1) = %.2f (target >= 0.50)\n", a / b }'
  awk -v a="$(field req_per_s "$cs")" -v b="$BEST_RPS" 'BEGIN { printf "ratio block_dispatch/best_echo = %.2f\n", a / b }'
  awk -v a="$(field p50_us "$cs1")" -v b="$BEST_P50" 'BEGIN { printf "p50 1 in flight block_dispatch/best_echo = %.2f (target <= 1.5)\n", a / b }'

  bench_executors "$url" "$seconds" "$inflight"
  bench_decide "$url" "$seconds" "$inflight"
  bench_gateway "$seconds"
  bench_telemetry "$seconds"

  log "(3) in-process P/Invoke (BenchmarkDotNet; target: echo < 1 us median)"
  "$ROOT/out/bin/beamline" bench dispatch --inflight 1 --payload-bytes "$payload" --seconds "$seconds" --name cs_inprocess_echo
  (cd "$ROOT/build" && dotnet run -c "$CONFIGURATION" --project "$ROOT/control/bench/Beamline.Benchmarks" -- \
     --filter '*InProcessExec*' '*Decide*' '*UsageLedger*' '*AuditAppend*' '*BanditBenchmarks*' --join "${@}")
}

# The chaos suite (docs/reliability.md): control/bench/chaos/Beamline.Chaos starts its own nats-server
# (JetStream), control planes and workers on loopback per scenario, kills them under load and counts
# every request's answers and executions. Nice'd: it shares the machine with whatever else runs.
# Exit status: 0 when nothing was lost or run twice and service returned in time, 1 otherwise.
cmd_chaos() {
  cmd_deps
  cmd_build
  log "chaos suite (about 3 minutes): the table goes to docs/reliability.md"
  nice dotnet "$ROOT/control/bench/chaos/Beamline.Chaos/bin/$CONFIGURATION/net10.0/Beamline.Chaos.dll" \
    --report "$ROOT/docs/reliability.md" --label "commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" "$@"
}

# libFuzzer targets of tests/native/fuzz (CMake preset "fuzz": clang, ASan + UBSan), each run for
# BEAMLINE_FUZZ_SECONDS (default 60) from its seed corpus; crash inputs land in build/fuzz/artifacts/.
FUZZ_PACKAGES=(clang libclang-rt-dev)

cmd_fuzz() {
  local probe='extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }'
  if ! echo "$probe" | clang++ -x c++ -fsanitize=fuzzer - -o /dev/null >/dev/null 2>&1; then
    if [[ "$(id -u)" == 0 ]]; then
      log "installing: ${FUZZ_PACKAGES[*]}"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${FUZZ_PACKAGES[@]}"
    else
      echo "clang with libFuzzer is required. Run as root: sudo apt-get install -y ${FUZZ_PACKAGES[*]}" >&2
      exit 1
    fi
  fi
  log "fuzz build (CMake preset fuzz)"
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz -j "$(nproc)"
  local seconds="${BEAMLINE_FUZZ_SECONDS:-60}" failed=0 target name corpus
  mkdir -p "$ROOT/build/fuzz/artifacts"
  for target in "$ROOT"/build/fuzz/fuzz/fuzz_*; do
    name="$(basename "$target")"
    corpus="$ROOT/build/fuzz/corpus/${name#fuzz_}"
    mkdir -p "$corpus"
    log "$name for ${seconds}s"
    "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$ROOT/build/fuzz/artifacts/$name-" \
      "$corpus" "$ROOT/tests/native/fuzz/corpus/${name#fuzz_}" || failed=1
  done
  return "$failed"
}

verb="${1:-}"
shift || true
case "$verb" in
  deps) cmd_deps ;;
  build) cmd_deps; cmd_build ;;
  test) cmd_test ;;
  run) cmd_run "$@" ;;
  bench) cmd_bench "$@" ;;
  chaos) cmd_chaos "$@" ;;
  fuzz) cmd_fuzz ;;
  *)
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
