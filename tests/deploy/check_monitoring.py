#!/usr/bin/env python3
"""Checks the monitoring files against the code.

- Every metric a PromQL query names, in the Grafana dashboard and in the Prometheus rules,
  is one the services export (read from the source: the names registered with prometheus-cpp
  in libs/ and services/, with _bucket/_sum/_count for histograms, and the process_* ones)
  or one the recording rules define.
- The dashboard is valid JSON with a query in every graph panel.
- The autoscalers (deploy/k8s) and prometheus-adapter's rules scale on exported metrics.
- deploy/prometheus/operator/prometheusrule.yaml holds exactly the rules of
  deploy/prometheus/rules/*.yml (--write regenerates it).

Usage: check_monitoring.py REPO [--write]
"""
import glob
import json
import os
import re
import sys

import yaml

METRIC_LITERAL = re.compile(r'"((?:mcsink|mclocal|process)_[a-z0-9_]+)"')
HISTOGRAM = re.compile(r'BuildHistogram\(\)\s*\.Name\(\s*"([a-z0-9_]+)"')
# Names Prometheus itself attaches to every target.
SCRAPE_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
PROMQL_WORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
                "group_right", "offset", "bool", "inf", "nan", "atan2", "le"}


def exported_metrics(repo):
    """Metric names registered in C++ sources that use prometheus-cpp."""
    names, histograms = set(), set()
    sources = glob.glob(os.path.join(repo, "libs", "*", "src", "*.cc")) + glob.glob(
        os.path.join(repo, "services", "**", "*.cc"), recursive=True)
    for path in sources:
        text = open(path, encoding="utf-8").read()
        if "prometheus" not in text:
            continue
        names.update(METRIC_LITERAL.findall(text))
        histograms.update(HISTOGRAM.findall(text))
    # A histogram is exported as its _bucket, _sum and _count series, never under its own name.
    for h in histograms:
        names.discard(h)
        names.update({h + "_bucket", h + "_sum", h + "_count"})
    return names


