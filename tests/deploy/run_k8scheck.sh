#!/usr/bin/env bash
# Tests and builds tests/deploy/k8scheck (its modules pinned by go.mod and go.sum: the first run
# downloads them from the Go module proxy, later runs use Go's caches), then checks every
# kustomization and manifest in deploy/ with it.
# Usage: run_k8scheck.sh GO REPO OUTPUT_DIR
set -euo pipefail
go=$1 repo=$2 out=$3
export GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false"
cd "$repo/tests/deploy/k8scheck"
"$go" test ./...
"$go" build -o "$out/k8scheck" .
cd "$repo"
args=()
for k in deploy/k8s/base deploy/k8s/overlays/*/; do args+=(-kustomize "${k%/}"); done
exec "$out/k8scheck" "${args[@]}" -files deploy/k8s -files deploy/prometheus/operator
