#!/usr/bin/env bash
# Runs Baton's Kafka integration tests (tests/integration) from the repo root. Extra arguments go
# to pytest, e.g. `tests/integration/run.sh -k restart -x`. The baton binary is $BATON_BIN, or
# build/services/baton/baton; without it the tests are skipped.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export PYTHONDONTWRITEBYTECODE=1
exec python3 -m pytest -q -p no:cacheprovider --tb=short tests/integration "$@"
