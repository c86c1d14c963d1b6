#!/usr/bin/env python3
"""Checks the live /metrics of running services with `promtool check metrics` (exposition format
and Prometheus' naming conventions), and that every mcsink/mclocal/process metric they expose
is one check_monitoring.py finds in the source (so its list, which the dashboard and rules are
checked against, misses nothing).

Usage:
  check_live_metrics.py PROMTOOL REPO -- BINARY [ARGS...]
      one service started with its own args (its metrics port must be 0 in ARGS)
  check_live_metrics.py PROMTOOL REPO --kafka BINARY [ARGS...]
      the same, with --kafka_bootstrap_servers= the broker of the CTest fixture "kafka" added
  check_live_metrics.py PROMTOOL REPO --pipeline MCLOCAL MCLOCAL_SQL INGEST TRANSFORM WRITER
      mclocal with a table, and ingest, transform and writer for a connector writing to it,
      reading from the Kafka broker whose bootstrap address is in the file named by
      MCSINK_KAFKA_BOOTSTRAP_FILE (the CTest fixture "kafka")
"""
import os
import re
import subprocess
import sys

import check_monitoring
import promharness

# prometheus-cpp's own metrics about the exposer.
LIBRARY_PREFIXES = ("exposer_",)


def check(promtool, exported, name, service):
    """Errors found in service's live /metrics."""
    text = promharness.wait_until(f"{name} /metrics",
                                  lambda: promharness.http_get(service.metrics_url), timeout=10)
    errors = []
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True)
    out = (result.stdout + result.stderr).decode().strip()
    if result.returncode != 0 or out:
        errors.append(f"{name}: promtool check metrics failed:\n{out}")
    names = set(re.findall(r"^# TYPE (\S+) (\S+)", text.decode(), re.M))
    if not names:
        errors.append(f"{name}: /metrics has no metric families")
    series = set(re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)", text.decode(), re.M))
    unknown = sorted(s for s in series
                     if not s.startswith(LIBRARY_PREFIXES) and s not in exported)
    if unknown:
        errors.append(f"{name}: exports {unknown}, which check_monitoring.py does not find in "
                      "the source: update its exported_metrics()")
    print(f"{name}: {len(names)} metric families, {len(series)} series names pass")
    return errors


def single(promtool, exported, argv):
    with promharness.Service(argv) as service:
        return check(promtool, exported, os.path.basename(argv[0]), service)


def pipeline(promtool, exported, mclocal, mclocal_sql, ingest, transform, writer):
    binaries = {"mclocal": mclocal, "mclocal-sql": mclocal_sql, "ingest": ingest,
                "transform": transform, "writer": writer}
    errors = []
    # The source topic need not exist for the services to start and serve /metrics.
    with promharness.Pipeline(binaries, promharness.kafka_bootstrap(),
                              "live-metrics-orders") as p:
        for name, service in p.services.items():
            errors += check(promtool, exported, name, service)
    return errors


def main():
    promtool, repo, mode, rest = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    exported = check_monitoring.exported_metrics(repo)
    try:
        if mode == "--pipeline":
            errors = pipeline(promtool, exported, *rest)
        elif mode == "--":
            errors = single(promtool, exported, rest)
        elif mode == "--kafka":
            errors = single(promtool, exported,
                            rest + [f"--kafka_bootstrap_servers={promharness.kafka_bootstrap()}"])
        else:
            raise SystemExit(__doc__)
    except promharness.Failure as e:
        errors = [str(e)]
    for e in errors:
        print("error:", e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
