#!/usr/bin/env bash
# Benchmarks `devctl new service` (release build; the Swift build of the new service is not
# included): the whole command (render, validate, write, devctl.yaml + registry, `gen`
# post-step) and `--dry-run` (render + validate only), in fresh clones, RUNS times, medians.
# Peer in the same run: the seed's way, a shell script copying the template files through sed
# (no validation, no registration, no gen). Not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-7}
bash scripts/release-build.sh --product devctl >/dev/null
bash scripts/release-build.sh --product protoc-gen-swift >/dev/null
bin=$(bash scripts/release-build.sh --show-bin-path)
export PATH="$bin:$PATH"   # protoc-gen-swift for the gen post-step
now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }
work=$(mktemp -d /tmp/devctl-bench-new-XXXXXX); trap 'rm -rf "$work"' EXIT
full=(); dry=(); peer=()
for i in $(seq "$runs"); do
    git clone -q . "$work/r$i"
    cd "$work/r$i"
    t0=$(now); "$bin/devctl" new service billing --expose --dry-run >/dev/null; t1=$(now); dry+=("$(ms "$t0" "$t1")")
    t0=$(now); "$bin/devctl" new service billing --expose >/dev/null; t1=$(now); full+=("$(ms "$t0" "$t1")")
    # Peer: sed over the same template files into a new folder.
    t0=$(now)
    for f in templates/swift-rpc/*.mustache; do
        sed -e 's/{{kebab}}/ledger/g; s/{{pascal}}/Ledger/g; s/{{snake}}/ledger/g; s/{{port}}/8101/g; s/{{databaseName}}/ledger_db/g; s/{{greeting}}/Hello/g' \
            "$f" > "$work/peer-$i-$(basename "$f" .mustache)"
    done
    t1=$(now); peer+=("$(ms "$t0" "$t1")")
    cd - >/dev/null
done
echo "devctl new service (release, $(nproc) cores, $runs runs, medians):"
printf '  new service billing (render, validate, write, register, gen)  %5s ms   (target ≤ 200)\n' "$(printf '%s\n' "${full[@]}" | median)"
printf '  new service billing --dry-run (render + validate)              %5s ms\n' "$(printf '%s\n' "${dry[@]}" | median)"
printf '  peer: sed over the template files (no checks, no registration) %5s ms\n' "$(printf '%s\n' "${peer[@]}" | median)"
