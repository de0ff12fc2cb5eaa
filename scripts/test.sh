#!/usr/bin/env bash
# The README's second command: install what is missing, build, and run every test — the unit
# tests, the demo, and the integration tests against a real Apache Kafka broker (KRaft), which
# the tests start and stop themselves. Arguments go to ctest (e.g. -L unit, -R integration).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
bash tests/kafka/kafka.sh fetch
cd build
ctest --output-on-failure --timeout 900 "$@"
