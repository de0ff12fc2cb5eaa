#!/usr/bin/env bash
# The README's second command: install what is missing, build, and run every test — the fuzz
# targets for a bounded number of runs, then the unit tests, the demo and the integration tests
# against a real Apache Kafka broker (KRaft), which the tests start and stop themselves.
# Arguments go to ctest for the main suite and skip the fuzz run (e.g. -L unit, -R integration).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
bash tests/kafka/kafka.sh fetch

# Fuzz targets need clang's libFuzzer: a separate build tree that compiles only them.
if [[ $# -eq 0 ]]; then
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DBATON_FUZZ=ON -DBATON_BUILD_TESTS=OFF >/dev/null
  cmake --build build-fuzz -j 2 --target yaml_proto_fuzz decode_fuzz
  ctest --test-dir build-fuzz -L fuzz --output-on-failure --timeout 300
fi

cd build
ctest --output-on-failure --timeout 900 "$@"
