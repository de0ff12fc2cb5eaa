#!/usr/bin/env bash
# The README's first command: install what is missing, build, and run Baton on the embedded
# mock cluster with the bundled scenario. Ctrl-C stops it. Arguments go to `baton`
# (e.g. --exit-when-idle 5, --scenario FILE, --metrics-address 127.0.0.1:9464).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
exec build/services/baton/baton "$@"
