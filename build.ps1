#!/usr/bin/env pwsh
# Beamline build entry point (PowerShell 7, Windows/Linux/macOS). build.sh takes the same verbs.
#
#   ./build.ps1 deps    check/install what the build needs (Debian: apt-get as root; elsewhere vcpkg.json)
#   ./build.ps1 build   native (CMake preset "release", or "vcpkg" when VCPKG_ROOT is set) + C# (Release)
#   ./build.ps1 test    deps + build, then GoogleTest (ctest) and xunit; ends with "N passed, N failed, N skipped"
#   ./build.ps1 run     deps + build, then `beamline serve` with the example configuration (demo key)
#   ./build.ps1 bench   deps + build, then the benchmarks of docs/benchmarks.md (`bench gateway`: only the gateway against Portkey;
#                       `bench telemetry`: only the cost of metrics and tracing on the gateway path;
#                       `bench decide`: decide over CP2 gRPC (unary and DecideStream), CP2 NATS and CP1 NATS side by side)
#   ./build.ps1 chaos   deps + build, then the chaos suite (docs/reliability.md): workers, nats-server and control planes
#                       killed under load; prints sent/answered/lost/executed twice and writes the table; not CI
#                       (extra args go to the harness, e.g. `chaos --scenario nats-restart --core`)
#   ./build.ps1 fuzz    clang + the libFuzzer targets (preset "fuzz"), each run BEAMLINE_FUZZ_SECONDS (60); not CI
param(
    [Parameter(Position = 0)][ValidateSet('deps', 'build', 'test', 'run', 'bench', 'chaos', 'fuzz')][string]$Verb,
    [Parameter(ValueFromRemainingArguments = $true)][string[]]$Rest
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$Root = $PSScriptRoot
$Configuration = if ($env:BEAMLINE_CONFIGURATION) { $env:BEAMLINE_CONFIGURATION } else { 'Release' }
$Results = Join-Path $Root 'build/test-results'
$Preset = if ($env:VCPKG_ROOT) { 'vcpkg' } else { 'release' }
$DebPackages = @('cmake', 'g++', 'pkg-config', 'libcaf-dev', 'libnats-dev', 'nats-server', 'protobuf-compiler',
    'libprotobuf-dev', 'libcurl4-openssl-dev', 'libsqlite3-dev', 'nlohmann-json3-dev', 'zlib1g-dev',
    'libssl-dev', 'libre2-dev', 'libxxhash-dev', 'libgtest-dev',
    'prometheus', # promtool and a Prometheus server: the /metrics tests check the exposition with both
    'chromium', 'fonts-liberation') # the /ui dashboard tests drive the system browser (Playwright, no browser download)

function Log([string]$Message) { Write-Host "==> $Message" -ForegroundColor Cyan }

function Invoke-Checked([string]$File, [string[]]$Arguments) {
    & $File @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$File $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

function Invoke-Deps {
    if (Get-Command dpkg-query -ErrorAction SilentlyContinue) {
        $missing = @($DebPackages | Where-Object {
                (& dpkg-query -W -f='${Status}' $_ 2>$null) -notmatch 'install ok installed' })
        if ($missing.Count -gt 0) {
            if ((& id -u) -eq '0') {
                Log "installing: $($missing -join ' ')"
                $env:DEBIAN_FRONTEND = 'noninteractive'
                Invoke-Checked apt-get @('update', '-q')
                Invoke-Checked apt-get (@('install', '-y', '-q', '--no-install-recommends') + $missing)
            }
            else {
                throw "Missing Debian packages. Run as root: apt-get update && apt-get install -y $($missing -join ' ')"
            }
        }
    }
    elseif (-not $env:VCPKG_ROOT) {
        throw 'Set VCPKG_ROOT: on platforms without Debian packages, vcpkg.json provides the native dependencies.'
    }
    if (-not (Get-Command dotnet -ErrorAction SilentlyContinue)) { throw 'The .NET 10 SDK (dotnet) is required.' }
}

function Invoke-Build {
    Log "native build (CMake preset $Preset)"
    Invoke-Checked cmake @('--preset', $Preset)
    Invoke-Checked cmake @('--build', (Join-Path $Root "build/native$(if ($Preset -eq 'vcpkg') { '-vcpkg' })"), '-j', [Environment]::ProcessorCount)
    Log "control plane (dotnet, $Configuration)"
    Invoke-Checked dotnet @('build', (Join-Path $Root 'Beamline.sln'), '-c', $Configuration, '-nologo', '-v', 'quiet', '-clp:ErrorsOnly')
    Invoke-Checked dotnet @('publish', (Join-Path $Root 'control/src/Beamline.Cli/Beamline.Cli.csproj'), '-c', $Configuration,
        '--no-build', '-o', (Join-Path $Root 'out/control'), '-nologo', '-v', 'quiet')
    if (-not $IsWindows) {
        $wrapper = Join-Path $Root 'out/bin/beamline'
        @'
#!/usr/bin/env bash
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
export BEAMLINE_NATIVE_DIR="${BEAMLINE_NATIVE_DIR:-$here/../lib}"
exec "$here/../control/beamline" "$@"
'@ | Set-Content -NoNewline -Path $wrapper
        & chmod +x $wrapper
    }
}

# Sums GoogleTest (ctest JUnit) and xunit (trx) results into one line, as build.sh's summarize does.
# The line goes to the host (never into the function's output); returns true when no test failed
# and at least one passed. A missing counter attribute counts as 0.
function Write-Summary {
    $passed = 0; $failed = 0; $skipped = 0
    foreach ($file in Get-ChildItem (Join-Path $Results 'native') -Filter *.xml -ErrorAction SilentlyContinue) {
        $suite = ([xml](Get-Content $file.FullName -Raw)).DocumentElement
        $tests = [int]$suite.GetAttribute('tests'); $failures = [int]$suite.GetAttribute('failures'); $skip = [int]$suite.GetAttribute('skipped')
        $passed += $tests - $failures - $skip
        $failed += $failures
        $skipped += $skip
    }
    foreach ($file in Get-ChildItem (Join-Path $Results 'dotnet') -Filter *.trx -ErrorAction SilentlyContinue) {
        $counters = ([xml](Get-Content $file.FullName -Raw)).GetElementsByTagName('Counters') | Select-Object -First 1
        if ($null -eq $counters) { continue }
        $passed += [int]$counters.GetAttribute('passed')
        $failed += [int]$counters.GetAttribute('failed') + [int]$counters.GetAttribute('error')
        $skipped += [int]$counters.GetAttribute('notExecuted')
    }
    Write-Host "$passed passed, $failed failed, $skipped skipped"
    return ($failed -eq 0 -and $passed -gt 0)
}

function Invoke-Test {
    Invoke-Deps; Invoke-Build
    Remove-Item -Recurse -Force $Results -ErrorAction SilentlyContinue
    New-Item -ItemType Directory -Force (Join-Path $Results 'native'), (Join-Path $Results 'dotnet') | Out-Null
    $ok = $true
    Log 'GoogleTest (ctest)'
    & ctest --preset release --output-junit (Join-Path $Results 'native/ctest.xml'); if ($LASTEXITCODE -ne 0) { $ok = $false }
    Log 'xunit (dotnet test)'
    # One project at a time, each with its own trx file (integration tests start real processes).
    foreach ($project in Get-ChildItem (Join-Path $Root 'tests/dotnet/*.Tests/*.Tests.csproj')) {
        & dotnet test $project.FullName -c $Configuration --no-build -nologo --logger "trx;LogFileName=$($project.BaseName).trx" `
            --logger 'console;verbosity=normal' --results-directory (Join-Path $Results 'dotnet'); if ($LASTEXITCODE -ne 0) { $ok = $false }
    }
    # The summary is the last line printed; a failed test, or none passing, fails the run.
    $clean = Write-Summary
    if (-not ($ok -and $clean)) { exit 1 }
}

function Get-FreePort {
    $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    $listener.Start(); $port = $listener.LocalEndpoint.Port; $listener.Stop(); return $port
}

# Executor blocks (cpu.hash 4 KiB, fs.read 4 KiB, sql.query point lookup), in-process and over NATS,
# as build.sh's bench_executors. Returns the worker process it started.
function Invoke-BenchExecutors([string]$Url, [string]$Seconds, [string]$Inflight) {
    $dir = Join-Path $Root 'build/bench'
    Remove-Item -Recurse -Force $dir -ErrorAction SilentlyContinue
    New-Item -ItemType Directory -Force (Join-Path $dir 'sandbox') | Out-Null
    $executors = Join-Path $dir 'executors.json'
    $config = Join-Path $dir 'beamline.json'
    @{ fs = @{ root = (Join-Path $dir 'sandbox') } } | ConvertTo-Json -Compress | Set-Content $executors
    @{ Beamline = @{ InProcess = @{ ExecutorConfigFile = $executors; Pools = @{ cpu = [Environment]::ProcessorCount; io = 16 } } } } |
        ConvertTo-Json -Depth 5 -Compress | Set-Content $config
    $bin = Join-Path $Root 'out/bin'
    $log = Join-Path $dir 'worker.log'
    $worker = Start-Process (Join-Path $bin 'beamline-worker') -ArgumentList @('--nats', $Url, '--worker-id', 'bench-exec-worker',
        '--pool', "cpu=$([Environment]::ProcessorCount)", '--pool', 'io=16', '--executor-config', $executors) -RedirectStandardOutput $log -PassThru
    for ($i = 0; $i -lt 100 -and -not ((Get-Content $log -Raw -ErrorAction SilentlyContinue) -match 'beamline-worker ready'); $i++) {
        Start-Sleep -Milliseconds 100
    }
    $bytes = [byte[]]::new(4096); [System.Security.Cryptography.RandomNumberGenerator]::Fill($bytes)
    $data = [Convert]::ToBase64String($bytes)
    $exec = @('exec', '--config', $config, '--tenant', 'bench', '--pool', 'io')
    & (Join-Path $bin 'beamline') @exec --type fs.write --payload "{`"path`":`"bench/4k.bin`",`"data_base64`":`"$data`",`"parents`":true}" | Out-Null
    & (Join-Path $bin 'beamline') @exec --type sql.exec --payload '{"sql":"CREATE TABLE IF NOT EXISTS kv (k INTEGER PRIMARY KEY, v TEXT)"}' | Out-Null
    & (Join-Path $bin 'beamline') @exec --type sql.exec --payload "{`"sql`":`"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<1000) INSERT OR REPLACE INTO kv SELECT x, 'value-' || x FROM c`"}" | Out-Null
    $cases = @(
        @('cpu_hash_4k', 'cpu.hash', 'cpu', "{`"algorithm`":`"sha256`",`"data_base64`":`"$data`"}"),
        @('fs_read_4k', 'fs.read', 'io', '{"path":"bench/4k.bin"}'),
        @('sql_point_lookup', 'sql.query', 'io', '{"sql":"SELECT v FROM kv WHERE k = ?","params":[500]}'))
    foreach ($c in $cases) {
        Log "executor $($c[1]) ($($c[0])): in-process, then over NATS ($Inflight in flight)"
        & (Join-Path $bin 'beamline') bench dispatch --config $config --tenant bench --type $c[1] --pool $c[2] --payload $c[3] `
            --inflight ([Environment]::ProcessorCount) --seconds $Seconds --name "inprocess_$($c[0])" | Write-Host
        & (Join-Path $bin 'beamline') bench dispatch --nats $Url --tenant bench --type $c[1] --pool $c[2] --payload $c[3] `
            --inflight $Inflight --seconds $Seconds --name "nats_$($c[0])" | Write-Host
    }
    return $worker
}

# CP1 decide over NATS end to end, as build.sh's bench_decide (its own bench tenant: the demo
# tenant is capped at 600 requests per minute). Returns the control plane it started.
function Invoke-BenchDecide([string]$Url, [string]$Seconds, [string]$Inflight, [hashtable]$Ref) {
    $dir = Join-Path $Root 'build/bench'
    New-Item -ItemType Directory -Force $dir | Out-Null
    $config = Join-Path $Root 'control/bench/decide-config.json'
    $httpPort = Get-FreePort
    # The extension-hop policies call NATS.Net echo services (control/bench/extensions/).
    $env:Beamline__Extensions__Directory = Join-Path $Root 'control/bench/extensions'
    try {
        $serve = Start-Process (Join-Path $Root 'out/bin/beamline') -ArgumentList @('serve', '--nats', $Url, '--urls', "http://127.0.0.1:$httpPort",
            '--data-dir', (Join-Path $dir 'data'), '--config', $config) `
            -RedirectStandardOutput (Join-Path $dir 'serve.log') -PassThru
    }
    finally { Remove-Item Env:Beamline__Extensions__Directory }
    $responder = Start-Process (Join-Path $Root 'out/bin/beamline') -ArgumentList @('bench', 'responder', '--nats', $Url, '--subject',
        'beamline.ext.pre.bench_pre.v1', 'beamline.ext.validate.bench_validate_1.v1', 'beamline.ext.validate.bench_validate_2.v1',
        'beamline.ext.validate.bench_validate_3.v1') -RedirectStandardOutput (Join-Path $dir 'responder.log') -PassThru
    for ($i = 0; $i -lt 100; $i++) {
        if ((Test-Path (Join-Path $dir 'responder.log')) -and (Select-String -Quiet 'responder ready' (Join-Path $dir 'responder.log'))) { break }
        Start-Sleep -Milliseconds 100
    }
    for ($i = 0; $i -lt 200; $i++) {
        try { $c = [System.Net.Sockets.TcpClient]::new('127.0.0.1', $httpPort); $c.Dispose(); break } catch { Start-Sleep -Milliseconds 50 }
    }
    $body = Join-Path $Root 'control/bench/decide-request.json'
    Log "CP1 decide over NATS (C requester -> beamline serve), $Inflight in flight and 1 in flight"
    $decide = & (Join-Path $Root 'out/bin/beamline-nats-bench') --nats $Url --inflight $Inflight --seconds $Seconds `
        --subject beamline.router.v1.decide --body-file $body --expect '"ok":true'
    Write-Host $decide
    $decide1 = & (Join-Path $Root 'out/bin/beamline-nats-bench') --nats $Url --inflight 1 --seconds $Seconds `
        --subject beamline.router.v1.decide --body-file $body --expect '"ok":true'
    Write-Host $decide1
    $netDecide = & (Join-Path $Root 'out/bin/beamline') bench request --nats $Url --inflight $Inflight --seconds $Seconds `
        --subject beamline.router.v1.decide --body-file $body --expect '"ok":true' --name dotnet_to_decide
    Write-Host $netDecide
    $netDecide1 = & (Join-Path $Root 'out/bin/beamline') bench request --nats $Url --inflight 1 --seconds $Seconds `
        --subject beamline.router.v1.decide --body-file $body --expect '"ok":true' --name dotnet_to_decide
    Write-Host $netDecide1
    Write-Host ('ratio decide/(1) = {0:F2} (target >= 0.50)' -f ((Get-Field $decide 'req_per_s') / $Ref.RawRps))
    $bestDecide = [Math]::Max((Get-Field $decide 'req_per_s'), (Get-Field $netDecide 'req_per_s'))
    $bestDecideP50 = [Math]::Min((Get-Field $decide1 'p50_us'), (Get-Field $netDecide1 'p50_us'))
    Write-Host ('ratio decide/best_echo = {0:F2}' -f ($bestDecide / $Ref.BestRps))
    Write-Host ('p50 1 in flight decide/best_echo = {0:F2} (target <= 1.5)' -f ($bestDecideP50 / $Ref.BestP50))
    # One pre and one validator (2 hops), and one pre with three concurrent validators (still 2 hops).
    foreach ($policy in 'ext_pre_validator', 'ext_pre_3validators') {
        $extBody = Join-Path $dir "decide-$policy.json"
        (Get-Content -Raw $body).Replace('"policy_id":"default"', "`"policy_id`":`"$policy`"") | Set-Content -NoNewline $extBody
        Log "CP1 decide over NATS with extensions ($policy), 1 and $Inflight in flight"
        $out1 = & (Join-Path $Root 'out/bin/beamline') bench request --nats $Url --inflight 1 --seconds $Seconds `
            --subject beamline.router.v1.decide --body-file $extBody --expect '"ok":true' --name "decide_$policy"
        Write-Host $out1
        $out = & (Join-Path $Root 'out/bin/beamline') bench request --nats $Url --inflight $Inflight --seconds $Seconds `
            --subject beamline.router.v1.decide --body-file $extBody --expect '"ok":true' --name "decide_$policy"
        Write-Host $out
        $perHop1 = ((Get-Field $out1 'p50_us') - (Get-Field $netDecide1 'p50_us')) / 2
        $perHop = ((Get-Field $out 'p50_us') - (Get-Field $netDecide 'p50_us')) / 2
        Write-Host ('extension hop {0}: added p50 per hop (1 in flight) = {1:F0} us = {2:F2} best-echo round trips (target <= 1.2)' -f $policy, $perHop1, ($perHop1 / $Ref.BestP50))
        Write-Host ('extension hop {0}: added p50 per hop ({1} in flight) = {2:F0} us' -f $policy, $Inflight, $perHop)
    }
    return @($serve, $responder)
}

# The gateway against Portkey, as build.sh's bench_gateway: a mock OpenAI upstream on loopback called
# directly, through Portkey 1.15.2 (npm, --headless) and through `beamline serve`, at 1 and 16
# connections, whole and streamed; overhead = via - direct. Returns the processes it started.
function Invoke-BenchGateway([string]$Seconds) {
    foreach ($tool in 'node', 'npm') {
        if (-not (Get-Command $tool -ErrorAction SilentlyContinue)) { throw 'The gateway benchmark needs node (20 or later) and npm.' }
    }
    $dir = Join-Path $Root 'build/bench-gateway'
    $bench = Join-Path $Root 'control/bench/gateway'
    $warm = if ($env:BENCH_GATEWAY_WARMUP) { $env:BENCH_GATEWAY_WARMUP } else { '3' }
    Remove-Item -Recurse -Force $dir -ErrorAction SilentlyContinue
    New-Item -ItemType Directory -Force $dir | Out-Null
    Log 'gateway: npm ci (Portkey, autocannon) in control/bench/gateway'
    Push-Location $bench
    try { Invoke-Checked npm @('ci', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error') | Out-Null }
    finally { Pop-Location }

    $started = @()
    # A failure stops what this function started; on success the caller stops it.
    try {
        $mockPort = Get-FreePort
        $started += Start-Process node -ArgumentList @((Join-Path $bench 'mock-upstream.mjs'), '--port', $mockPort) `
            -RedirectStandardOutput (Join-Path $dir 'mock.log') -RedirectStandardError (Join-Path $dir 'mock.err.log') -PassThru
        Wait-Port $mockPort 1200
        $pkPort = Get-FreePort
        $portkey = Start-Process node -ArgumentList @((Join-Path $bench 'node_modules/@portkey-ai/gateway/build/start-server.js'), "--port=$pkPort", '--headless') `
            -RedirectStandardOutput (Join-Path $dir 'portkey.log') -RedirectStandardError (Join-Path $dir 'portkey.err.log') -PassThru
        $started += $portkey
        Wait-Port $pkPort 1200
        $blPort = Get-FreePort
        # The provider's base_url (the mock on loopback) is a trusted destination: no allow-list needed.
        $env:BENCH_UPSTREAM_URL = "http://127.0.0.1:$mockPort/v1"
        $env:BENCH_UPSTREAM_KEY = 'sk-bench'
        try {
            $serve = Start-Process (Join-Path $Root 'out/bin/beamline') -ArgumentList @('serve', '--config', (Join-Path $bench 'beamline.json'),
                '--urls', "http://127.0.0.1:$blPort", '--data-dir', (Join-Path $dir 'data')) -RedirectStandardOutput (Join-Path $dir 'serve.log') -PassThru
        }
        finally { Remove-Item Env:BENCH_UPSTREAM_URL, Env:BENCH_UPSTREAM_KEY }
        $started += $serve
        # A first start creates the tenancy database: on a loaded machine that can take more than 10 s.
        Wait-Port $blPort 1200

        $targets = [ordered]@{
            direct = @{ Url = "http://127.0.0.1:$mockPort/v1/chat/completions"; Process = $null; Headers = @() }
            portkey = @{ Url = "http://127.0.0.1:$pkPort/v1/chat/completions"; Process = $portkey
                Headers = @('--header', 'x-portkey-provider: openai', '--header', "x-portkey-custom-host: http://127.0.0.1:$mockPort/v1",
                    '--header', 'authorization: Bearer sk-bench') }
            beamline = @{ Url = "http://127.0.0.1:$blPort/v1/chat/completions"; Process = $serve
                Headers = @('--header', 'authorization: Bearer bl_gwbench_HzkXZldHOaTv1OlnmftTNg7Q5-gMLaD0_zPsB7etegw') }
        }
        $load = Join-Path $bench 'load.mjs'
        foreach ($name in $targets.Keys) {
            Log "gateway: warm-up of $name ($warm s whole, $warm s streamed, 16 connections)"
            $t = $targets[$name]
            foreach ($mode in 'whole', 'stream') {
                & node $load --url $t.Url --mode $mode --connections 16 --seconds $warm --warmup 0 --name warmup @($t.Headers) | Out-Null
            }
        }
        # Each figure is taken for the three paths back to back, so that they share the machine's state.
        $out = @{}
        foreach ($c in 1, 16) {
            foreach ($mode in 'whole', 'stream') {
                Log "gateway: $mode, $c connection(s): direct, Portkey, Beamline"
                foreach ($name in $targets.Keys) {
                    $t = $targets[$name]
                    & node $load --url $t.Url --mode $mode --connections $c --seconds 1 --warmup 0 --name warmup @($t.Headers) | Out-Null
                    if ($t.Process) { $t.Process.Refresh(); $cpu0 = $t.Process.TotalProcessorTime }
                    $line = & node $load --url $t.Url --mode $mode --connections $c --seconds $Seconds --warmup 0 --name "gateway_${name}_$mode" @($t.Headers)
                    if ($t.Process) {
                        # The gateway process's CPU over the measured window, per request answered.
                        $t.Process.Refresh()
                        $cpu = ($t.Process.TotalProcessorTime - $cpu0).TotalMilliseconds * 1000 / (Get-Field $line 'requests')
                        $line = '{0} server_cpu_us_per_req={1:F0} server_threads={2}' -f $line, $cpu, $t.Process.Threads.Count
                    }
                    Write-Host $line
                    $out["${name}_${mode}_$c"] = $line
                }
            }
        }

        foreach ($c in 1, 16) {
            foreach ($gw in 'portkey', 'beamline') {
                $w = $out["${gw}_whole_$c"]; $dw = $out["direct_whole_$c"]; $s = $out["${gw}_stream_$c"]; $ds = $out["direct_stream_$c"]
                Write-Host ('gateway overhead {0} connections={1} whole_p50_us={2:F0} whole_p99_us={3:F0} ttfb_p50_us={4:F0} ttfb_p99_us={5:F0}' -f $gw, $c,
                    ((Get-Field $w 'p50_us') - (Get-Field $dw 'p50_us')), ((Get-Field $w 'p99_us') - (Get-Field $dw 'p99_us')),
                    ((Get-Field $s 'ttfb_p50_us') - (Get-Field $ds 'ttfb_p50_us')), ((Get-Field $s 'ttfb_p99_us') - (Get-Field $ds 'ttfb_p99_us')))
            }
        }
        $d99 = Get-Field $out['direct_whole_1'] 'p99_us'
        $b99 = (Get-Field $out['beamline_whole_1'] 'p99_us') - $d99
        $p99 = (Get-Field $out['portkey_whole_1'] 'p99_us') - $d99
        Write-Host ('ratio gateway p99 overhead beamline/portkey (1 connection) = {0:F3} (target <= 0.10)' -f ($b99 / $p99))
        Write-Host ('ratio gateway p99 overhead beamline/0.5 ms (1 connection) = {0:F2} (target < 1: {1:F0} us)' -f ($b99 / 500), $b99)
        Write-Host ('ratio gateway req_per_s beamline/portkey (16 connections) = {0:F1} (target >= 5)' -f
            ((Get-Field $out['beamline_whole_16'] 'req_per_s') / (Get-Field $out['portkey_whole_16'] 'req_per_s')))
        $dt = Get-Field $out['direct_stream_1'] 'ttfb_p99_us'
        $bt = (Get-Field $out['beamline_stream_1'] 'ttfb_p99_us') - $dt
        $pt = (Get-Field $out['portkey_stream_1'] 'ttfb_p99_us') - $dt
        $bt50 = (Get-Field $out['beamline_stream_1'] 'ttfb_p50_us') - (Get-Field $out['direct_stream_1'] 'ttfb_p50_us')
        Write-Host ('ratio gateway ttfb overhead beamline/0.5 ms (1 connection) = {0:F2} p99, {1:F2} p50 (target < 1: {2:F0} us p99, {3:F0} us p50)' -f
            ($bt / 500), ($bt50 / 500), $bt, $bt50)
        Write-Host ('ratio gateway ttfb p99 overhead beamline/portkey (1 connection) = {0:F3}' -f ($bt / $pt))
        # The mock upstream must not be what limits a gateway: its direct rate against the gateways'.
        Write-Host ('ratio gateway req_per_s direct/beamline (16 connections) = {0:F1} (the mock is not the limit when > 1.5)' -f
            ((Get-Field $out['direct_whole_16'] 'req_per_s') / (Get-Field $out['beamline_whole_16'] 'req_per_s')))
    }
    catch {
        foreach ($p in $started) { Stop-Process -Id $p.Id -ErrorAction SilentlyContinue }
        throw
    }
    return $started
}

# The cost of telemetry on the gateway path, as build.sh's bench_telemetry: one mock upstream, two
# `beamline serve` — off (metrics disabled, no exporter) and on (metrics scraped every 5 s, tracing at
# 10 % over OTLP/HTTP to a sink) — four rounds at 1 and 16 connections, alternating which goes
# first, a pause before each run; loss = 1 - geometric mean of the on/off ratios. Returns the processes.
function Invoke-BenchTelemetry([string]$Seconds) {
    foreach ($tool in 'node', 'npm') {
        if (-not (Get-Command $tool -ErrorAction SilentlyContinue)) { throw 'The telemetry benchmark needs node (20 or later) and npm.' }
    }
    $dir = Join-Path $Root 'build/bench-telemetry'
    $bench = Join-Path $Root 'control/bench/gateway'
    Remove-Item -Recurse -Force $dir -ErrorAction SilentlyContinue
    New-Item -ItemType Directory -Force $dir | Out-Null
    Log 'telemetry: npm ci (autocannon) in control/bench/gateway'
    Push-Location $bench
    try { Invoke-Checked npm @('ci', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error') | Out-Null }
    finally { Pop-Location }
    $started = @()
    try {
        $mockPort = Get-FreePort
        $started += Start-Process node -ArgumentList @((Join-Path $bench 'mock-upstream.mjs'), '--port', $mockPort) `
            -RedirectStandardOutput (Join-Path $dir 'mock.log') -RedirectStandardError (Join-Path $dir 'mock.err.log') -PassThru
        Wait-Port $mockPort 1200
        $sinkPort = Get-FreePort
        $started += Start-Process node -ArgumentList @((Join-Path $bench 'otlp-sink.mjs'), '--port', $sinkPort) `
            -RedirectStandardOutput (Join-Path $dir 'sink.log') -RedirectStandardError (Join-Path $dir 'sink.err.log') -PassThru
        Wait-Port $sinkPort 1200
        $urls = @{}
        $sides = [ordered]@{
            off = @{ Beamline__Metrics__Enabled = 'false' }
            on = @{ OTEL_EXPORTER_OTLP_ENDPOINT = "http://127.0.0.1:$sinkPort"; OTEL_EXPORTER_OTLP_PROTOCOL = 'http/protobuf'; Beamline__Tracing__SampleRatio = '0.1' }
        }
        foreach ($side in $sides.Keys) {
            $port = Get-FreePort
            $vars = $sides[$side] + @{ BENCH_UPSTREAM_URL = "http://127.0.0.1:$mockPort/v1"; BENCH_UPSTREAM_KEY = 'sk-bench' }
            foreach ($k in $vars.Keys) { Set-Item "Env:$k" $vars[$k] }
            try {
                $started += Start-Process (Join-Path $Root 'out/bin/beamline') -ArgumentList @('serve', '--config', (Join-Path $bench 'beamline.json'),
                    '--urls', "http://127.0.0.1:$port", '--data-dir', (Join-Path $dir "data-$side")) -RedirectStandardOutput (Join-Path $dir "serve-$side.log") -PassThru
            }
            finally { foreach ($k in $vars.Keys) { Remove-Item "Env:$k" } }
            Wait-Port $port 1200
            $urls[$side] = "http://127.0.0.1:$port/v1/chat/completions"
        }
        $onMetrics = $urls['on'] -replace '/v1/chat/completions$', '/metrics'
        $scrape = Start-Job -ScriptBlock { param($u) while ($true) { try { Invoke-WebRequest -Uri $u -UseBasicParsing | Out-Null } catch { }; Start-Sleep -Seconds 5 } } -ArgumentList $onMetrics
        $load = Join-Path $bench 'load.mjs'
        $auth = @('--header', 'authorization: Bearer bl_gwbench_HzkXZldHOaTv1OlnmftTNg7Q5-gMLaD0_zPsB7etegw')
        try {
            foreach ($side in 'off', 'on') {
                Log "telemetry: warm-up of $side (3 s, 16 connections)"
                & node $load --url $urls[$side] --mode whole --connections 16 --seconds 3 --warmup 0 --name warmup @auth | Out-Null
            }
            $runs = @{}
            $ratios = @{ 1 = @(); 16 = @() }
            foreach ($round in 1..4) {
                foreach ($c in 1, 16) {
                    $order = if ($round % 2 -eq 0) { @('on', 'off') } else { @('off', 'on') }
                    $last = @{}
                    foreach ($side in $order) {
                        Start-Sleep -Seconds 3
                        $line = & node $load --url $urls[$side] --mode whole --connections $c --seconds $Seconds --warmup 1 --name "telemetry_$side" @auth
                        Write-Host "round ${round}: $line"
                        $runs["${side}_$c"] += @($line)
                        $last[$side] = Get-Field $line 'req_per_s'
                    }
                    $ratios[$c] += @($last['on'] / $last['off'])
                }
            }
            foreach ($c in 1, 16) {
                $g = [math]::Exp((($ratios[$c] | ForEach-Object { [math]::Log($_) }) | Measure-Object -Average).Average)
                $median = { param($lines, $f) $v = @($lines | ForEach-Object { Get-Field $_ $f } | Sort-Object); ($v[[int][math]::Floor(($v.Count - 1) / 2)] + $v[[int][math]::Ceiling(($v.Count - 1) / 2)]) / 2 }
                Write-Host ('telemetry connections={0} loss={1:F1}% (target <= 5%; geometric mean of the rounds) off_req_per_s={2:F0} on_req_per_s={3:F0} off_p50_us={4:F0} on_p50_us={5:F0} off_p99_us={6:F0} on_p99_us={7:F0}' -f
                    $c, ((1 - $g) * 100), (& $median $runs["off_$c"] 'req_per_s'), (& $median $runs["on_$c"] 'req_per_s'),
                    (& $median $runs["off_$c"] 'p50_us'), (& $median $runs["on_$c"] 'p50_us'), (& $median $runs["off_$c"] 'p99_us'), (& $median $runs["on_$c"] 'p99_us'))
            }
        }
        finally { Stop-Job $scrape -ErrorAction SilentlyContinue; Remove-Job $scrape -Force -ErrorAction SilentlyContinue }
    }
    catch {
        foreach ($p in $started) { Stop-Process -Id $p.Id -ErrorAction SilentlyContinue }
        throw
    }
    return $started
}

# Waits until something listens on the port: up to $Tries tries 50 ms apart (default 200: 10 s).
function Wait-Port([int]$Port, [int]$Tries = 200) {
    for ($i = 0; $i -lt $Tries; $i++) {
        try { $c = [System.Net.Sockets.TcpClient]::new('127.0.0.1', $Port); $c.Dispose(); return } catch { Start-Sleep -Milliseconds 50 }
    }
    throw "nothing listens on port $Port"
}

function Get-Field([string]$Line, [string]$Name) { [double]([regex]::Match($Line, " $Name=([0-9.]+)").Groups[1].Value) }

# Decide over the four faces in one run, as build.sh's bench_cp2_decide: one nats-server, one control
# plane with gRPC on, the same tenant, policy and request; CP2 gRPC unary and DecideStream, CP2 NATS,
# CP1 NATS alternate over BENCH_ROUNDS rounds (3); each ratio compares medians, and each line has the
# server's CPU per request (the serve process's CPU time over the measured window).
function Invoke-BenchCp2Decide([string]$Seconds, [string]$Inflight) {
    $dir = Join-Path $Root 'build/bench-cp2'
    New-Item -ItemType Directory -Force $dir | Out-Null
    $beamline = Join-Path $Root 'out/bin/beamline'
    $port = Get-FreePort; $url = "nats://127.0.0.1:$port"
    $nats = Start-Process nats-server -ArgumentList @('-a', '127.0.0.1', '-p', $port) -PassThru
    $httpPort = Get-FreePort; $grpcPort = Get-FreePort
    $serve = Start-Process $beamline -ArgumentList @('serve', '--nats', $url, '--urls', "http://127.0.0.1:$httpPort", '--grpc-urls', "http://127.0.0.1:$grpcPort",
        '--data-dir', (Join-Path $dir 'data'), '--config', (Join-Path $Root 'control/bench/decide-config.json')) `
        -RedirectStandardOutput (Join-Path $dir 'serve.log') -PassThru
    try {
        foreach ($p in $httpPort, $grpcPort) {
            for ($i = 0; $i -lt 200; $i++) {
                try { $c = [System.Net.Sockets.TcpClient]::new('127.0.0.1', $p); $c.Dispose(); break } catch { Start-Sleep -Milliseconds 50 }
            }
        }
        $key = 'bl_bench_Zb7Kq2Xw9Lm4Np6Rt8Vy1Cd3Fg5Hj0Ks2Qa4We6Ty8U'
        $rounds = if ($env:BENCH_ROUNDS) { [int]$env:BENCH_ROUNDS } else { 3 }
        $transports = 'cp2-grpc', 'cp2-grpc-stream', 'cp2-nats', 'cp1-nats'
        $arguments = @{
            'cp2-grpc' = @('--grpc', "http://127.0.0.1:$grpcPort", '--key', $key)
            'cp2-grpc-stream' = @('--grpc', "http://127.0.0.1:$grpcPort", '--key', $key)
            'cp2-nats' = @('--nats', $url, '--tenant', 'tenant_bench')
            'cp1-nats' = @('--nats', $url, '--body-file', (Join-Path $Root 'control/bench/decide-request.json'))
        }
        Log ('load average: ' + $(if (Test-Path /proc/loadavg) { (Get-Content /proc/loadavg).Split(' ')[0..2] -join ' ' } else { 'n/a' }))
        foreach ($n in $Inflight, '1') {
            Log "decide, $n in flight, $rounds rounds: CP2 gRPC, CP2 gRPC stream, CP2 NATS, CP1 NATS (beamline bench decide -> beamline serve)"
            $lines = @{}
            foreach ($t in $transports) { $lines[$t] = @() }
            for ($r = 0; $r -lt $rounds; $r++) {
                foreach ($t in $transports) {
                    $line = & $beamline bench decide --transport $t @($arguments[$t]) --inflight $n --seconds $Seconds --server-pid $serve.Id
                    Write-Host $line
                    $lines[$t] += $line
                }
            }
            $median = { param($t, $f) $v = @($lines[$t] | ForEach-Object { Get-Field $_ $f } | Sort-Object); $v[[int][Math]::Floor(($v.Count - 1) / 2)] }
            Write-Host "decide $n in flight (medians):"
            foreach ($t in $transports) {
                Write-Host ('  {0,-16} req_per_s={1:F0} p50_us={2:F1} p99_us={3:F1} client_cpu_us_per_req={4:F1} server_cpu_us_per_req={5:F1}' -f ('decide_' + $t.Replace('-', '_')),
                    (& $median $t 'req_per_s'), (& $median $t 'p50_us'), (& $median $t 'p99_us'), (& $median $t 'cpu_us_per_req'), (& $median $t 'server_cpu_us_per_req'))
            }
            $c1 = & $median 'cp1-nats' 'req_per_s'; $s1 = & $median 'cp1-nats' 'server_cpu_us_per_req'
            Write-Host ('ratio decide {0} in flight, throughput vs cp1_nats (target >= 1.00): cp2_nats {1:F2}, cp2_grpc {2:F2}, cp2_grpc_stream {3:F2}' -f $n,
                ((& $median 'cp2-nats' 'req_per_s') / $c1), ((& $median 'cp2-grpc' 'req_per_s') / $c1), ((& $median 'cp2-grpc-stream' 'req_per_s') / $c1))
            Write-Host ('ratio decide {0} in flight, server CPU per request vs cp1_nats (lower is cheaper): cp2_nats {1:F2}, cp2_grpc {2:F2}, cp2_grpc_stream {3:F2}' -f $n,
                ((& $median 'cp2-nats' 'server_cpu_us_per_req') / $s1), ((& $median 'cp2-grpc' 'server_cpu_us_per_req') / $s1), ((& $median 'cp2-grpc-stream' 'server_cpu_us_per_req') / $s1))
        }
    }
    finally { foreach ($p in $serve, $nats) { Stop-Process -Id $p.Id -ErrorAction SilentlyContinue } }
}

function Invoke-Bench {
    Invoke-Deps; Invoke-Build
    $seconds = if ($env:BENCH_SECONDS) { $env:BENCH_SECONDS } else { '5' }
    if ($Rest -and $Rest[0] -eq 'gateway') {
        $started = @()
        try { $started = Invoke-BenchGateway $seconds }
        finally { foreach ($p in $started) { Stop-Process -Id $p.Id -ErrorAction SilentlyContinue } }
        return
    }
    if ($Rest -and $Rest[0] -eq 'decide') {
        Invoke-BenchCp2Decide $seconds $(if ($env:BENCH_INFLIGHT) { $env:BENCH_INFLIGHT } else { '64' })
        return
    }
    if ($Rest -and $Rest[0] -eq 'telemetry') {
        $started = @()
        try { $started = Invoke-BenchTelemetry $seconds }
        finally { foreach ($p in $started) { Stop-Process -Id $p.Id -ErrorAction SilentlyContinue } }
        return
    }
    $inflight = if ($env:BENCH_INFLIGHT) { $env:BENCH_INFLIGHT } else { '64' }
    $payload = if ($env:BENCH_PAYLOAD) { $env:BENCH_PAYLOAD } else { '200' }
    $bin = Join-Path $Root 'out/bin'
    $port = Get-FreePort; $url = "nats://127.0.0.1:$port"
    $server = Start-Process nats-server -ArgumentList @('-a', '127.0.0.1', '-p', $port) -PassThru
    $worker = $null
    $others = @()
    try {
        Start-Sleep -Milliseconds 500
        Log "(1) echo references, $inflight in flight and 1 in flight, $payload-byte payload: nats.c pair, NATS.Net pair"
        $raw = & (Join-Path $bin 'beamline-nats-bench') --nats $url --inflight $inflight --payload $payload --seconds $seconds
        Write-Output $raw
        $raw1 = & (Join-Path $bin 'beamline-nats-bench') --nats $url --inflight 1 --payload $payload --seconds $seconds
        Write-Output $raw1
        $net = & (Join-Path $bin 'beamline') bench echo --nats $url --inflight $inflight --payload-bytes $payload --seconds $seconds
        Write-Output $net
        $net1 = & (Join-Path $bin 'beamline') bench echo --nats $url --inflight 1 --payload-bytes $payload --seconds $seconds
        Write-Output $net1
        $ref = @{
            RawRps = (Get-Field $raw 'req_per_s')
            BestRps = [Math]::Max((Get-Field $raw 'req_per_s'), (Get-Field $net 'req_per_s'))
            BestP50 = [Math]::Min((Get-Field $raw1 'p50_us'), (Get-Field $net1 'p50_us'))
        }
        Write-Output ('best_echo req_per_s={0} p50_us_1_inflight={1}' -f $ref.BestRps, $ref.BestP50)
        Log '(2) echo blocks: C# control plane -> NATS -> CAF worker, 64 in flight and 1 in flight'
        $log = Join-Path $Root 'build/bench-worker.log'
        $worker = Start-Process (Join-Path $bin 'beamline-worker') -ArgumentList @('--nats', $url, '--worker-id', 'bench-worker',
            '--pool', "cpu=$([Environment]::ProcessorCount)") -RedirectStandardOutput $log -PassThru
        for ($i = 0; $i -lt 100 -and -not ((Get-Content $log -Raw -ErrorAction SilentlyContinue) -match 'beamline-worker ready'); $i++) {
            Start-Sleep -Milliseconds 100
        }
        $cs = & (Join-Path $bin 'beamline') bench dispatch --nats $url --inflight $inflight --payload-bytes $payload `
            --seconds $seconds --name cs_nats_worker_echo
        Write-Output $cs
        $cs1 = & (Join-Path $bin 'beamline') bench dispatch --nats $url --inflight 1 --payload-bytes $payload `
            --seconds $seconds --name cs_nats_worker_echo
        Write-Output $cs1
        & (Join-Path $bin 'beamline-nats-bench') --nats $url --inflight $inflight --payload $payload --seconds $seconds `
            --subject caf.exec.v2.cpu --exec-echo
        Write-Output ('ratio (2)/(1) = {0:F2} (target >= 0.50)' -f ((Get-Field $cs 'req_per_s') / $ref.RawRps))
        Write-Output ('ratio block_dispatch/best_echo = {0:F2}' -f ((Get-Field $cs 'req_per_s') / $ref.BestRps))
        Write-Output ('p50 1 in flight block_dispatch/best_echo = {0:F2} (target <= 1.5)' -f ((Get-Field $cs1 'p50_us') / $ref.BestP50))
        $others += Invoke-BenchExecutors $url $seconds $inflight
        $others += Invoke-BenchDecide $url $seconds $inflight $ref
        $others += Invoke-BenchGateway $seconds
        $others += Invoke-BenchTelemetry $seconds
        Log '(3) in-process P/Invoke (BenchmarkDotNet; target: echo < 1 us median)'
        & (Join-Path $bin 'beamline') bench dispatch --inflight 1 --payload-bytes $payload --seconds $seconds --name cs_inprocess_echo
        Push-Location (Join-Path $Root 'build')
        try { Invoke-Checked dotnet (@('run', '-c', $Configuration, '--project', (Join-Path $Root 'control/bench/Beamline.Benchmarks'), '--',
                    '--filter', '*InProcessExec*', '*Decide*', '*UsageLedger*', '*AuditAppend*', '*BanditBenchmarks*', '--join') + $Rest) }
        finally { Pop-Location }
    }
    finally {
        if ($worker) { Stop-Process -Id $worker.Id -ErrorAction SilentlyContinue }
        foreach ($p in $others) { Stop-Process -Id $p.Id -ErrorAction SilentlyContinue }
        Stop-Process -Id $server.Id -ErrorAction SilentlyContinue
    }
}

# The chaos suite, as build.sh's cmd_chaos: the harness starts and kills its own processes per
# scenario and writes the table into docs/reliability.md; its exit status is the verdict.
function Invoke-Chaos {
    Invoke-Deps; Invoke-Build
    Log 'chaos suite (about 3 minutes): the table goes to docs/reliability.md'
    & dotnet (Join-Path $Root "control/bench/chaos/Beamline.Chaos/bin/$Configuration/net10.0/Beamline.Chaos.dll") `
        --report (Join-Path $Root 'docs/reliability.md') --label "commit $(git -C $Root rev-parse --short HEAD)" @Rest
    exit $LASTEXITCODE
}

# libFuzzer targets of tests/native/fuzz (CMake preset "fuzz": clang, ASan + UBSan), each run for
# BEAMLINE_FUZZ_SECONDS (default 60) from its seed corpus; crash inputs land in build/fuzz/artifacts/.
function Invoke-Fuzz {
    $probe = 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }'
    $probeFile = Join-Path ([IO.Path]::GetTempPath()) 'beamline-fuzz-probe.cpp'
    Set-Content -Path $probeFile -Value $probe
    & clang++ -fsanitize=fuzzer $probeFile -o ([IO.Path]::ChangeExtension($probeFile, '.out')) 2>$null
    if ($LASTEXITCODE -ne 0) {
        $packages = @('clang', 'libclang-rt-dev')
        if ($IsLinux -and (& id -u) -eq '0') {
            Log "installing: $($packages -join ' ')"
            $env:DEBIAN_FRONTEND = 'noninteractive'
            Invoke-Checked apt-get (@('install', '-y', '-q') + $packages)
        } else {
            throw "clang with libFuzzer is required (Debian: sudo apt-get install -y $($packages -join ' '))"
        }
    }
    Log 'fuzz build (CMake preset fuzz)'
    Invoke-Checked cmake @('--preset', 'fuzz')
    Invoke-Checked cmake @('--build', '--preset', 'fuzz', '-j', [Environment]::ProcessorCount)
    $seconds = if ($env:BEAMLINE_FUZZ_SECONDS) { $env:BEAMLINE_FUZZ_SECONDS } else { '60' }
    $artifacts = Join-Path $Root 'build/fuzz/artifacts'
    New-Item -ItemType Directory -Force $artifacts | Out-Null
    $failed = $false
    foreach ($target in Get-ChildItem (Join-Path $Root 'build/fuzz/fuzz') -Filter 'fuzz_*') {
        $name = $target.BaseName
        $corpus = Join-Path $Root "build/fuzz/corpus/$($name.Substring(5))"
        New-Item -ItemType Directory -Force $corpus | Out-Null
        Log "$name for ${seconds}s"
        & $target.FullName "-max_total_time=$seconds" '-timeout=10' '-rss_limit_mb=2048' '-print_final_stats=1' `
            "-artifact_prefix=$artifacts/$name-" $corpus (Join-Path $Root "tests/native/fuzz/corpus/$($name.Substring(5))")
        if ($LASTEXITCODE -ne 0) { $failed = $true }
    }
    if ($failed) { exit 1 }
}

switch ($Verb) {
    'deps' { Invoke-Deps }
    'build' { Invoke-Deps; Invoke-Build }
    'test' { Invoke-Test }
    'run' { Invoke-Deps; Invoke-Build; & (Join-Path $Root $(if ($IsWindows) { 'out/control/beamline.exe' } else { 'out/bin/beamline' })) serve --config (Join-Path $Root 'control/src/Beamline.Cli/examples/beamline.example.json') --data-dir (Join-Path $Root 'build/data') @Rest; exit $LASTEXITCODE }
    'bench' { Invoke-Bench }
    'chaos' { Invoke-Chaos }
    'fuzz' { Invoke-Fuzz }
    default { Get-Content $PSCommandPath | Select-Object -Skip 1 -First 12 | ForEach-Object { $_ -replace '^# ?', '' }; exit 2 }
}
