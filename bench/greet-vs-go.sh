#!/usr/bin/env bash
# Swift services against the Go peer (shared/peers/go-greet), in the same run, on one machine.
#
# What it measures (release builds, loopback, one PostgreSQL, one target):
#   - Greet: wrk POST /greeter.v1.GreeterService/Greet {"name":"bench"} on the Swift chain
#     (greeter → caller → custom-lang /healthz, one INSERT each in greeter_db / caller_db) and on
#     the Go chain (go greeter → go caller → the same custom-lang /healthz, same databases, same
#     tables). INTERLEAVED rounds, Swift then Go, the order alternating per round. Per run: req/s,
#     p50, p99, non-2xx, and CPU µs per request of greeter, caller, custom-lang, the PostgreSQL
#     server (postmaster and all its backends) and the whole machine. CPU = utime+stime (with
#     reaped children) from /proc/PID/stat, delta over the run / the requests wrk counted.
#   - GET /healthz: the Swift caller's (platform router: request log + metrics middleware) against
#     a bare Hummingbird 2 route (bench/bare-hummingbird, built here), both given every core (a
#     second caller with NIO_SINGLETON_GROUP_LOOP_COUNT=$(nproc); the services' default is one event
#     loop, shown too), the Go caller's beside them.
#   - Report only: InvokeCustom on gateway (→ custom-lang /invoke) and custom-lang POST /invoke.
#   - Idle RSS (MB) of every Swift service and Go peer after start, and idle CPU ms/s over
#     IDLE_WINDOW seconds before any load and again after the load (plus peak RSS at the end).
# Then the medians per chain, and the targets, each PASS or MISS:
#   Greet throughput Swift/Go ≥ 1.0×   Greet p99 Swift ≤ Go's   CPU/request greeter Swift/Go ≤ 1.5×
#   CPU/request caller Swift/Go ≤ 1.5×   Swift /healthz req/s ≥ 0.8× the bare Hummingbird route's.
# It exits 0 whatever the figures are; non-zero only when something broke (a build, a start, wrk).
#
# Run:  bash bench/greet-vs-go.sh            (as root: installs wrk, golang-go and pgx v4 if absent)
#   DEVCTL_BIN=/path/to/devctl   benchmark that prebuilt binary (compare before/after builds);
#                                otherwise scripts/release-build.sh --product devctl here (as the image builds it)
#   STATIC=1                     --static-swift-stdlib builds (.build-static), as bench/services.sh and the image
#   ROUNDS=3 DURATION=10 CONNECTIONS=32   rounds, seconds per wrk run, wrk connections (-t2)
#   LOG_LEVEL=warning            the same level for every Swift service and both Go peers
#   SETTLE=3 WARMUP=3 IDLE_WINDOW=5   pause between runs, warm-up wrk seconds, idle window seconds
#   GO_PEER_BIN=/tmp/go-peer/go-peer  GO_PEER_SRC=<repo>/../shared/peers/go-greet
#                                the peer is rebuilt there only when missing or older than a .go file
#   PEER_PG_STATEMENT_CACHE, PEER_CALLER_CODEC, PEER_GUARD_RESOLVE, PEER_POOL_SIZE pass through
#   KEEP_TMP=1                   keep the temp folder (service logs, wrk outputs) for a look after
# Migrations and devctl.yaml come from the repository this script sits in. Its own PostgreSQL
# (devctl db init) and free ports in a temp folder; everything it started is stopped on exit.
set -euo pipefail
# Paths given relative to where the script was started from, before moving to the repository root.
[ -n "${DEVCTL_BIN:-}" ] && DEVCTL_BIN=$(readlink -f "$DEVCTL_BIN")
[ -n "${GO_PEER_BIN:-}" ] && GO_PEER_BIN=$(readlink -m "$GO_PEER_BIN")
[ -n "${GO_PEER_SRC:-}" ] && GO_PEER_SRC=$(readlink -m "$GO_PEER_SRC")
cd "$(dirname "$0")/.."
root=$PWD
duration=${DURATION:-10}
connections=${CONNECTIONS:-32}
rounds=${ROUNDS:-3}
log_level=${LOG_LEVEL:-warning}
settle=${SETTLE:-3}
warmup=${WARMUP:-3}
idle_window=${IDLE_WINDOW:-5}
static=${STATIC:-0}
go_bin=${GO_PEER_BIN:-/tmp/go-peer/go-peer}
go_src=${GO_PEER_SRC:-$root/../shared/peers/go-greet}
[ -d "$go_src" ] || go_src=/work/shared/peers/go-greet
bare_pkg=$root/bench/bare-hummingbird
say() { echo "greet-vs-go: $*" >&2; }
die() { say "$*"; exit 1; }

