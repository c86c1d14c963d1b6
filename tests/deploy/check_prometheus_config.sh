#!/usr/bin/env bash
# promtool check config on deploy/prometheus/prometheus.yml. Debian's Prometheus is built
# without Kubernetes service discovery, so the copy checked here has its kubernetes_sd_configs
# replaced by an empty static_configs; everything else (relabelling, rule files) is checked
# as written.
# Usage: check_prometheus_config.sh PROMTOOL REPO
set -euo pipefail
promtool=$1 repo=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$repo/deploy/prometheus/rules" "$tmp/"
python3 - "$repo/deploy/prometheus/prometheus.yml" "$tmp/prometheus.yml" <<'PY'
import sys, yaml
config = yaml.safe_load(open(sys.argv[1]))
replaced = 0
for job in config["scrape_configs"]:
    if job.pop("kubernetes_sd_configs", None) is not None:
        job["static_configs"] = [{"targets": []}]
        replaced += 1
if not replaced:
    sys.exit("no kubernetes_sd_configs found: update this check")
yaml.safe_dump(config, open(sys.argv[2], "w"))
PY
"$promtool" check config "$tmp/prometheus.yml"
