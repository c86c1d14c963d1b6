#!/usr/bin/env bash
# README command one, non-interactive: the guide's walk-through, driven through the controller
# with mcsinkctl, must end with the test message as a row of test_kafka, shown by
# `select * from test_kafka where pt=...`.
set -euo pipefail
build=$1
run=$(mktemp -d)
trap 'rm -rf "$run"' EXIT
out=$(MCSINK_BUILD_DIR="$build" MCSINK_RUN_DIR="$run" \
      "$(dirname "$0")/../../deploy/quickstart.sh" --once --skip-build 2>&1) || {
  echo "$out"; exit 1; }
echo "$out"
echo "$out" | grep -q '^connector kafka-maxcompute-sink created and deployed$' || {
  echo "FAIL: mcsinkctl create --deploy did not create the connector"; exit 1; }
echo "$out" | grep -q '^kafka-maxcompute-sink: RUNNING' || {
  echo "FAIL: mcsinkctl --wait did not see the connector RUNNING"; exit 1; }
echo "$out" | grep -Eq '^kafka-maxcompute-sink +RUNNING +RUNNING ' || {
  echo "FAIL: mcsinkctl list did not show the connector running"; exit 1; }
echo "$out" | grep -q '^pt=[0-9][0-9]-[0-9][0-9]-[0-9]\{4\} [0-9][0-9]$' || {
  echo "FAIL: show partitions did not list an HOUR partition in MM-dd-yyyy HH"; exit 1; }
echo "$out" | grep -Eq '^\| maxcompute-test-input *\| [0-9]+ +\| 0 +\| 1 +\| 1 +\|' || {
  echo "FAIL: select did not show the row maxcompute-test-input | p | 0 | 1 | 1"; exit 1; }
echo "quickstart: the walk-through shows the test message"
