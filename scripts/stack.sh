#!/usr/bin/env bash
# The stack, from nothing: installs what is missing, builds devctl, brings up the embedded
# PostgreSQL, creates and migrates every service's database, and prints the status table.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

swift build --product devctl
devctl=$(swift build --show-bin-path)/devctl
"$devctl" db init
echo
"$devctl" db status
