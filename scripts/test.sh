#!/usr/bin/env bash
# The whole test suite, from nothing: installs what is missing, builds, runs every test.
# Tests start their own PostgreSQL clusters on free ports in temp folders.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
# Golden references are rewritten only on an explicit request, never in a test run of this script.
unset UPDATE_GOLDEN

# The README's own set-up first, as a new user would: only devctl is built, and the first verb
# that needs protoc-gen-swift (`devctl gen`) must build it by itself. Then the drift check.
swift build --product devctl
"$(swift build --show-bin-path)/devctl" gen --check
swift build --build-tests
swift test --skip-build "$@"
# CI's clone is throw-away: there `devctl new service` is also tested end to end in place
# (scaffold, build, up, calls through the edge, down); elsewhere run scripts/e2e-new-service.sh.
if [ "${CI:-}" = true ] && [ "$#" -eq 0 ]; then
    bash scripts/e2e-new-service.sh --in-place
fi