# ---- tools --------------------------------------------------------------------------------------
apt_updated=0
apt_install() {
    [ "$(id -u)" = 0 ] || die "missing $*; as root: apt-get install -y $*"
    say "installing $*"
    if [ "$apt_updated" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null >&2 || true
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" </dev/null >&2 || die "apt-get install -y $* failed"
}
command -v wrk >/dev/null || apt_install wrk
command -v curl >/dev/null || apt_install curl
command -v python3 >/dev/null || apt_install python3
go_outdated() { [ ! -x "$go_bin" ] || [ -n "$(find "$go_src" -maxdepth 1 -name '*.go' -newer "$go_bin" 2>/dev/null | head -n1)" ]; }
if go_outdated; then
    [ -f "$go_src/main.go" ] || die "the Go peer's source is not at $go_src (set GO_PEER_SRC)"
    if ! command -v go >/dev/null || [ ! -d /usr/share/gocode/src/github.com/jackc/pgx/v4 ]; then
        apt_install golang-go golang-github-jackc-pgx-v4-dev
    fi
fi

# ---- temp folder, cleanup -----------------------------------------------------------------------
dir=$(mktemp -d /tmp/devctl-bench-gvg-XXXXXX)
chmod 755 "$dir" # the postgres user must reach the cluster under $dir/.devctl
pids=()
wrk_pid=
devctl=
db_started=0
cleanup() {
    set +e
    [ -n "$wrk_pid" ] && kill "$wrk_pid" 2>/dev/null
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for _ in $(seq 120); do
        local alive=0
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ "$db_started" = 1 ] && (cd "$dir" && "$devctl" db stop >/dev/null 2>&1)
    if [ "${KEEP_TMP:-0}" = 1 ]; then say "kept $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- builds -------------------------------------------------------------------------------------
# devctl as it ships (scripts/release-build.sh: whole-program cross-module optimisation); the bare
# Hummingbird server with the same compiler flags, so /healthz compares code, not settings.
if [ "$static" = 1 ]; then extra=(--static-swift-stdlib); scratch=.build-static; else extra=(); scratch=.build-release; fi
flags=(-c release -Xswiftc -cross-module-optimization "${extra[@]}")
if [ -n "${DEVCTL_BIN:-}" ]; then
    devctl=$(readlink -f "$DEVCTL_BIN")
    [ -x "$devctl" ] || die "DEVCTL_BIN=$DEVCTL_BIN is not an executable"
else
    say "building devctl (scripts/release-build.sh ${extra[*]} --product devctl)"
    RELEASE_SCRATCH="$root/$scratch" bash scripts/release-build.sh "${extra[@]}" --product devctl >"$dir/build-devctl.log" 2>&1 \
        || { tail -n 40 "$dir/build-devctl.log" >&2; die "devctl build failed"; }
    devctl=$(RELEASE_SCRATCH="$root/$scratch" bash scripts/release-build.sh "${extra[@]}" --show-bin-path)/devctl
fi
say "building bench/bare-hummingbird (swift build ${flags[*]})"
swift build "${flags[@]}" --package-path "$bare_pkg" --scratch-path "$bare_pkg/$scratch" --product bare-hummingbird >"$dir/build-bare.log" 2>&1 \
    || { tail -n 40 "$dir/build-bare.log" >&2; die "bench/bare-hummingbird build failed"; }
bare_bin=$(swift build "${flags[@]}" --package-path "$bare_pkg" --scratch-path "$bare_pkg/$scratch" --show-bin-path)/bare-hummingbird
if go_outdated; then
    say "building the Go peer into $go_bin"
    mkdir -p "$(dirname "$go_bin")" /tmp/gopath
    (cd "$go_src" && GO111MODULE=off GOPATH=/usr/share/gocode:/tmp/gopath GOCACHE="${GOCACHE:-/tmp/go-peer-gocache}" GOFLAGS='' \
        go build -o "$go_bin.new" . && mv -f "$go_bin.new" "$go_bin") >"$dir/build-go.log" 2>&1 \
        || { cat "$dir/build-go.log" >&2; die "Go peer build failed"; }
fi

# ---- the measuring helper ----------------------------------------------------------------------
results=$dir/results.jsonl
: >"$results"
cat >"$dir/bench.py" <<'PY'
import json, os, re, statistics, sys, time

TCK = os.sysconf("SC_CLK_TCK")

def proc_table():
    """pid → (ppid, utime+stime+cutime+cstime in ticks) for every process."""
    table = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        rest = s[s.rindex(")") + 2:].split()  # rest[0] is field 3 (state)
        table[int(d)] = (int(rest[1]), sum(int(x) for x in rest[11:15]))  # fields 14-17
    return table

def snap(args):
    """NAME=PID…: ticks of each process and its live descendants (reaped ones are in cutime/cstime)."""
    table = proc_table()
    children = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    def tree(pid):
        if pid not in table:
            return None
        total, stack = 0, [pid]
        while stack:
            p = stack.pop()
            total += table[p][1]
            stack.extend(children.get(p, []))
        return total
    for arg in args:
        name, pid = arg.split("=")
        t = tree(int(pid)) if pid else None
        print(name, "-" if t is None else t)
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    print("machine", v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0))  # busy: all but idle+iowait
    print("time", time.time())
    try:  # SYNs dropped because an accept queue was full (each costs the client a 1 s SYN retransmit)
        with open("/proc/net/netstat") as f:
            lines = f.read().splitlines()
        tcpext = [l.split()[1:] for l in lines if l.startswith("TcpExt:")]
        print("listen_overflows", dict(zip(tcpext[0], tcpext[1])).get("ListenOverflows", "-"))
    except (OSError, IndexError):
        print("listen_overflows -")

