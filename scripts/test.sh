#!/usr/bin/env bash
# The whole test suite, from nothing: installs what is missing, builds, runs every test.
# Tests start their own PostgreSQL clusters on free ports in temp folders.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

# protoc-gen-swift is a peer of `devctl gen` in the tests (and what buf.gen.yaml runs).
swift build --product protoc-gen-swift
swift build --build-tests
swift test --skip-build "$@"
# CI's clone is throw-away: there `devctl new service` is also tested end to end in place
# (scaffold, build, up, calls through the edge, down); elsewhere run scripts/e2e-new-service.sh.
if [ "${CI:-}" = true ] && [ "$#" -eq 0 ]; then
    bash scripts/e2e-new-service.sh --in-place
fi
