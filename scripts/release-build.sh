#!/usr/bin/env bash
# The release build that ships (deploy/docker/Dockerfile) and that bench/ measures. Arguments go
# to `swift build` (`--product devctl`, `--show-bin-path`, `--static-swift-stdlib` …).
#
# Whole-program cross-module optimisation (`-cross-module-optimization` for every module, the
# dependencies included): SwiftNIO's, Hummingbird's and postgres-nio's generic code is then
# specialised into the services instead of running through witness tables and runtime metadata
# lookups. Measured on the Greet chain (interleaved A/B, four rounds, bench/greet-vs-go.sh's
# shape): greeter 247 → 209 µs, caller 234 → 201 µs of CPU per Greet, 2,066 → 2,344 req/s.
# Flags on the command line reach dependencies, which Package.swift's settings cannot; a scratch
# folder of its own keeps a plain `swift build -c release` from rebuilding everything in turn.
#   RELEASE_SCRATCH=.build-static   another scratch folder (default .build-release)
set -euo pipefail
cd "$(dirname "$0")/.."
exec swift build -c release -Xswiftc -cross-module-optimization --scratch-path "${RELEASE_SCRATCH:-.build-release}" "$@"
