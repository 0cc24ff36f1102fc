#!/usr/bin/env bash
# Benchmarks `devctl manifests` (release) for the five services in a fresh clone: the first run
# (writes every file) and a no-change run, RUNS times each, medians; `--check` too. Peer in the
# same run: reading the same staged modules with the git CLI (`git show :PATH` per file), the
# least any tool reading the index through git must do. Not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-7}
bash scripts/release-build.sh --product devctl >/dev/null
devctl=$(bash scripts/release-build.sh --show-bin-path)/devctl
now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }
work=$(mktemp -d /tmp/devctl-bench-manifests-XXXXXX); trap 'rm -rf "$work"' EXIT
first=(); again=(); check=(); peer=()
for i in $(seq "$runs"); do
    git clone -q . "$work/r$i"; cd "$work/r$i"; rm -rf deploy/manifests
    t0=$(now); "$devctl" manifests >/dev/null; t1=$(now); first+=("$(ms "$t0" "$t1")")
    t0=$(now); "$devctl" manifests >/dev/null; t1=$(now); again+=("$(ms "$t0" "$t1")")
    t0=$(now); "$devctl" manifests --check >/dev/null; t1=$(now); check+=("$(ms "$t0" "$t1")")
    t0=$(now); for f in $(git ls-files deploy/k8s deploy/envs); do git show ":$f" >/dev/null; done; t1=$(now); peer+=("$(ms "$t0" "$t1")")
    cd - >/dev/null
done
echo "devctl manifests, 5 modules, 37 objects (release, $(nproc) cores, $runs runs, medians):"
printf '  first run (writes every file)   %4s ms   (target ≤ 150)\n' "$(printf '%s\n' "${first[@]}" | median)"
printf '  no change (nothing written)     %4s ms\n' "$(printf '%s\n' "${again[@]}" | median)"
printf '  --check                         %4s ms\n' "$(printf '%s\n' "${check[@]}" | median)"
printf '  peer: git show :PATH per staged module/env file  %4s ms\n' "$(printf '%s\n' "${peer[@]}" | median)"
