#!/usr/bin/env bash
# Benchmarks the services (release build): wrk on loopback for DURATION seconds against
#   - Greet directly on greeter (greeter → caller → custom-lang /healthz, two inserts),
#   - InvokeCustom on gateway (gateway → custom-lang /invoke, two inserts),
#   - the peer in the same run: custom-lang's REST POST /invoke alone (one insert) — the cost of
#     one Hummingbird request with one database write, without Connect or a downstream call;
# printing req/s, p50 and p99, and each service's RSS idle (after start) and under load.
# Its own PostgreSQL and free ports in a temp folder; not a test. Needs wrk (Debian `wrk`).
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${DURATION:-10}
connections=${CONNECTIONS:-32}
command -v wrk >/dev/null || { echo "bench/services.sh needs wrk: apt-get install -y wrk" >&2; exit 1; }

# STATIC=1: the Swift runtime and Foundation linked in (--static-swift-stdlib, as a container
# image would ship it); else the default dynamically linked release build.
if [ "${STATIC:-0}" = 1 ]; then build=(env RELEASE_SCRATCH=.build-static bash scripts/release-build.sh --static-swift-stdlib); else build=(bash scripts/release-build.sh); fi
"${build[@]}" --product devctl >/dev/null
devctl=$("${build[@]}" --show-bin-path)/devctl
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_mb() { awk '/^VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
# PSS: shared pages (the one devctl binary and libraries all services map) divided among them.
pss_mb() { awk '/^Pss:/ {printf "%.1f", $2/1024}' "/proc/$1/smaps_rollup"; }

dir=$(mktemp -d /tmp/devctl-bench-svc-XXXXXX); chmod 755 "$dir"
pg_port=$(free_port)
sed "s/^  port: 5432/  port: $pg_port/" devctl.yaml > "$dir/devctl.yaml"
for s in Sources/Services/*/Migrations; do mkdir -p "$dir/$s"; cp "$s"/*.sql "$dir/$s/"; done
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    (cd "$dir" && "$devctl" db stop >/dev/null 2>&1) || true
    rm -rf "$dir"
}
trap cleanup EXIT
(cd "$dir" && "$devctl" db init >/dev/null)

declare -A port pid
for s in greeter caller gateway custom-lang; do port[$s]=$(free_port); done
db() { echo "postgresql://devuser:devpass@127.0.0.1:$pg_port/$1"; }
start() { # name database env…
    local name=$1 database=$2; shift 2
    (cd "$dir" && exec env LOG_LEVEL=warning PORT="${port[$name]}" DATABASE_URL="$(db "$database")" "$@" "$devctl" serve "$name" --no-config >"$dir/$name.log" 2>&1) &
    pids+=($!); pid[$name]=$!
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:${port[$name]}/readyz" >/dev/null 2>&1 && return; sleep 0.1; done
    echo "$name did not become ready:" >&2; cat "$dir/$name.log" >&2; exit 1
}
start custom-lang lang_db
start caller caller_db CALLER_ALLOWED_HOSTS="127.0.0.1:${port[custom-lang]}"
start greeter greeter_db CALLER_BASE_URL="http://127.0.0.1:${port[caller]}" EXTERNAL_API_URL="http://127.0.0.1:${port[custom-lang]}/healthz"
start gateway gateway_db CUSTOM_LANG_BASE_URL="http://127.0.0.1:${port[custom-lang]}"
pid_of() { echo "${pid[$1]}"; }
sleep 1
declare -A idle idle_pss
for s in greeter caller gateway custom-lang; do idle[$s]=$(rss_mb "$(pid_of "$s")"); idle_pss[$s]=$(pss_mb "$(pid_of "$s")"); done

cat > "$dir/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"name":"bench"}'
wrk.headers["Content-Type"] = "application/json"
LUA

# run LABEL URL: wrk, then RSS of every service sampled at mid-run.
declare -A loaded
run() {
    local label=$1 url=$2 out
    curl -fs -XPOST -H 'Content-Type: application/json' -d '{"name":"warm"}' "$url" >/dev/null
    wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$dir/post.lua" "$url" >"$dir/wrk.out" &
    local wrk_pid=$!
    sleep "$((duration / 2))"
    for s in greeter caller gateway custom-lang; do
        local now; now=$(rss_mb "$(pid_of "$s")")
        loaded[$s]=$(python3 -c "print(max(${loaded[$s]:-0}, $now))")
    done
    wait "$wrk_pid"
    out="$dir/wrk.out"
    local rps p50 p99 errors
    rps=$(awk '/Requests\/sec/ {print $2}' "$out")
    p50=$(awk '$1=="50%" {print $2}' "$out")
    p99=$(awk '$1=="99%" {print $2}' "$out")
    errors=$(awk '/Non-2xx/ {print $NF}' "$out"); errors=${errors:-0}
    printf '%-44s %10s req/s   p50 %8s   p99 %8s   non-2xx %s\n' "$label" "$rps" "$p50" "$p99" "$errors"
}

echo "wrk -t2 -c$connections -d${duration}s on loopback, release build$([ "${STATIC:-0}" = 1 ] && echo ' (static stdlib)'), $(nproc) cores"
run "Greet on greeter (→ caller → custom-lang)" "http://127.0.0.1:${port[greeter]}/greeter.v1.GreeterService/Greet"
run "InvokeCustom on gateway (→ custom-lang)" "http://127.0.0.1:${port[gateway]}/gateway.v1.GatewayService/InvokeCustom"
run "peer: POST /invoke on custom-lang (REST)" "http://127.0.0.1:${port[custom-lang]}/invoke"
echo
printf '%-12s %12s %12s %16s\n' service "RSS idle MB" "PSS idle MB" "RSS load MB"
for s in greeter caller gateway custom-lang; do printf '%-12s %12s %12s %16s\n' "$s" "${idle[$s]}" "${idle_pss[$s]}" "${loaded[$s]}"; done
# auth's idle RSS (it is not on these paths).
port[auth]=$(free_port)
start auth auth_db
sleep 1
printf '%-12s %12s %12s %16s\n' auth "$(rss_mb "$(pid_of auth)")" "$(pss_mb "$(pid_of auth)")" "-"
