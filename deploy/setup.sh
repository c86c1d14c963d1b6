#!/usr/bin/env bash
# Installs everything mcsink needs on a Debian 12 machine, and is quick when all is there:
#   - Debian packages: compilers and build tools, gRPC/protobuf, librdkafka, Abseil, cpprestsdk,
#     prometheus-cpp, GoogleTest/GoogleMock, Google Benchmark, simdjson, zlib, kcat, Java, Maven;
#   - the Apache Kafka broker jars from Maven Central into .deps/kafka/libs (deploy/kafka/pom.xml);
#   - pyodps (the official MaxCompute SDK) and pytest from PyPI into the virtualenv .deps/venv.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
deps=$repo/.deps
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo

packages=(
  build-essential cmake ninja-build pkg-config git curl ca-certificates python3 python3-venv
  clang-format clang-14 libclang-rt-14-dev tzdata
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librdkafka-dev libabsl-dev libcpprest-dev prometheus-cpp-dev libssl-dev zlib1g-dev
  libsimdjson-dev libgtest-dev libgmock-dev libbenchmark-dev kcat
  openjdk-17-jre-headless maven
  prometheus python3-yaml
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A JDK from elsewhere (for example an image's own) will do instead of Debian's.
if command -v java >/dev/null && java -version 2>&1 | grep -qE 'version "(1[7-9]|[2-9][0-9])'; then
  missing=("${missing[@]/openjdk-17-jre-headless}")
fi
command -v mvn >/dev/null && missing=("${missing[@]/maven}")
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" > "${TMPDIR:-/tmp}/mcsink-apt.log" 2>&1 || {
      tail -30 "${TMPDIR:-/tmp}/mcsink-apt.log" >&2; exit 1; }
fi

# Kafka broker jars, refetched when the pom changes.
pom=$repo/deploy/kafka/pom.xml
stamp=$(sha256sum "$pom" | cut -c1-16)
if [ "$(cat "$deps/kafka/stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "setup: fetching the Kafka broker from Maven Central"
  rm -rf "$deps/kafka"
  mkdir -p "$deps/kafka"
  mvn -q -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$deps/kafka/libs"
  echo "$stamp" > "$deps/kafka/stamp"
fi

# pyodps for the interop tests, refetched when the requirements change.
req=$repo/tests/interop/requirements.txt
stamp=$(sha256sum "$req" | cut -c1-16)
if [ "$(cat "$deps/venv/stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "setup: installing pyodps into .deps/venv"
  rm -rf "$deps/venv"
  python3 -m venv "$deps/venv"
  "$deps/venv/bin/pip" install -q --disable-pip-version-check -r "$req"
  echo "$stamp" > "$deps/venv/stamp"
fi
echo "setup: ready"
