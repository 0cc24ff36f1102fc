#!/usr/bin/env bash
# Edit-to-served latency of `devctl up --watch` (issue 16; not a test, prints figures): a
# one-line change of greeter's reply, ROUNDS times (3), each measured from the save to the first
# Greet answering with the new text, with the phases the watcher logs (build, greeter ready).
# Runs the repository's own stack on its dev ports (stop any stack first) with a debug build, as a
# developer would; greeter's source is restored at the end, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
swift build --product devctl >/dev/null
devctl=$(swift build --show-bin-path)/devctl
source_file=Sources/Services/Greeter/GreeterService.swift
grep -q 'let message = "Hello \\(name)!"' "$source_file" || { echo "bench: $source_file does not hold the line this edits" >&2; exit 1; }
cp "$source_file" /tmp/devctl-watch-bench.swift
cleanup() { cp /tmp/devctl-watch-bench.swift "$source_file"; "$devctl" down >/dev/null 2>&1 || true; }
trap cleanup EXIT
"$devctl" up -d --watch >/dev/null
sleep 1
log=.devctl/logs/supervisor.log
first_line=$(( $(wc -l < "$log") + 1 ))
greet() { curl -s -H 'content-type: application/json' -d '{"name":"bench"}' http://127.0.0.1:8080/greeter.v1.GreeterService/Greet; }
now() { date +%s%N; }
served=(); builds=(); readies=()
for round in $(seq "$rounds"); do
    word="Hello$round"
    t0=$(now)
    sed -i "s/let message = \"[A-Za-z0-9]* \\\\(name)!\"/let message = \"$word \\\\(name)!\"/" "$source_file"
    until greet | grep -q "$word bench"; do
        sleep 0.1
        [ $(( ($(now) - t0) / 1000000000 )) -lt 300 ] || { echo "bench: round $round not served within 300 s" >&2; exit 1; }
    done
    ms=$(( ($(now) - t0) / 1000000 ))
    # The watcher logs the cycle once its readiness check passed (a moment after curl saw it).
    line=""
    for _ in $(seq 100); do
        line=$(tail -n +"$first_line" "$log" | grep "change → build" | sed -n "${round}p" || true)
        [ -n "$line" ] && break
        sleep 0.1
    done
    build=$(sed -E 's/.*build ([0-9]+) ms.*/\1/' <<<"$line"); ready=$(sed -E 's/.*ready ([0-9]+) ms.*/\1/' <<<"$line")
    echo "round $round: served $ms ms after the save (build $build ms, greeter ready $ready ms)" >&2
    served+=("$ms"); builds+=("$build"); readies+=("$ready")
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }
echo "debug build, $(nproc) cores, $rounds one-line changes of greeter, medians:"
echo "  save → served            $(median <<<"${served[*]}") ms"
echo "  incremental build        $(median <<<"${builds[*]}") ms"
echo "  greeter restart → ready  $(median <<<"${readies[*]}") ms"
echo "  restarts while measuring: greeter $(tail -n +"$first_line" "$log" | grep -c 'greeter: starting'), every other service $(tail -n +"$first_line" "$log" | grep 'starting (pid' | grep -vc 'greeter:')"
