#!/usr/bin/env bash
# Benchmarks `devctl db init` cold (initdb + 5 databases + migrations) and warm (no-op), and
# `devctl --version`, against a peer doing the same work in the same run: the seed's way, a shell
# script of initdb + pg_ctl + createdb + psql -f. Prints medians; not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}

bash scripts/release-build.sh --product devctl >/dev/null
devctl=$(bash scripts/release-build.sh --show-bin-path)/devctl
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# A copy of the repository's stack (devctl.yaml + migrations) on a free port, in a temp folder.
make_repo() {
    local dir port
    dir=$(mktemp -d /tmp/devctl-bench-XXXXXX); chmod 755 "$dir"; port=$(free_port)
    sed "s/^  port: 5432/  port: $port/" devctl.yaml > "$dir/devctl.yaml"
    mkdir -p "$dir/Sources/Services"
    for s in Sources/Services/*/Migrations; do mkdir -p "$dir/$s"; cp "$s"/*.sql "$dir/$s/"; done
    echo "$dir"
}

cold=(); warm=(); peer=(); version=(); peer_version=()
for i in $(seq "$runs"); do
    repo=$(make_repo)
    t0=$(now); (cd "$repo" && "$devctl" db init >/dev/null); t1=$(now); cold+=("$(ms "$t0" "$t1")")
    t0=$(now); (cd "$repo" && "$devctl" db init >/dev/null); t1=$(now); warm+=("$(ms "$t0" "$t1")")
    (cd "$repo" && "$devctl" db stop >/dev/null); rm -rf "$repo"

    # Peer: the seed's init-db.sh flow on a fresh cluster, with the same migrations.
    dir=$(mktemp -d /tmp/devctl-peer-XXXXXX); chmod 755 "$dir"; port=$(free_port)
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    echo devpass > "$dir/pw"; [ "$(id -u)" -eq 0 ] && chown postgres "$dir/pw"
    t0=$(now)
    as_pg "$pgbin/initdb" -D "$dir/data" -U devuser --pwfile="$dir/pw" -E UTF8 --locale=C.UTF-8 \
        --auth-host=scram-sha-256 --no-instructions >/dev/null
    as_pg "$pgbin/pg_ctl" start -D "$dir/data" -l "$dir/log" -w -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=''" >/dev/null
    for db in greeter_db caller_db gateway_db auth_db lang_db; do
        PGPASSWORD=devpass psql -q -h 127.0.0.1 -p "$port" -U devuser -d postgres -c "CREATE DATABASE $db" >/dev/null
    done
    for pair in greeter_db:Greeter caller_db:Caller gateway_db:Gateway auth_db:Auth lang_db:CustomLang; do
        for f in Sources/Services/${pair#*:}/Migrations/*.sql; do
            PGPASSWORD=devpass psql -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U devuser -d "${pair%%:*}" -1 -f "$f" >/dev/null
        done
    done
    t1=$(now); peer+=("$(ms "$t0" "$t1")")
    as_pg "$pgbin/pg_ctl" stop -D "$dir/data" -m fast >/dev/null; rm -rf "$dir"

    t0=$(now); "$devctl" --version >/dev/null; t1=$(now); version+=("$(( (t1 - t0) / 100000 ))")
    t0=$(now); psql --version >/dev/null; t1=$(now); peer_version+=("$(( (t1 - t0) / 100000 ))")
done

tenths() { awk '{printf "%.1f", $1/10}'; }
echo "runs: $runs (median), $(nproc) cores"
echo "devctl db init, cold (initdb + 5 databases + migrations): $(printf '%s\n' "${cold[@]}" | median) ms   target <= 4000"
echo "  peer (initdb + pg_ctl + createdb + psql -f, the seed's way): $(printf '%s\n' "${peer[@]}" | median) ms"
echo "devctl db init, warm no-op:                               $(printf '%s\n' "${warm[@]}" | median) ms   target <= 300"
echo "devctl --version:                                         $(printf '%s\n' "${version[@]}" | median | tenths) ms   target <= 20"
echo "  peer (psql --version):                                  $(printf '%s\n' "${peer_version[@]}" | median | tenths) ms"
