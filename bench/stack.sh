#!/usr/bin/env bash
# Benchmarks the stack (release build): `devctl up -d` cold (no .devctl/) and warm (built and
# initialised) until everything is ready, and `devctl down`, RUNS times each, medians; then
# Greet through the edge (valid token) vs Greet directly on greeter with wrk in the same run,
# and the whole stack's memory idle. Its own copy of the stack on free ports; not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
runs=${RUNS:-5}
duration=${DURATION:-10}
connections=${CONNECTIONS:-32}
command -v wrk >/dev/null || { echo "bench/stack.sh needs wrk: apt-get install -y wrk" >&2; exit 1; }
if [ "${STATIC:-0}" = 1 ]; then build=(swift build -c release --static-swift-stdlib --scratch-path .build-static); else build=(swift build -c release); fi
# DEVCTL_BIN=/path/to/devctl: measure that binary (before/after comparisons) instead of building.
if [ -n "${DEVCTL_BIN:-}" ]; then
    devctl=$(realpath "$DEVCTL_BIN")
else
    "${build[@]}" --product devctl >/dev/null
    devctl=$("${build[@]}" --show-bin-path)/devctl
fi
now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }

# A copy of the stack with every port moved to a free one; the edge's rate limit raised so wrk
# measures routing, auth and CORS rather than 429s.
dir=$(mktemp -d /tmp/devctl-bench-stack-XXXXXX); chmod 755 "$dir"
copy_stack "$dir"
cleanup() { (cd "$dir" && "$devctl" down --purge --yes >/dev/null 2>&1) || true; rm -rf "$dir"; }
trap cleanup EXIT
run() { (cd "$dir" && "$devctl" "$@"); }

cold=(); warm=(); down=()
for i in $(seq "$runs"); do
    run down --purge --yes >/dev/null; rm -rf "$dir/.devctl"
    t0=$(now); run up -d >/dev/null; t1=$(now); cold+=("$(ms "$t0" "$t1")")
    t0=$(now); run down >/dev/null; t1=$(now); down+=("$(ms "$t0" "$t1")")
    t0=$(now); run up -d >/dev/null; t1=$(now); warm+=("$(ms "$t0" "$t1")")
    t0=$(now); run down >/dev/null; t1=$(now); down+=("$(ms "$t0" "$t1")")
done
echo "release build$([ "${STATIC:-0}" = 1 ] && echo ' (static stdlib)'), $(nproc) cores, $runs runs, medians:"
printf '  up -d cold (no .devctl/) → all ready  %6s ms   (target ≤ 6000)\n' "$(printf '%s\n' "${cold[@]}" | median)"
printf '  up -d warm → all ready                %6s ms   (target ≤ 2000)\n' "$(printf '%s\n' "${warm[@]}" | median)"
printf '  down                                  %6s ms   (target ≤ 1000)\n' "$(printf '%s\n' "${down[@]}" | median)"

run up -d >/dev/null
sleep 3
stack_memory() {
    # Every process of the stack: services, HAProxy, PostgreSQL and its backends.
    local state="$dir/.devctl/run/stack.json" pids pg rss=0 pss=0
    pids=$(python3 -c "import json; print(' '.join(str(p['pid']) for p in json.load(open('$state'))['processes'] if p.get('pid')))")
    pg=$(head -1 "$(python3 -c "
import glob; print((glob.glob('$dir/.devctl/postgres/data/postmaster.pid') + glob.glob('/var/lib/devctl/clusters/*/data/postmaster.pid'))[0])")")
    pids="$pids $pg $(pgrep -P "$pg" | tr '\n' ' ')"
    for p in $pids; do
        rss=$((rss + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status")))
        pss=$((pss + $(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup")))
    done
    printf '  whole stack %s: RSS %.1f MB, PSS %.1f MB (%d processes)\n' "$1" "$(echo "$rss/1024" | bc -l)" "$(echo "$pss/1024" | bc -l)" "$(echo $pids | wc -w)"
}
stack_memory "idle after up"
port() { python3 -c "import re,sys; t=open('$dir/devctl.yaml').read(); print(re.search(r'^  $1:\n(?:    .*\n)*?    port: (\d+)', t, re.M).group(1))"; }
edge=$(awk '/^edge:/{f=1} f && /port:/{print $2; exit}' "$dir/devctl.yaml")
greeter=$(port greeter)
greet_script "$dir" "$edge"
measure() {
    wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$dir/greet.lua" "$1" >"$dir/wrk.out"
    local rps p99 non2xx
    rps=$(awk '/Requests\/sec/ {print $2}' "$dir/wrk.out"); p99=$(awk '$1=="99%" {print $2}' "$dir/wrk.out")
    non2xx=$(awk '/Non-2xx/ {print $NF}' "$dir/wrk.out")
    printf '  %-30s %10s req/s   p99 %8s   non-2xx %s\n' "$2" "$rps" "$p99" "${non2xx:-0}" >&2
    echo "$rps"
}
echo "wrk -t2 -c$connections -d${duration}s, Greet (→ caller → custom-lang, two inserts):"
# Interleaved (direct, edge, direct, edge) so drift in the machine's speed hits both alike.
d1=$(measure "http://127.0.0.1:$greeter/greeter.v1.GreeterService/Greet" "directly on greeter")
e1=$(measure "http://127.0.0.1:$edge/greeter.v1.GreeterService/Greet" "through the edge (JWT)")
d2=$(measure "http://127.0.0.1:$greeter/greeter.v1.GreeterService/Greet" "directly on greeter")
e2=$(measure "http://127.0.0.1:$edge/greeter.v1.GreeterService/Greet" "through the edge (JWT)")
python3 -c "d = ($d1 + $d2) / 2; e = ($e1 + $e2) / 2; print(f'  mean: direct {d:.0f} req/s, through the edge {e:.0f} req/s; edge cost {(1 - e / d) * 100:.1f} % of throughput (target ≤ 15 %)')"

sleep 3
stack_memory "idle after the load (pools keep their connections)"
