#!/usr/bin/env bash
# What tracing costs (issue 15; not a test, prints figures): Greet through the edge (JWT,
# → caller → custom-lang, two inserts: 7 spans a request) with tracing off
# (OTEL_EXPORTER_OTLP_ENDPOINT empty), on (the services export to devctl's own receiver, as
# `devctl up` runs it: the edge samples traces.sample_per_second new traces a second, the rest
# pass through unrecorded) and all (every request sampled: `sample_per_second: all`), one stack
# per run, runs interleaved and their order rotated; medians and the ratios.
# Target: tracing on costs ≤ 10 % of throughput; the cost of recording every request is reported.
# ROUNDS (3), DURATION seconds per run (10), CONNECTIONS (32); DEVCTL_BIN to measure a given binary.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
rounds=${ROUNDS:-3}; duration=${DURATION:-10}; connections=${CONNECTIONS:-32}
command -v wrk >/dev/null || { apt-get install -y -q wrk >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }; }
if [ -n "${DEVCTL_BIN:-}" ]; then
    devctl=$(realpath "$DEVCTL_BIN")
else
    swift build -c release --product devctl >/dev/null
    devctl=$(swift build -c release --show-bin-path)/devctl
fi

# A copy of the stack on free ports, the edge's rate limit out of the way.
dir=$(mktemp -d /tmp/devctl-bench-tracing-XXXXXX); chmod 755 "$dir"
copy_stack "$dir"
cleanup() { (cd "$dir" && "$devctl" down --purge --yes >/dev/null 2>&1) || true; rm -rf "$dir"; }
trap cleanup EXIT
edge=$(awk '/^edge:/{f=1} f && /port:/{print $2; exit}' "$dir/devctl.yaml")

# The edge's sampling budget as devctl.yaml has it (on), and every request sampled (all).
cp "$dir/devctl.yaml" "$dir/devctl.yaml.on"
sed -E 's/^(  sample_per_second:) *[^ #]+/\1 all/' "$dir/devctl.yaml.on" > "$dir/devctl.yaml.all"
grep -q '^  sample_per_second: all' "$dir/devctl.yaml.all" || { echo "bench: devctl.yaml has no traces.sample_per_second line" >&2; exit 1; }
budget=$(awk '/^  sample_per_second:/ {print $2; exit}' "$dir/devctl.yaml.on")

start() { # off|on|all
    if [ "$1" = off ]; then
        cp "$dir/devctl.yaml.on" "$dir/devctl.yaml"
        (cd "$dir" && OTEL_EXPORTER_OTLP_ENDPOINT= "$devctl" up -d >/dev/null)
    else
        cp "$dir/devctl.yaml.$1" "$dir/devctl.yaml"
        (cd "$dir" && "$devctl" up -d >/dev/null)
    fi
    greet_script "$dir" "$edge"
    # Warm-up: pools, prepared statements, the first batches.
    wrk -t2 -c"$connections" -d2s -s "$dir/greet.lua" "http://127.0.0.1:$edge/greeter.v1.GreeterService/Greet" >/dev/null
}

declare -A rates p99s
modes=(off on all)
for round in $(seq "$rounds"); do
    for offset in 0 1 2; do
        mode=${modes[$(( (offset + round) % 3 ))]}
        start "$mode"
        wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$dir/greet.lua" "http://127.0.0.1:$edge/greeter.v1.GreeterService/Greet" >"$dir/wrk.out"
        rate=$(awk '/Requests\/sec/ {print $2}' "$dir/wrk.out"); p99=$(awk '$1=="99%" {print $2}' "$dir/wrk.out")
        non2xx=$(awk '/Non-2xx/ {print $NF}' "$dir/wrk.out")
        [ -z "$non2xx" ] || { echo "bench: $mode answered $non2xx non-2xx responses" >&2; exit 1; }
        if [ "$mode" != off ]; then
            traces=$(cd "$dir" && "$devctl" traces --json --limit 1000 | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["held"])')
            echo "round $round  tracing $mode  $rate req/s  p99 $p99  (devctl holds $traces traces)" >&2
        else
            echo "round $round  tracing $mode  $rate req/s  p99 $p99" >&2
        fi
        rates[$mode]+="$rate "; p99s[$mode]+="$p99 "
        (cd "$dir" && "$devctl" down >/dev/null)
    done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
off=$(median <<<"${rates[off]}"); on=$(median <<<"${rates[on]}"); all=$(median <<<"${rates[all]}")
echo "release build, $(nproc) cores, wrk -t2 -c$connections -d${duration}s, Greet through the edge (7 spans when sampled), $rounds interleaved rounds, medians:"
printf '  tracing off                                  %10.0f req/s   p99 %s\n' "$off" "$(median <<<"$(sed 's/ms//g' <<<"${p99s[off]}")") ms"
printf '  tracing on (devctl receiver, edge samples %s/s) %6.0f req/s   p99 %s\n' "$budget" "$on" "$(median <<<"$(sed 's/ms//g' <<<"${p99s[on]}")") ms"
printf '  every request sampled (sample_per_second: all) %8.0f req/s   p99 %s\n' "$all" "$(median <<<"$(sed 's/ms//g' <<<"${p99s[all]}")") ms"
# Each round's own ratio too: the machine's speed drifts between rounds, less within one.
python3 - "${rates[off]}" "${rates[on]}" "${rates[all]}" <<'PY'
import statistics, sys
off, on, every = ([float(x) for x in a.split()] for a in sys.argv[1:4])
print("  per round, on/off: " + "  ".join(f"{b / a:.3f}" for a, b in zip(off, on)) + f"   median cost {(1 - statistics.median(b / a for a, b in zip(off, on))) * 100:.1f} %")
print("  per round, all/off: " + "  ".join(f"{b / a:.3f}" for a, b in zip(off, every)) + f"   median cost {(1 - statistics.median(b / a for a, b in zip(off, every))) * 100:.1f} %")
PY
python3 -c "off, on, all = $off, $on, $all; cost = (1 - on / off) * 100; every = (1 - all / off) * 100; print(f'  cost of tracing as devctl runs it             {cost:9.1f} %    target ≤ 10 %   {\"PASS\" if cost <= 10 else \"MISS\"}'); print(f'  cost of recording every request               {every:9.1f} %    (report only: the SDK\'s per-span cost)')"
