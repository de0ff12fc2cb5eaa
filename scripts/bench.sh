#!/usr/bin/env bash
# Builds Baton and runs its benchmarks (bench/README.md): the in-process core benchmark, then,
# against a real Apache Kafka broker started here on a free loopback port and always stopped,
# end-to-end throughput against a bare consumer, event-to-lead latency, memory, recovery.
# Prints a table against the targets and writes bench-results/results.json (plus one JSON per
# part). About 15 minutes on 2 cores; arguments go to bench/run_benchmarks.py, e.g.
#   ./scripts/bench.sh --quick              # small sizes, a few minutes
#   ./scripts/bench.sh --only core,e2e      # a subset
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
bash tests/kafka/kafka.sh fetch
exec python3 bench/run_benchmarks.py "$@"