def read_snap(path):
    out = {}
    with open(path) as f:
        for line in f:
            name, value = line.split()
            out[name] = None if value == "-" else float(value) if name == "time" else int(value)
    return out

def delta(before, after, name):
    a, b = before.get(name), after.get(name)
    return None if a is None or b is None else b - a

def delta_seconds(before, after, name):
    d = delta(before, after, name)
    return None if d is None else d / TCK

def to_ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4, "h": 3.6e6}[m.group(2)]

def parse_wrk(text):
    m = re.search(r"(\d+) requests in", text)
    if not m:
        raise SystemExit("wrk output without a 'requests in' line:\n" + text)
    r = {"requests": int(m.group(1)), "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))}
    for q in ("50", "99"):
        m = re.search(rf"^\s+{q}(?:\.0+)?%\s+(\S+)", text, re.M)
        r["p" + q] = to_ms(m.group(1)) if m else None
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    r["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    r["sockerr"] = sum(int(x) for x in m.groups()) if m else 0
    return r

def fmt(v, spec):
    if v is None:
        width = re.match(r"\d*", spec).group(0)
        return "-".rjust(int(width)) if width else "-"
    return format(v, spec)

def record(args):
    """results KIND CHAIN ROUND LABEL WRKOUT BEFORE AFTER SETTLED SETTLE NAME…: one run's line, and its
    JSON record (with the CPU ms/s of each process in the SETTLE seconds after the run: the tail)."""
    results, kind, chain, rnd, label, wrkout, before, after, settled, settle, *names = args
    with open(wrkout) as f:
        r = parse_wrk(f.read())
    r["round"] = rnd
    b, a, z = read_snap(before), read_snap(after), read_snap(settled)
    r.update(kind=kind, chain=chain, round=int(rnd), cpu={}, tail={})
    r["listen_overflows"] = delta(b, a, "listen_overflows")
    for name in names + ["machine"]:
        s = delta_seconds(b, a, name)
        r["cpu"][name] = None if s is None or r["requests"] == 0 else s / r["requests"] * 1e6
        t = delta_seconds(a, z, name)
        r["tail"][name] = None if t is None or float(settle) <= 0 else t * 1e3 / (z["time"] - a["time"])
    with open(results, "a") as f:
        f.write(json.dumps(r) + "\n")
    cpu = "  ".join(f"{n} {fmt(r['cpu'][n], '.0f')}" for n in names + ["machine"])
    errors = f"non-2xx {r['non2xx']}" + (f" sock-err {r['sockerr']}" if r["sockerr"] else "") \
        + (f" listen-overflows {r['listen_overflows']}" if r["listen_overflows"] else "")
    print(f"round {rnd}  {label:<34} {r['rps']:9.0f} req/s  p50 {fmt(r['p50'], '7.2f')} ms  p99 {fmt(r['p99'], '7.2f')} ms  "
          f"{errors:<11}  CPU µs/req: {cpu}", flush=True)

def idle(args):
    """results PHASE BEFORE AFTER NAME…: idle CPU ms/s per process (over the snapshots' own times)."""
    results, phase, before, after, *names = args
    b, a = read_snap(before), read_snap(after)
    seconds = a["time"] - b["time"]
    with open(results, "a") as f:
        for name in names + ["machine"]:
            s = delta_seconds(b, a, name)
            f.write(json.dumps({"kind": "idle", "phase": phase, "name": name,
                                "ms_per_s": None if s is None else s * 1e3 / seconds}) + "\n")

def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None

def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b

def summary(args):
    results, rounds, settle = args[0], args[1], args[2]
    recs = [json.loads(line) for line in open(results)]
    runs = [r for r in recs if r.get("kind") not in ("idle", "rss")]
    def group(kind, chain):
        rs = [r for r in runs if r["kind"] == kind and r["chain"] == chain]
        if not rs:
            return None
        g = {k: med([r[k] for r in rs]) for k in ("rps", "p50", "p99")}
        g["non2xx"] = sum(r["non2xx"] + r["sockerr"] for r in rs)
        g["requests"] = sum(r["requests"] for r in rs)
        g["n"] = len(rs)
        g["cpu"] = {n: med([r["cpu"].get(n) for r in rs]) for n in rs[0]["cpu"]}
        g["tail"] = {n: med([r.get("tail", {}).get(n) for r in rs]) for n in rs[0]["cpu"]}
        return g
    def table(title, rows, names):
        print(title)
        head = f"  {'':<22} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}   CPU µs/req: " + " ".join(f"{n:>12}" for n in names)
        print(head)
        for label, g in rows:
            if g is None:
                continue
            cells = " ".join(f"{fmt(g['cpu'].get(n), '12.0f')}" for n in names)
            print(f"  {label:<22} {g['rps']:8.0f} {fmt(g['p50'], '8.2f')} {fmt(g['p99'], '8.2f')} {g['non2xx']:7d}               {cells}")
    def tails(rows, names, settle):
        print(f"  CPU ms/s in the {settle} s after a run (the tail once load stops; median):")
        for label, g in rows:
            if g is not None:
                print(f"  {label:<22} {'':>8} {'':>8} {'':>8} {'':>7}               "
                      + " ".join(f"{fmt(g['tail'].get(n), '12.1f')}" for n in names))
    print()
    print(f"== Medians over {rounds} rounds (errors: non-2xx + socket errors, summed over the rounds) ==")
    sw, go = group("greet", "swift"), group("greet", "go")
    names = ["greeter", "caller", "custom-lang", "postgres", "machine"]
    table("Greet (greeter → caller → custom-lang /healthz, INSERT in greeter_db and caller_db)",
          [("Swift", sw), ("Go peer", go)], names)
    if sw and go:
        cells = " ".join(f"{fmt(ratio(sw['cpu'].get(n), go['cpu'].get(n)), '11.2f')}×" for n in names)
        print(f"  {'Swift/Go':<22} {fmt(ratio(sw['rps'], go['rps']), '7.2f')}× {fmt(ratio(sw['p50'], go['p50']), '7.2f')}× "
              f"{fmt(ratio(sw['p99'], go['p99']), '7.2f')}× {'':>7}               {cells}")
    if sw and go:
        # Each round's Swift and Go runs are adjacent, so their ratio shares the machine's state
        # at that moment; the spread shows how much of a single run is noise.
        paired = []
        for rnd in sorted({r.get("round") for r in runs if r["kind"] == "greet"}, key=str):
            pair = {r["chain"]: r for r in runs if r["kind"] == "greet" and r.get("round") == rnd}
            if "swift" in pair and "go" in pair:
                paired.append((ratio(pair["swift"]["rps"], pair["go"]["rps"]),
                               ratio(pair["swift"]["cpu"].get("greeter"), pair["go"]["cpu"].get("greeter")),
                               ratio(pair["swift"]["cpu"].get("caller"), pair["go"]["cpu"].get("caller"))))
        if paired:
            print("  per round (adjacent runs), Swift/Go req/s: " + " ".join(fmt(p[0], ".2f") for p in paired)
                  + f"  median {fmt(med([p[0] for p in paired]), '.2f')}"
                  + f";  greeter CPU {fmt(med([p[1] for p in paired]), '.2f')}, caller CPU {fmt(med([p[2] for p in paired]), '.2f')}")
    tails([("Swift", sw), ("Go peer", go)], names, settle)
    print()
    bare, sc, gc, sc1 = group("healthz", "bare"), group("healthz", "swift"), group("healthz", "go"), group("healthz", "swift1")
    table("GET /healthz (CPU of the process answering)", [("bare Hummingbird", bare), ("Swift caller, all cores", sc), ("Swift caller, 1 loop", sc1), ("Go caller", gc)], ["server", "machine"])
    for label, g in (("Swift (all cores)/bare", sc), ("Swift (1 loop)/bare", sc1), ("Go caller/bare", gc)):
        if g and bare:
            print(f"  {label:<22} {fmt(ratio(g['rps'], bare['rps']), '7.2f')}× {fmt(ratio(g['p50'], bare['p50']), '7.2f')}× "
                  f"{fmt(ratio(g['p99'], bare['p99']), '7.2f')}× {'':>7}               {fmt(ratio(g['cpu'].get('server'), bare['cpu'].get('server')), '11.2f')}×")
    print()
    gw, cl = group("invoke", "gateway"), group("invoke", "custom-lang")
    table("Report only: InvokeCustom on gateway (→ custom-lang /invoke)", [("gateway InvokeCustom", gw)], ["gateway", "custom-lang", "postgres", "machine"])
    table("Report only: custom-lang POST /invoke (one INSERT in lang_db)", [("custom-lang /invoke", cl)], ["custom-lang", "postgres", "machine"])
    print()

    idle_recs = [r for r in recs if r.get("kind") == "idle"]
    rss = {(r["name"], r["phase"]): r["mb"] for r in recs if r.get("kind") == "rss"}
    procs = []
    for r in idle_recs:
        if r["name"] not in procs:
            procs.append(r["name"])
    phases = []
    for r in idle_recs:
        if r["phase"] not in phases:
            phases.append(r["phase"])
    idle = {(r["name"], r["phase"]): r["ms_per_s"] for r in idle_recs}
    print(f"Idle (no load): RSS after start; CPU ms/s over the idle window (one tick = {1000 / TCK:.0f} ms CPU); peak RSS (VmHWM) at the end")
    print(f"  {'process':<20} {'RSS idle MB':>12} " + " ".join(f"{'CPU ms/s ' + p:>24}" for p in phases) + f" {'RSS peak MB':>12}")
    for n in procs:
        print(f"  {n:<20} {fmt(rss.get((n, 'idle')), '12.1f')} " + " ".join(f"{fmt(idle.get((n, p)), '24.1f')}" for p in phases)
              + f" {fmt(rss.get((n, 'peak')), '12.1f')}")
    print()

    print("Targets (medians):")
    def target(label, value, op, limit, detail=""):
        ok = None if value is None else (value >= limit if op == ">=" else value <= limit)
        verdict = "n/a" if ok is None else ("PASS" if ok else "MISS")
        sign = "≥" if op == ">=" else "≤"
        print(f"  {label:<38} {fmt(value, '6.2f')}×   target {sign} {limit:.2f}×   {verdict}{detail}")
    if sw and go:
        target("Greet throughput Swift/Go", ratio(sw["rps"], go["rps"]), ">=", 1.0,
               f"   ({sw['rps']:.0f} vs {go['rps']:.0f} req/s)")
        target("Greet p99 Swift/Go", ratio(sw["p99"], go["p99"]), "<=", 1.0,
               f"   ({fmt(sw['p99'], '.2f')} vs {fmt(go['p99'], '.2f')} ms)")
        for n in ("greeter", "caller"):
            target(f"Greet CPU/request {n} Swift/Go", ratio(sw["cpu"].get(n), go["cpu"].get(n)), "<=", 1.5,
                   f"   ({fmt(sw['cpu'].get(n), '.0f')} vs {fmt(go['cpu'].get(n), '.0f')} µs)")
    if sc and bare:
        target("/healthz req/s Swift caller / bare HB", ratio(sc["rps"], bare["rps"]), ">=", 0.8,
               f"   ({sc['rps']:.0f} vs {bare['rps']:.0f} req/s; Go caller {gc['rps']:.0f} req/s)" if gc else "")
    bad = [(lbl, g) for lbl, g in (("Swift Greet", sw), ("Go Greet", go), ("bare /healthz", bare), ("Swift /healthz", sc),
                                   ("Go /healthz", gc), ("InvokeCustom", gw), ("custom-lang /invoke", cl)) if g and g["non2xx"]]
    for lbl, g in bad:
        print(f"  WARNING: {lbl}: {g['non2xx']} of {g['requests']} responses were errors; its figures are suspect")

if __name__ == "__main__":
    {"snap": snap, "record": record, "idle": idle, "summary": summary}[sys.argv[1]](sys.argv[2:])
PY
bench() { python3 "$dir/bench.py" "$@"; }

# ---- PostgreSQL ---------------------------------------------------------------------------------
declare -A used
free_port() { # → REPLY: a port the kernel just handed out, not given to another process here
    local p
    while :; do
        p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        [ -z "${used[$p]:-}" ] && { used[$p]=1; REPLY=$p; return; }
    done
}
free_port; pg_port=$REPLY
sed "s/^  port: 5432/  port: $pg_port/" devctl.yaml >"$dir/devctl.yaml"
grep -q "^  port: $pg_port\$" "$dir/devctl.yaml" || die "devctl.yaml has no '  port: 5432' line under postgres: to rewrite"
for s in Sources/Services/*/Migrations; do mkdir -p "$dir/$s"; cp "$s"/*.sql "$dir/$s/"; done
db_started=1
(cd "$dir" && "$devctl" db init >"$dir/db-init.log" 2>&1) || { cat "$dir/db-init.log" >&2; die "devctl db init failed"; }
db() { echo "postgresql://devuser:devpass@127.0.0.1:$pg_port/$1"; }
# The postmaster: the postmaster.pid (line 4: the port) of the cluster devctl made for this folder.
pg_pid=
for f in "$dir"/.devctl/postgres/data/postmaster.pid /var/lib/devctl/clusters/*/data/postmaster.pid; do
    [ -f "$f" ] && [ "$(sed -n 4p "$f")" = "$pg_port" ] && { pg_pid=$(head -n1 "$f"); break; }
done
[ -n "$pg_pid" ] || say "warning: the postmaster was not found; the postgres CPU column stays empty"

# ---- processes ----------------------------------------------------------------------------------
declare -A port pid
for s in custom-lang caller greeter gateway go-caller go-greeter bare caller-wide; do free_port; port[$s]=$REPLY; done
launch() { # name ready-path command…
    local name=$1 path=$2; shift 2
    (cd "$dir" && exec "$@" >"$dir/$name.log" 2>&1 </dev/null) &
    pids+=($!); pid[$name]=$!
    for _ in $(seq 300); do
        kill -0 "${pid[$name]}" 2>/dev/null || { tail -n 30 "$dir/$name.log" >&2; die "$name exited at start"; }
        curl -fs -o /dev/null "http://127.0.0.1:${port[$name]}$path" && return 0
        sleep 0.1
    done
    tail -n 30 "$dir/$name.log" >&2; die "$name did not become ready ($path) within 30 s"
}
swift_service() { # name database env… (NAME-wide: a second instance of NAME)
    local name=$1 database=$2; shift 2
    launch "$name" /readyz env LOG_LEVEL="$log_level" HOST=127.0.0.1 PORT="${port[$name]}" DATABASE_URL="$(db "$database")" "$@" \
        "$devctl" serve "${name%-wide}" --no-config
}
go_peer() { # name role database env…
    local name=$1 role=$2 database=$3; shift 3
    launch "$name" /readyz env LOG_LEVEL="$log_level" HOST=127.0.0.1 PORT="${port[$name]}" DATABASE_URL="$(db "$database")" "$@" \
        "$go_bin" -role "$role" -port "${port[$name]}"
}
target="http://127.0.0.1:${port[custom-lang]}/healthz"
swift_service custom-lang lang_db
swift_service caller caller_db CALLER_ALLOWED_HOSTS="127.0.0.1:${port[custom-lang]}"
swift_service greeter greeter_db CALLER_BASE_URL="http://127.0.0.1:${port[caller]}" EXTERNAL_API_URL="$target"
swift_service gateway gateway_db CUSTOM_LANG_BASE_URL="http://127.0.0.1:${port[custom-lang]}"
go_peer go-caller caller caller_db CALLER_ALLOWED_HOSTS="127.0.0.1:${port[custom-lang]}"
go_peer go-greeter greeter greeter_db CALLER_BASE_URL="http://127.0.0.1:${port[go-caller]}" EXTERNAL_API_URL="$target"
# /healthz against a bare Hummingbird route, both given the whole machine: the bare server as
# Hummingbird runs by default (a loop per core, handlers on the global pool), a second caller with
# a loop per core (the services' default is one loop, which caps a plain route at one core).
wide_loops=$(nproc)
launch bare /healthz env PORT="${port[bare]}" "$bare_bin"
swift_service caller-wide caller_db NIO_SINGLETON_GROUP_LOOP_COUNT="$wide_loops" CALLER_ALLOWED_HOSTS="127.0.0.1:${port[custom-lang]}"

greet_url() { echo "http://127.0.0.1:${port[$1]}/greeter.v1.GreeterService/Greet"; }
# One Greet through each chain: both answer, and the message is the same.
for g in greeter go-greeter; do
    answer=$(curl -fsS -XPOST -H 'Content-Type: application/json' -d '{"name":"check"}' "$(greet_url "$g")") \
        || { tail -n 20 "$dir/$g.log" >&2; die "Greet on $g failed"; }
    case "$answer" in *'"Hello check!"'*) ;; *) die "Greet on $g answered $answer";; esac
