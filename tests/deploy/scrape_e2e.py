#!/usr/bin/env python3
"""End to end: a real Prometheus (Debian's package) scrapes running mcsink services with
mcsink's rules loaded, and the test reads the series back through Prometheus' HTTP API.

  scrape_e2e.py PROMETHEUS REPO --allinone MCSINK
      the all-in-one process: up, and the process_* series
  scrape_e2e.py PROMETHEUS REPO --pipeline MCLOCAL MCLOCAL_SQL INGEST TRANSFORM WRITER
      ingest -> transform -> writer -> mclocal for a 3-partition topic on the Kafka broker of
      the CTest fixture "kafka": after RECORDS records are produced, Prometheus shows the
      throughput (records consumed, converted, committed, as counters, rates and the recording
      rule), the consumer lag of each partition falling to 0, offsets committed, no alert
      firing, and every query of the Grafana dashboard runs.
"""
import glob
import json
import os
import sys
import time

import promharness

RECORDS = 3000
PARTITIONS = 3


class Check:
    def __init__(self, prom):
        self.prom = prom
        self.failures = []

    def wait(self, expr, what, timeout=60):
        """Waits for expr (a filtering expression) to return samples; records a failure if not."""
        try:
            samples = self.prom.wait_for(expr, timeout=timeout)
            print(f"ok: {what}: {expr} -> {[round(v, 3) for _, v in samples]}")
            return samples
        except promharness.Failure as e:
            last = self.prom.query(expr.split(" == ")[0].split(" > ")[0])
            self.failures.append(f"{what}: {e}; the series is now {last}")
            return []


def check_rules(prom, check):
    def evaluated_rules():
        rules = [r for g in prom.api("rules")["groups"] for r in g["rules"]]
        done = all(not r.get("lastEvaluation", "0001").startswith("0001") for r in rules)
        return rules if rules and done else None

    rules = promharness.wait_until("every rule to be evaluated", evaluated_rules, timeout=15)
    for r in rules:
        if r.get("health") != "ok":
            check.failures.append(f"rule {r['name']} is {r.get('health')}: {r.get('lastError')}")
    print(f"ok: {len(rules)} rules evaluated in Prometheus")


def allinone(prometheus, repo, mcsink):
    rules = sorted(glob.glob(os.path.join(repo, "deploy", "prometheus", "rules", "*.yml")))
    with promharness.Service([mcsink, "--grpc_address=127.0.0.1:0",
                              "--metrics_address=127.0.0.1:0"]) as service, \
            promharness.Prometheus(prometheus, {"mcsink": [f"127.0.0.1:{service.metrics_port}"]},
                                   rules) as prom:
        check = Check(prom)
        check.wait('up{job="mcsink"} == 1', "the target is up")
        check.wait('process_cpu_seconds_total{job="mcsink"} >= 0', "CPU time is exported")
        check.wait('process_resident_memory_bytes{job="mcsink"} > 1048576',
                   "resident memory is over 1 MiB")
        check.wait('time() - process_start_time_seconds{job="mcsink"} < 3600',
                   "the process started within the last hour")
        check_rules(prom, check)
        return check.failures


def dashboard_queries(repo, prom, check):
    """Runs every query of the Grafana dashboards; returns how many gave data."""
    with_data = total = 0
    for path in glob.glob(os.path.join(repo, "deploy", "grafana", "dashboards", "*.json")):
        dash = json.load(open(path))
        stack = list(dash.get("panels", []))
        while stack:
            panel = stack.pop()
            stack.extend(panel.get("panels", []))
            for target in panel.get("targets", []):
                expr = (target["expr"].replace("$__rate_interval", "1m")
                        .replace("$namespace", ".*").replace("$connector", ".*"))
                total += 1
                try:
                    with_data += bool(prom.query(expr))
                except (promharness.Failure, OSError) as e:
                    check.failures.append(f"dashboard panel {panel.get('title')!r}: {expr}: {e}")
    print(f"ok: {total} dashboard queries ran, {with_data} with data")
    return with_data


def pipeline(prometheus, repo, mclocal, mclocal_sql, ingest, transform, writer):
    binaries = {"mclocal": mclocal, "mclocal-sql": mclocal_sql, "ingest": ingest,
                "transform": transform, "writer": writer}
    bootstrap = promharness.kafka_bootstrap()
    topic = f"scrape-e2e-{os.getpid()}-{int(time.time())}"
    promharness.create_topic(repo, bootstrap, topic, PARTITIONS)
    rules = sorted(glob.glob(os.path.join(repo, "deploy", "prometheus", "rules", "*.yml")))
    # Commit every second so rows reach MaxCompute (mclocal) within the test.
    with promharness.Pipeline(binaries, bootstrap, topic,
                              writer_args=["--commit_interval_seconds=1"]) as p, \
            promharness.Prometheus(prometheus, p.targets(), rules) as prom:
        check = Check(prom)
        t = f'topic="{topic}"'
        for job in p.targets():
            check.wait(f'up{{job="{job}"}} == 1', f"{job} is up", timeout=30)
        # Scraped before any record, so the counters' increase is seen.
        check.wait('mcsink_ingest_records_total{job="mcsink-ingest"} == 0',
                   "ingest counts from 0")
        promharness.produce(bootstrap, topic, [f"record {i}" for i in range(RECORDS)])

        check.wait(f'sum(mcsink_ingest_records_total{{job="mcsink-ingest"}}) == {RECORDS}',
                   "every record consumed")
        # Ingest sets a partition's lag as it consumes from it.
        check.wait(f"count(mcsink_ingest_consumer_lag_records{{{t}}}) == {PARTITIONS}",
                   "a lag series per partition")
        check.wait(f'sum(mcsink_transform_rows_total{{job="mcsink-transform"}}) == {RECORDS}',
                   "every record converted")
        check.wait(f'sum(mcsink_writer_committed_rows_total{{job="mcsink-writer"}}) == {RECORDS}',
                   "every row committed to MaxCompute")
        check.wait('sum(rate(mcsink_ingest_records_total{job="mcsink-ingest"}[1m])) > 0',
                   "ingest throughput")
        check.wait('mcsink:ingest_records:rate5m{namespace="e2e"} > 0',
                   "the throughput recording rule")
        check.wait(f"count(mcsink_ingest_consumer_lag_records{{{t}}} == 0) == {PARTITIONS}",
                   "every partition's lag back to 0")
        check.wait('mcsink:ingest_consumer_lag_records:sum{namespace="e2e"} == 0',
                   "the lag recording rule")
        check.wait('sum(mcsink_ingest_offset_commits_total{job="mcsink-ingest"}) > 0',
                   "offsets committed to Kafka")
        check_rules(prom, check)
        firing = [a["labels"] for a in prom.api("alerts")["alerts"] if a["state"] == "firing"]
        if firing:
            check.failures.append(f"alerts firing on a healthy pipeline: {firing}")
        if dashboard_queries(repo, prom, check) == 0:
            check.failures.append("no dashboard query gave data")
        return check.failures


def main():
    prometheus, repo, mode, rest = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    try:
        if mode == "--allinone":
            failures = allinone(prometheus, repo, *rest)
        elif mode == "--pipeline":
            failures = pipeline(prometheus, repo, *rest)
        else:
            raise SystemExit(__doc__)
    except promharness.Failure as e:
        failures = [str(e)]
    for f in failures:
        print("error:", f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
