#!/usr/bin/env bash
# Installs what is missing and builds Baton into build/ (Release with debug info).
# Extra arguments go to CMake's configure step, e.g. -DBATON_SANITIZE=address,undefined.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
werror=OFF
[[ "${CI:-}" == "true" ]] && werror=ON
cmake -S . -B build -G Ninja -DBATON_WERROR="$werror" "$@" >/dev/null
# Two cores: two compile jobs.
cmake --build build -j 2