done

# ---- measuring ----------------------------------------------------------------------------------
procs=(custom-lang caller greeter gateway go-caller go-greeter bare caller-wide)
alive_check() { for n in "${procs[@]}"; do kill -0 "${pid[$n]}" 2>/dev/null || { tail -n 30 "$dir/$n.log" >&2; die "$n died"; }; done; }
rss_mb() { awk '/^VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
hwm_mb() { awk '/^VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
snapshot() { # file NAME=PID…
    local file=$1; shift
    bench snap "$@" >"$file"
}
idle_names=(greeter caller custom-lang gateway go-greeter go-caller bare postgres)
idle_args() { for n in "${idle_names[@]}"; do if [ "$n" = postgres ]; then echo "postgres=$pg_pid"; else echo "$n=${pid[$n]}"; fi; done; }
measure_idle() { # phase
    mapfile -t args < <(idle_args)
    snapshot "$dir/idle0" "${args[@]}"
    sleep "$idle_window"
    snapshot "$dir/idle1" "${args[@]}"
    bench idle "$results" "$1" "$dir/idle0" "$dir/idle1" "${idle_names[@]}"
}

cat >"$dir/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"name":"bench"}'
wrk.headers["Content-Type"] = "application/json"
LUA
wrk_to() { # out seconds method url
    local script=()
    [ "$3" = POST ] && script=(-s "$dir/post.lua")
    wrk -t2 -c"$connections" -d"$2s" --latency "${script[@]}" "$4" >"$1" 2>&1 &
    wrk_pid=$!
    wait "$wrk_pid" || { cat "$1" >&2; wrk_pid=; die "wrk failed on $4"; }
    wrk_pid=
}
# run KIND CHAIN LABEL METHOD URL NAME=PID…: one measured wrk run and its line.
run_no=0
run() {
    local kind=$1 chain=$2 label=$3 method=$4 url=$5; shift 5
    local names=() a
    for a in "$@"; do names+=("${a%%=*}"); done
    run_no=$((run_no + 1))
    snapshot "$dir/before" "$@"
    wrk_to "$dir/wrk-$run_no.out" "$duration" "$method" "$url"
    snapshot "$dir/after" "$@"
    sleep "$settle"
    snapshot "$dir/settled" "$@"
    alive_check
    bench record "$results" "$kind" "$chain" "$round" "$label" "$dir/wrk-$run_no.out" "$dir/before" "$dir/after" "$dir/settled" "$settle" "${names[@]}"
}
greet_swift() { run greet swift "Greet  Swift (greeter)" POST "$(greet_url greeter)" \
    greeter="${pid[greeter]}" caller="${pid[caller]}" custom-lang="${pid[custom-lang]}" postgres="$pg_pid"; }
greet_go() { run greet go "Greet  Go peer (go greeter)" POST "$(greet_url go-greeter)" \
    greeter="${pid[go-greeter]}" caller="${pid[go-caller]}" custom-lang="${pid[custom-lang]}" postgres="$pg_pid"; }
health_bare() { run healthz bare "/healthz  bare Hummingbird" GET "http://127.0.0.1:${port[bare]}/healthz" server="${pid[bare]}"; }
health_swift() { run healthz swift "/healthz  Swift caller, ${wide_loops} loops" GET "http://127.0.0.1:${port[caller-wide]}/healthz" server="${pid[caller-wide]}"; }
health_swift1() { run healthz swift1 "/healthz  Swift caller, 1 loop" GET "http://127.0.0.1:${port[caller]}/healthz" server="${pid[caller]}"; }
health_go() { run healthz go "/healthz  Go caller" GET "http://127.0.0.1:${port[go-caller]}/healthz" server="${pid[go-caller]}"; }
invoke_gateway() { run invoke gateway "InvokeCustom  gateway" POST "http://127.0.0.1:${port[gateway]}/gateway.v1.GatewayService/InvokeCustom" \
    gateway="${pid[gateway]}" custom-lang="${pid[custom-lang]}" postgres="$pg_pid"; }
invoke_cl() { run invoke custom-lang "POST /invoke  custom-lang" POST "http://127.0.0.1:${port[custom-lang]}/invoke" \
    custom-lang="${pid[custom-lang]}" postgres="$pg_pid"; }

# ---- the run ------------------------------------------------------------------------------------
echo "greet-vs-go: Swift services vs the Go peer (shared/peers/go-greet), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "  machine: $(nproc) cores, load average at start $(cut -d' ' -f1-3 /proc/loadavg); CPU tick $(getconf CLK_TCK)/s"
echo "  wrk -t2 -c$connections -d${duration}s --latency; $rounds interleaved rounds; ${settle}s pause between runs; LOG_LEVEL=$log_level for all"
echo "  event loops per Swift service: ${NIO_SINGLETON_GROUP_LOOP_COUNT:-1} (the default, 1, unless NIO_SINGLETON_GROUP_LOOP_COUNT is set); /healthz also on a caller with $wide_loops"
echo "  devctl: $devctl ($(sha256sum "$devctl" | cut -c1-12), $(date -u -r "$devctl" '+%Y-%m-%d %H:%M UTC'))$([ "$static" = 1 ] && echo ', static stdlib')"
echo "  repo: $root at $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?') (migrations, devctl.yaml)"
echo "  Go peer: $go_bin (built $(date -u -r "$go_bin" '+%Y-%m-%d %H:%M UTC')); statement cache ${PEER_PG_STATEMENT_CACHE:-prepare}, caller codec ${PEER_CALLER_CODEC:-proto}, guard resolve ${PEER_GUARD_RESOLVE:-always}, pool ${PEER_POOL_SIZE:-10}"
echo "  bare Hummingbird: $bare_bin"
echo "  target of both chains: $target (custom-lang); PostgreSQL on 127.0.0.1:$pg_port (postmaster pid ${pg_pid:-?})"
echo

sleep 1
for n in "${procs[@]}"; do printf '{"kind":"rss","name":"%s","phase":"idle","mb":%s}\n' "$n" "$(rss_mb "${pid[$n]}")" >>"$results"; done
say "idle window (${idle_window}s) before load"
measure_idle "before load"

say "warm-up (${warmup}s wrk on each endpoint, not recorded)"
for url in "$(greet_url greeter)" "$(greet_url go-greeter)" "http://127.0.0.1:${port[gateway]}/gateway.v1.GatewayService/InvokeCustom" \
    "http://127.0.0.1:${port[custom-lang]}/invoke"; do
    wrk_to "$dir/warm.out" "$warmup" POST "$url"
done
for n in bare caller caller-wide go-caller; do wrk_to "$dir/warm.out" "$warmup" GET "http://127.0.0.1:${port[$n]}/healthz"; done
sleep "$settle"

for round in $(seq "$rounds"); do
    if [ $((round % 2)) = 1 ]; then greet_swift; greet_go; else greet_go; greet_swift; fi
    case $((round % 3)) in
        1) health_bare; health_swift; health_go; health_swift1 ;;
        2) health_swift; health_go; health_bare; health_swift1 ;;
        0) health_go; health_bare; health_swift; health_swift1 ;;
    esac
    if [ $((round % 2)) = 1 ]; then invoke_gateway; invoke_cl; else invoke_cl; invoke_gateway; fi
done

say "idle window (${idle_window}s) after load (${settle}s + 5s after the last run)"
sleep 5
measure_idle "after load"
for n in "${procs[@]}"; do printf '{"kind":"rss","name":"%s","phase":"peak","mb":%s}\n' "$n" "$(hwm_mb "${pid[$n]}")" >>"$results"; done
alive_check

bench summary "$results" "$rounds" "$settle"
echo "  load average at the end $(cut -d' ' -f1-3 /proc/loadavg) (the machine column counts every process on the machine, wrk included)"
if command -v psql >/dev/null; then
    greetings=$(PGPASSWORD=devpass psql -h 127.0.0.1 -p "$pg_port" -U devuser -d greeter_db -tAc 'SELECT count(*) FROM greetings' 2>/dev/null || echo '?')
    calls=$(PGPASSWORD=devpass psql -h 127.0.0.1 -p "$pg_port" -U devuser -d caller_db -tAc 'SELECT count(*) FROM call_logs' 2>/dev/null || echo '?')
    echo "  rows written by both chains (warm-up included): greetings $greetings, call_logs $calls"
fi
