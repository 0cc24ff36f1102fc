#!/usr/bin/env bash
# Protocol benchmark (not a test; prints figures): one ConnectBench server (release build, every
# core), the same Greet message side by side —
#   Connect unary JSON over HTTP/1.1 (wrk) · the plain Hummingbird JSON route (wrk) ·
#   Connect unary JSON over h2c and gRPC unary (protobuf) over h2c (h2load, same client) —
# then server streaming: messages/s for 1,000-message gRPC streams (h2load), and the server's RSS
# sampled along one 1,000,000-message stream (curl over h2c). Rounds are interleaved (this
# machine is noisy); medians and ratios are printed.
#   Targets (issue 14): gRPC unary ≥ 0.9× Connect unary's throughput — gRPC as its clients call
#   (concurrent calls multiplexed on a few connections), Connect over HTTP/1.1 — and, one stream
#   per connection, gRPC ≥ 0.9× Connect over h2c; RSS flat over the stream. Each kind also gets
#   the server's CPU per request.
# ROUNDS (3), DURATION seconds per run (8), CONNECTIONS (32), STREAM_MESSAGES (1000000).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}; duration=${DURATION:-8}; conns=${CONNECTIONS:-32}; long=${STREAM_MESSAGES:-1000000}
apt_get() { apt-get install -y -q "$@" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q "$@" >/dev/null; }; }
command -v wrk >/dev/null || apt_get wrk
command -v h2load >/dev/null || apt_get nghttp2-client
command -v curl >/dev/null || apt_get curl

echo "building ConnectBench (release)…" >&2
bash scripts/release-build.sh --product ConnectBench >/dev/null
bin=$(bash scripts/release-build.sh --show-bin-path)/ConnectBench
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" "$port" >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
url=http://127.0.0.1:$port

# Bodies: {"name":"bench"}; GreetRequest{name:"bench"} in a gRPC frame; stream requests.
printf '{"name":"bench"}' >"$work/greet.json"
grpc_frame() { python3 -c 'import sys; m=b"\x0a"+bytes([len(sys.argv[1])])+sys.argv[1].encode(); sys.stdout.buffer.write(b"\x00"+len(m).to_bytes(4,"big")+m)' "$1"; }
grpc_frame bench >"$work/greet.grpc"; grpc_frame 1000 >"$work/stream.grpc"; grpc_frame "$long" >"$work/long.grpc"
cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"name":"bench"}'
wrk.headers["Content-Type"] = "application/json"
LUA

# Every protocol answers correctly before anything is measured.
check() { [[ "$2" == *"$3"* ]] || { echo "bench: $1 answered unexpectedly: $2" >&2; exit 1; }; }
check "Connect" "$(curl -s -H 'content-type: application/json' --data-binary @"$work/greet.json" "$url/greeter.v1.GreeterService/Greet")" 'Hello bench!'
check "gRPC" "$(curl -s --http2-prior-knowledge -D - -o /dev/null -H 'content-type: application/grpc' -H 'te: trailers' --data-binary @"$work/greet.grpc" "$url/greeter.v1.GreeterService/Greet")" 'grpc-status: 0'
check "gRPC stream" "$(curl -s --http2-prior-knowledge -D - -o /dev/null -H 'content-type: application/grpc' -H 'te: trailers' --data-binary @"$work/stream.grpc" "$url/bench.v1.Stream/Count")" 'grpc-status: 0'

