#!/usr/bin/env bash
# Benchmarks `devctl gen` against `buf generate` (same inputs and plugins, alternating cold runs),
# `devctl gen` with nothing changed, and a Connect JSON unary RPC against a plain Hummingbird JSON
# route in the same server under wrk (release build). Prints medians; not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-7}
command -v wrk >/dev/null || { apt-get install -y -q wrk >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null); }
command -v buf >/dev/null || python3 -m pip install -q buf-bin
PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"

bash scripts/release-build.sh --product devctl >/dev/null
bash scripts/release-build.sh --product protoc-gen-swift >/dev/null
bash scripts/release-build.sh --product ConnectBench >/dev/null
bin=$(bash scripts/release-build.sh --show-bin-path)
now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }

# A scratch copy of the inputs, and a PATH where buf finds the same two plugins.
work=$(mktemp -d); mkdir -p "$work/bin"
ln -s "$bin/devctl" "$work/bin/protoc-gen-connect-swift"
ln -s "$bin/protoc-gen-swift" "$work/bin/protoc-gen-swift"
cp -r proto buf.yaml buf.gen.yaml devctl.yaml "$work/"
export PATH="$work/bin:$PATH"
ours=(); theirs=(); warm=()
for i in $(seq "$runs"); do
    rm -rf "$work/Sources" "$work/.devctl"
    t0=$(now); (cd "$work" && "$bin/devctl" gen >/dev/null); t1=$(now); ours+=($(( (t1 - t0) / 1000000 )))
    t0=$(now); (cd "$work" && "$bin/devctl" gen >/dev/null); t1=$(now); warm+=($(( (t1 - t0) / 100000 )))
    rm -rf "$work/Sources"
    t0=$(now); (cd "$work" && buf generate >/dev/null); t1=$(now); theirs+=($(( (t1 - t0) / 1000000 )))
done
o=$(printf '%s\n' "${ours[@]}" | median); b=$(printf '%s\n' "${theirs[@]}" | median)
echo "runs: $runs (median), $(nproc) cores"
echo "devctl gen cold:                $o ms"
echo "buf generate cold (peer):       $b ms"
echo "ratio devctl/buf:               $(awk -v o="$o" -v b="$b" 'BEGIN {printf "%.2f", o/b}')   target <= 1.0"
echo "devctl gen, nothing changed:    $(printf '%s\n' "${warm[@]}" | median | awk '{printf "%.1f", $1/10}') ms   target <= 50"
rm -rf "$work"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin/ConnectBench" "$port" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null' EXIT
for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
lua=$(mktemp --suffix=.lua)
cat > "$lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"name":"Ada"}'
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.0f %.2f %.2f\n", summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
LUA
measure() { wrk -t2 -c32 -d"${DURATION:-10}"s -s "$lua" "http://127.0.0.1:$port$1" | awk '/^RESULT/ {print $2, $3, $4}'; }
measure /greeter.v1.GreeterService/Greet >/dev/null   # warm-up
read -r crps cp50 cp99 < <(measure /greeter.v1.GreeterService/Greet)
read -r prps pp50 pp99 < <(measure /plain/greet)
echo "Connect JSON unary (wrk -t2 -c32): $crps req/s, p50 $cp50 ms, p99 $cp99 ms"
echo "plain Hummingbird JSON route:      $prps req/s, p50 $pp50 ms, p99 $pp99 ms"
echo "throughput ratio Connect/plain:    $(awk -v c="$crps" -v p="$prps" 'BEGIN {printf "%.2f", c/p}')   target >= 0.9"
rm -f "$lua"
