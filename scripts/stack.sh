#!/usr/bin/env bash
# The stack, from nothing: installs what is missing, builds devctl, then `devctl up`: the
# embedded PostgreSQL (initialised and migrated on first use), the five services in dependency
# order, and the HAProxy edge on :30081. Foreground with merged logs; Ctrl-C stops it all.
# Arguments go to `devctl up` (e.g. `-d` to run in the background, `greeter` for one service).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

swift build --product devctl
devctl=$(swift build --show-bin-path)/devctl
exec "$devctl" up "$@"
