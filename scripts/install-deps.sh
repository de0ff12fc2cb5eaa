#!/usr/bin/env bash
# Installs what Baton needs to build, run and test on Debian 12. Idempotent: a second run
# installs nothing and takes a second. Used by scripts/demo.sh, scripts/test.sh and .ci/run.
set -euo pipefail

debian_packages=(
  build-essential cmake ninja-build pkg-config
  librdkafka-dev librocksdb-dev libprotobuf-dev protobuf-compiler
  prometheus-cpp-dev libspdlog-dev libgtest-dev libgmock-dev libabsl-dev libcli11-dev
  libyaml-cpp-dev libjemalloc-dev libsimdjson-dev tzdata clang libclang-rt-14-dev
  openjdk-17-jre-headless maven kcat clang-format curl
)

missing=()
for pkg in "${debian_packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
# Java and Maven may come from outside Debian's packages on some machines; accept what is on PATH.
if command -v java >/dev/null && java -version 2>&1 | grep -qE 'version "(1[7-9]|2[0-9])'; then
  missing=("${missing[@]/openjdk-17-jre-headless}")
fi
if command -v mvn >/dev/null; then missing=("${missing[@]/maven}"); fi
read -r -a missing <<<"${missing[*]:-}"

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The integration tests use Python's confluent-kafka as an independent Kafka client.
if ! python3 -c 'import confluent_kafka' 2>/dev/null; then
  echo "install-deps: installing Python confluent-kafka"
  python3 -m pip install -q 'confluent-kafka==2.6.1' 'protobuf>=4.21,<6'
fi
