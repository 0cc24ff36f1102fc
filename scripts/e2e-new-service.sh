#!/usr/bin/env bash
# End to end for `devctl new service`: scaffold billing (swift-rpc) and ledger (swift-rest),
# build, `devctl up -d` them with auth, call each through the edge with a token from auth (billing
# over Connect and gRPC, and listed by grpcurl through reflection on its own port),
# `devctl down`. Runs in a throw-away clone of this repository (its own build, so the first
# run takes long); `--in-place` runs in this checkout (CI's clone is throw-away already), and
# restores it afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" != "--in-place" ]; then
    work=$(mktemp -d /tmp/devctl-e2e-new-XXXXXX); chmod 755 "$work"
    git clone -q . "$work/repo"
    trap 'rm -rf "$work"' EXIT
    bash "$work/repo/scripts/e2e-new-service.sh" --in-place
    exit 0
fi
source scripts/setup.sh
restore() {
    "$devctl" down --purge --yes >/dev/null 2>&1 || true
    git checkout -q -- devctl.yaml Sources/Services/ServiceRegistry.swift
    # `new service` also generates the TypeScript client for the web frontend.
    git clean -fdq -- proto Sources Tests deploy frontend/src/gen
}
swift build --product devctl
devctl=$(swift build --show-bin-path)/devctl
trap restore EXIT
# Every port of the stack moved to a free one: never the dev ports, so it runs beside a stack.
python3 - <<'PY'
import re, socket
def free():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
ports = {p: free() for p in (5432, 8080, 8081, 8082, 8090, 3000, 30081)}
text = open("devctl.yaml").read()
open("devctl.yaml", "w").write(re.sub(r"(port: |:)(\d+)\b", lambda m: m.group(1) + str(ports.get(int(m.group(2)), m.group(2))), text))
PY
"$devctl" new service billing --expose --depends-on caller
"$devctl" new service ledger --template swift-rest --expose
swift build --product devctl
"$devctl" up -d billing ledger auth --timeout 120
edge=http://127.0.0.1:$(awk '/^edge:/{f=1} f && /port:/{print $2; exit}' devctl.yaml)
curl -fsS -XPOST "$edge/auth/signup" -H 'Content-Type: application/json' -d '{"email":"e2e@example.com","password":"e2e-pass-1234"}' >/dev/null
token=$(curl -fsS -XPOST "$edge/auth/login" -H 'Content-Type: application/json' -d '{"email":"e2e@example.com","password":"e2e-pass-1234"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
reply=$(curl -fsS -XPOST "$edge/billing.v1.BillingService/Hello" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d '{"name":"Ada"}')
echo "billing: $reply"
[ "$(echo "$reply" | python3 -c 'import json,sys; print(json.load(sys.stdin)["message"])')" = "Hello Ada!" ]
# The same service speaks gRPC (h2c) too: reflection on its own port, and a call through the edge.
billing_port=$(awk '/^  billing:/{f=1} f && /port:/{print $2; exit}' devctl.yaml)
grpcurl -plaintext "127.0.0.1:$billing_port" list | grep -qx billing.v1.BillingService \
    || { echo "grpcurl list on billing's port did not show billing.v1.BillingService" >&2; exit 1; }
grpc_reply=$(grpcurl -plaintext -import-path proto -proto billing/v1/billing.proto -H "authorization: Bearer $token" \
    -d '{"name":"gRPC"}' "${edge#http://}" billing.v1.BillingService/Hello)
echo "billing over gRPC: $grpc_reply"
[ "$(echo "$grpc_reply" | python3 -c 'import json,sys; print(json.load(sys.stdin)["message"])')" = "Hello gRPC!" ]
status=$(curl -s -o /dev/null -w '%{http_code}' -XPOST "$edge/billing.v1.BillingService/Hello" -H 'Content-Type: application/json' -d '{}')
[ "$status" = 401 ] || { echo "billing without a token answered $status, expected 401" >&2; exit 1; }
curl -fsS -XPOST "$edge/ledger/items" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d '{"name":"first"}' >/dev/null
items=$(curl -fsS "$edge/ledger/items" -H "Authorization: Bearer $token")
echo "ledger: $items"
[ "$items" = '{"items":["first"]}' ]
"$devctl" down
echo "e2e new service: ok"