def promql_metrics(expr):
    """Metric names a PromQL expression selects (a tokenizer, enough for our queries)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)  # strings
    e = re.sub(r"\$\{[^}]*\}|\$\w+", "1", e)  # Grafana variables
    e = re.sub(r"\{[^}]*\}", "", e)  # label matchers
    e = re.sub(r"\[[^\]]*\]", "", e)  # ranges and subqueries
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\b\d+(\.\d+)?([eE][+-]?\d+)?[smhdwy]?\b", " ", e)  # numbers, durations
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        rest = e[m.end():].lstrip()
        if rest.startswith("("):
            continue  # a function or aggregation
        if m.group(0).lower() in PROMQL_WORDS:
            continue
        names.add(m.group(0))
    return names


def load_rules(repo):
    files = sorted(glob.glob(os.path.join(repo, "deploy", "prometheus", "rules", "*.yml")))
    groups = []
    for f in files:
        groups.extend(yaml.safe_load(open(f, encoding="utf-8"))["groups"])
    return files, groups


def dashboard_queries(dash):
    """(where, expr) of every query in a dashboard, panels in rows included."""
    out = []

    def panels(ps):
        for p in ps:
            yield p
            yield from panels(p.get("panels", []))

    for p in panels(dash.get("panels", [])):
        if p.get("type") == "row":
            continue
        targets = p.get("targets", [])
        if not targets:
            out.append((f'panel "{p.get("title")}"', None))
        for t in targets:
            out.append((f'panel "{p.get("title")}"', t.get("expr")))
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v.get("query")
            q = q.get("query") if isinstance(q, dict) else q
            m = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", q or "")
            out.append((f'variable "{v.get("name")}"', m.group(1) if m else q))
    return out


def prometheus_rule(groups):
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "mcsink", "labels": {"app.kubernetes.io/part-of": "mcsink"}},
        "spec": {"groups": groups},
    }


def main():
    repo = sys.argv[1]
    write = "--write" in sys.argv[2:]
    errors = []
    exported = exported_metrics(repo)
    if not any(n.startswith("mcsink_ingest_") for n in exported) or \
            "process_cpu_seconds_total" not in exported:
        errors.append(f"found too few exported metrics in the source ({len(exported)}): "
                      "has the metrics code moved? Update exported_metrics()")
    rule_files, groups = load_rules(repo)
    recorded = {r["record"] for g in groups for r in g["rules"] if "record" in r}
    known = exported | recorded | SCRAPE_SERIES

    for g in groups:
        for r in g["rules"]:
            what = f'rule {r.get("record") or r.get("alert")} (group {g["name"]})'
            for name in sorted(promql_metrics(r["expr"]) - known):
                errors.append(f"{what} uses metric {name}, which no service exports")

    dash_files = sorted(glob.glob(os.path.join(repo, "deploy", "grafana", "dashboards", "*.json")))
    if not dash_files:
        errors.append("no dashboard in deploy/grafana/dashboards")
    queries = 0
    for f in dash_files:
        try:
            dash = json.load(open(f, encoding="utf-8"))
        except ValueError as e:
            errors.append(f"{f}: not valid JSON: {e}")
            continue
        for where, expr in dashboard_queries(dash):
            if not expr:
                errors.append(f"{os.path.basename(f)}: {where} has no query")
                continue
            queries += 1
            names = promql_metrics(expr)
            if not names:
                errors.append(f"{os.path.basename(f)}: {where}: no metric in query {expr!r}")
            for name in sorted(names - known):
                errors.append(f"{os.path.basename(f)}: {where} uses metric {name}, "
                              "which no service exports")

    # The autoscalers' metrics, and the prometheus-adapter rules that serve them.
    hpa_metrics = 0
    for f in glob.glob(os.path.join(repo, "deploy", "k8s", "**", "*.yaml"), recursive=True):
        for doc in yaml.safe_load_all(open(f, encoding="utf-8")):
            if not isinstance(doc, dict) or doc.get("kind") != "HorizontalPodAutoscaler":
                continue
            for m in doc.get("spec", {}).get("metrics", []):
                kind = m.get("type", "")  # External -> the "external" field, Pods -> "pods"
                source = m.get(kind[:1].lower() + kind[1:], {})
                name = source.get("metric", {}).get("name")
                if name is None:
                    continue  # a resource metric (cpu, memory)
                hpa_metrics += 1
                if name not in exported:
                    errors.append(f"{os.path.relpath(f, repo)}: autoscaler "
                                  f"{doc['metadata']['name']} scales on {name}, which no "
                                  "service exports")
    adapter = os.path.join(repo, "deploy", "prometheus", "adapter", "config.yaml")
    adapter_rules = yaml.safe_load(open(adapter, encoding="utf-8"))
    for r in adapter_rules.get("rules", []) + adapter_rules.get("externalRules", []):
        for name in sorted(promql_metrics(r["seriesQuery"]) - exported):
            errors.append(f"{adapter}: seriesQuery {r['seriesQuery']!r} names {name}, which no "
                          "service exports")

    rule_path = os.path.join(repo, "deploy", "prometheus", "operator", "prometheusrule.yaml")
    want = prometheus_rule(groups)
    if write:
        with open(rule_path, "w", encoding="utf-8") as out:
            out.write("# Generated from deploy/prometheus/rules/*.yml by\n"
                      "# tests/deploy/check_monitoring.py REPO --write: edit the rules there.\n")
            yaml.safe_dump(want, out, sort_keys=False, width=100)
    elif not os.path.exists(rule_path) or yaml.safe_load(open(rule_path)) != want:
        errors.append(f"{rule_path} differs from {', '.join(rule_files)}: run "
                      f"tests/deploy/check_monitoring.py {repo} --write")

    for e in errors:
        print("error:", e, file=sys.stderr)
    print(f"{len(exported)} exported metric names, {len(recorded)} recorded, "
          f"{sum(len(g['rules']) for g in groups)} rules, {queries} dashboard queries, "
          f"{hpa_metrics} autoscaler metrics checked")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