wrk_rate() { wrk -t2 -c"$conns" -d"${duration}s" -s "$work/post.lua" "$1" | awk '/Requests\/sec/ {print $2}'; }
h2_rate() { # URL BODY CONTENT-TYPE CONNECTIONS [STREAMS PER CONNECTION] → req/s (fails the bench on any failed request)
    local out; out=$(h2load -c "$4" -m "${5:-1}" -D "$duration" -d "$2" -H "content-type: $3" -H 'te: trailers' "$1" 2>&1)
    grep -q ' 0 failed, 0 errored' <<<"$out" || { echo "bench: h2load saw failures: $(grep requests: <<<"$out")" >&2; exit 1; }
    awk '/^finished in/ {print $4}' <<<"$out"
}
declare -A results
declare -A cpu
# The server's CPU time (user + system, clock ticks) from /proc: per request it is the cost that
# does not depend on how much of this 2-core machine the load generator takes.
server_ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
ticks_per_second=$(getconf CLK_TCK)
# gRPC clients (grpc-go, grpcio) multiplex concurrent calls over one connection per server:
# grpc_mux is the same 32 concurrent calls as 4 connections × 8 streams.
mux_conns=4; mux_streams=$(( conns / 4 > 0 ? conns / 4 : 1 ))
kinds=(connect_h1 plain_h1 connect_h2 grpc_h2 grpc_mux stream_h2)
for round in $(seq "$rounds"); do
    # Rotate the order each round so no kind always runs first (or last) on a warming machine.
    for offset in $(seq 0 $(( ${#kinds[@]} - 1 ))); do
        kind=${kinds[$(( (offset + round) % ${#kinds[@]} ))]}
        before=$(server_ticks)
        case $kind in
            connect_h1) rate=$(wrk_rate "$url/greeter.v1.GreeterService/Greet") ;;
            plain_h1) rate=$(wrk_rate "$url/plain/greet") ;;
            connect_h2) rate=$(h2_rate "$url/greeter.v1.GreeterService/Greet" "$work/greet.json" application/json "$conns") ;;
            grpc_h2) rate=$(h2_rate "$url/greeter.v1.GreeterService/Greet" "$work/greet.grpc" application/grpc "$conns") ;;
            grpc_mux) rate=$(h2_rate "$url/greeter.v1.GreeterService/Greet" "$work/greet.grpc" application/grpc "$mux_conns" "$mux_streams") ;;
            stream_h2) rate=$(h2_rate "$url/bench.v1.Stream/Count" "$work/stream.grpc" application/grpc 4) ;;
        esac
        results[$kind]+="$rate "
        per_request=$(awk -v t="$(( $(server_ticks) - before ))" -v hz="$ticks_per_second" -v r="$rate" -v d="$duration" 'BEGIN {printf "%.1f", t / hz * 1e6 / (r * d)}')
        cpu[$kind]+="$per_request "
        echo "round $round  $kind  $rate req/s  server CPU ${per_request} µs/request" >&2
    done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
declare -A medians
declare -A cpu_medians
for kind in "${kinds[@]}"; do medians[$kind]=$(median <<<"${results[$kind]}"); cpu_medians[$kind]=$(median <<<"${cpu[$kind]}"); done

# RSS along one long stream: sampled every 0.5 s while curl reads it.
curl -s --http2-prior-knowledge -o "$work/long.out" -H 'content-type: application/grpc' -H 'te: trailers' \
    --data-binary @"$work/long.grpc" "$url/bench.v1.Stream/Count" &
reader=$!
samples=()
t0=$(date +%s%N)
while kill -0 "$reader" 2>/dev/null; do
    samples+=("$(awk '/VmRSS/ {print $2}' "/proc/$server/status")")
    sleep 0.5
done
wait "$reader"
elapsed_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
received=$(stat -c %s "$work/long.out")

echo
echo "ConnectBench, $(nproc) cores, $rounds interleaved rounds × ${duration}s, $conns connections (streams: 4); medians"
row() { printf '  %-58s %10.0f req/s   server CPU %6.1f µs/request\n' "$1" "${medians[$2]}" "${cpu_medians[$2]}"; }
row "Connect unary JSON, HTTP/1.1 (wrk, $conns connections)" connect_h1
row "plain Hummingbird JSON route, HTTP/1.1 (wrk)" plain_h1
row "Connect unary JSON, h2c (h2load, $conns connections)" connect_h2
row "gRPC unary protobuf, h2c (h2load, $conns connections × 1)" grpc_h2
row "gRPC unary protobuf, h2c (h2load, $mux_conns connections × $mux_streams)" grpc_mux
awk -v s="${medians[stream_h2]}" 'BEGIN {printf "  %-58s %10.0f msg/s  (%.0f streams/s)\n", "gRPC server stream, 1,000 messages (h2load)", s*1000, s}'
awk -v g="${medians[grpc_h2]}" -v m="${medians[grpc_mux]}" -v c1="${medians[connect_h1]}" -v c2="${medians[connect_h2]}" -v p="${medians[plain_h1]}" 'BEGIN {
    printf "  gRPC unary as gRPC clients call / Connect unary HTTP/1.1   %5.2f×   target ≥ 0.90  %s\n", m/c1, (m/c1 >= 0.9 ? "PASS" : "MISS")
    printf "  gRPC unary / Connect unary, both h2c, 1 stream/connection  %5.2f×   target ≥ 0.90  %s\n", g/c2, (g/c2 >= 0.9 ? "PASS" : "MISS")
    printf "  gRPC unary, 1 stream/connection / Connect HTTP/1.1         %5.2f×   (report: h2load costs the 2-core machine more than wrk)\n", g/c1
    printf "  Connect HTTP/1.1 / plain route                             %5.2f×\n", c1/p }'
n=${#samples[@]}
first=${samples[$(( n / 10 ))]:-0}; last=${samples[$(( n - 1 ))]:-0}; peak=$(printf '%s\n' "${samples[@]}" | sort -n | tail -1)
echo "  one stream of $long messages over h2c: $received bytes in ${elapsed_ms} ms ($(awk -v n="$long" -v ms="$elapsed_ms" 'BEGIN {printf "%.0f", n/(ms/1000)}') msg/s), $n RSS samples"
awk -v a="$first" -v b="$last" -v p="$peak" 'BEGIN {
    printf "  server RSS at 10%% of the stream %d KiB, at the end %d KiB, peak %d KiB: growth %+.1f%%   target flat (≤ +10%%)  %s\n", a, b, p, (b-a)*100/a, ((b-a)*100/a <= 10 ? "PASS" : "MISS") }'
