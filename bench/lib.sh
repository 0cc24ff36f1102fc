# Shared by the stack benchmarks (sourced, not run).

# copy_stack DIR: the repository's stack in DIR with every port moved to a free one (so a dev
# stack can run beside it) and the edge's rate limit out of the way (wrk measures routing, auth
# and CORS, not 429s); the services' migrations beside it.
copy_stack() {
    python3 - "$1" <<'PY'
import re, socket, sys
# All held open until every port is chosen, so no two are the same.
held = []
def free():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); held.append(s); return s.getsockname()[1]
ports = {p: free() for p in (5432, 8080, 8081, 8082, 8090, 3000, 3001, 30081, 4318, 10350)}
for s in held: s.close()
text = open("devctl.yaml").read()
text = re.sub(r"(port: |:)(\d+)\b", lambda m: m.group(1) + str(ports.get(int(m.group(2)), m.group(2))), text)
text = re.sub(r"rate_limit: \{[^}]*\}", "rate_limit: {average: 1000000, burst: 1000000}", text)
open(sys.argv[1] + "/devctl.yaml", "w").write(text)
PY
    local s
    for s in Sources/Services/*/Migrations; do mkdir -p "$1/$s"; cp "$s"/*.sql "$1/$s/"; done
    mkdir -p "$1/frontend"; cp -r frontend/build.sh frontend/index.html frontend/src "$1/frontend/"
}

# greet_script DIR EDGE_PORT: an account through the edge (signed up once), and DIR/greet.lua:
# wrk's Greet with that account's token.
greet_script() {
    curl -fs -XPOST "http://127.0.0.1:$2/auth/signup" -H 'Content-Type: application/json' -d '{"email":"bench@example.com","password":"bench12345"}' >/dev/null || true
    local token
    token=$(curl -fs -XPOST "http://127.0.0.1:$2/auth/login" -H 'Content-Type: application/json' -d '{"email":"bench@example.com","password":"bench12345"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
    cat > "$1/greet.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"name":"bench"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
LUA
}
