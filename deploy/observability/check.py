#!/usr/bin/env python3
"""Check Boutique's observability assets (deploy/observability).

Checks, each failure reported with the file, panel or rule at fault:
  1. promtool: `check rules` on prometheus/rules.yaml, `test rules` on
     prometheus/rules_test.yaml, `check config` on prometheus/prometheus.yml, `check metrics`
     on testdata/sample-exposition.txt.
  2. Rule hygiene: every alert has a severity label, summary, description and runbook_url
     annotations, a runbook_url whose anchor is a heading of README.md, and unit tests that see it
     both firing and not firing.
  3. Every Grafana dashboard query parses: Grafana variables are replaced by valid values,
     the expressions are written as recording rules and given to `promtool check rules`.
  4. Every Loki (LogQL) dashboard query opens with a stream selector on the index labels the
     log collector sets (service_name, k8s_namespace_name, k8s_container_name).
  5. Every metric name used by a dashboard, a rule or a rule test is emitted: it appears in
     the exposition (the text a running shop serves on /metrics; histograms add _bucket,
     _sum and _count), is a recording rule of rules.yaml, or is added by Prometheus itself
     (up, ALERTS, scrape_*).

Usage:
  check.py [--exposition FILE_OR_URL ...]   one or more scrapes: files, or the http URL of
                                            a live shop's admin port (/metrics); default:
                                            the hand-made testdata/sample-exposition.txt
  check.py --self-test                      plants a syntax error and an unknown metric in
                                            copies and expects each to fail; real files pass
Needs promtool (Debian package `prometheus`, or set PROMTOOL) and PyYAML. Exits 1 on failure.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
SAMPLE = HERE / "testdata" / "sample-exposition.txt"
# runbook_url: the conventional annotation name (Alertmanager templates, Grafana and kube-prometheus
# link it); a full URL, so a notification read anywhere leads to the runbook.
RUNBOOK_PREFIX = "https://github.com/boutique-shop/boutique/blob/main/deploy/observability/README.md#"
SEVERITIES = {"critical", "warning", "info"}
# Series Prometheus creates itself, never found in a scrape.
PROMETHEUS_MADE = {"up", "ALERTS", "ALERTS_FOR_STATE", "scrape_duration_seconds", "scrape_samples_scraped",
                   "scrape_samples_post_metric_relabeling", "scrape_series_added"}
# The Loki index labels of Boutique's logs (otel-collector/logs-kubernetes.yaml).
LOKI_LABELS = {"service_name", "k8s_namespace_name", "k8s_container_name"}
KEYWORDS = {"and", "or", "unless", "by", "without", "offset", "bool", "on", "ignoring", "group_left",
            "group_right", "inf", "nan", "atan2"}
LABEL_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
AGGREGATORS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk",
               "topk", "quantile", "limitk", "limit_ratio"}
# Grafana's built-in variables; durations where PromQL wants a duration.
GRAFANA_BUILTINS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h", "__auto": "1m",
                    "__interval_ms": "60000", "__range_ms": "3600000", "__range_s": "3600"}
VAR_RE = re.compile(r"\$\{(\w+)(?:[:.][^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)")
IDENT_RE = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


class Failed(Exception):
    """A check failed; the message says what and where."""


def promtool(*args, cwd=None, stdin=None):
    """Runs promtool and returns (ok, combined output)."""
    exe = os.environ.get("PROMTOOL") or shutil.which("promtool")
    if not exe:
        raise Failed("promtool not found: apt-get install --no-install-recommends prometheus, or set PROMTOOL")
    proc = subprocess.run([exe, *args], cwd=cwd, input=stdin, capture_output=True, text=True, check=False)
    return proc.returncode == 0, (proc.stdout + proc.stderr).strip()


# ---------------------------------------------------------------- PromQL names

def _skip_quoted(s, i):
    quote = s[i]
    i += 1
    while i < len(s) and s[i] != quote:
        # Raw (backtick) strings have no escapes.
        i += 2 if s[i] == "\\" and quote != "`" else 1
    return i + 1


def _skip_group(s, i, open_, close):
    depth = 0
    while i < len(s):
        c = s[i]
        if c in "\"'`":
            i = _skip_quoted(s, i)
            continue
        depth += c == open_
        depth -= c == close
        i += 1
        if depth == 0:
            break
    return i


def metric_names(expr):
    """The metric names an expression selects: what is left once strings, label matchers,
    label lists, ranges, numbers, durations, functions and keywords are skipped."""
    names, i, n = set(), 0, len(expr)
    while i < n:
        c = expr[i]
        if c in "\"'`":
            i = _skip_quoted(expr, i)
        elif c == "#":
            end = expr.find("\n", i)
            i = n if end < 0 else end
        elif c == "{":
            i = _skip_group(expr, i, "{", "}")
        elif c == "[":
            i = _skip_group(expr, i, "[", "]")
        elif c.isdigit() or (c == "." and expr[i + 1:i + 2].isdigit()):
            # Numbers, hex, exponents and durations such as 5m or 1h30m.
            while i < n and (expr[i].isalnum() or expr[i] in "._"):
                i += 1
        elif c.isalpha() or c in "_:":
            word = IDENT_RE.match(expr, i).group()
            i += len(word)
            k = i
            while k < n and expr[k].isspace():
                k += 1
            follows = expr[k] if k < n else ""
            low = word.lower()
            if low in LABEL_LIST_KEYWORDS and follows == "(":
                i = _skip_group(expr, k, "(", ")")
            elif low in KEYWORDS or word in AGGREGATORS or follows == "(":
                continue
            else:
                names.add(word)
        else:
            i += 1
    return names


def exposition_names(text):
    """Metric names in Prometheus text (or OpenMetrics) exposition format."""
    names = set()
    suffixes = {"histogram": ("_bucket", "_sum", "_count"), "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
                "summary": ("_sum", "_count"), "counter": ("_total",)}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#"):
            parts = line.split()
            if len(parts) >= 4 and parts[1] == "TYPE":
                name, kind = parts[2], parts[3]
                names.add(name)
                names.update(name + s for s in suffixes.get(kind, ()) if not name.endswith(s))
        elif line:
            m = IDENT_RE.match(line)
            if m:
                names.add(m.group())
    return names


def read_exposition(source):
    source = str(source)
    if re.match(r"https?:", source):
        with urllib.request.urlopen(source, timeout=10) as resp:
            return resp.read().decode()
    return Path(source).read_text()


# ---------------------------------------------------------------- the assets

def load_rules(root):
    with open(root / "prometheus" / "rules.yaml") as f:
        return [r for g in yaml.safe_load(f)["groups"] for r in g["rules"]]


def substitute(expr, values):
    # Dashboard variables sit inside label matcher strings, where any value parses; "x" stands
    # in for those without a usable current value ("All", or a query not yet run).
    def repl(m):
        name = m.group(1) or m.group(2) or m.group(3)
        return GRAFANA_BUILTINS.get(name) or values.get(name, "x")
    return VAR_RE.sub(repl, expr)


def variable_values(dash):
    values = {}
    for v in dash.get("templating", {}).get("list", []):
        cur = (v.get("current") or {}).get("value")
        if isinstance(cur, list):
            cur = cur[0] if cur else None
        if v.get("type") in ("interval", "custom") and (not cur or cur.startswith("$")):
            cur = (v.get("query") or "x").split(",")[0].strip()
        values[v["name"]] = cur if cur and not cur.startswith("$") else "x"
    return values


def _panels(panels):
    for p in panels:
        yield p
        yield from _panels(p.get("panels", []))


def dashboard_queries(root):
    """(where, PromQL) for every panel target and query variable of every dashboard."""
    out = []
    files = sorted((root / "grafana" / "dashboards").glob("*.json"))
    if not files:
        raise Failed("no dashboards in grafana/dashboards")
    for path in files:
        try:
            dash = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise Failed(f"{path.name}: not JSON: {e}") from e
        values = variable_values(dash)
        for p in _panels(dash.get("panels", [])):
            for t in p.get("targets", []):
                if t.get("expr") and not is_loki(p, t):
                    where = f"{path.name}: panel {p.get('id')} \"{p.get('title')}\" target {t.get('refId')}"
                    out.append((where, substitute(t["expr"], values)))
        for v in dash.get("templating", {}).get("list", []):
            q = v.get("query")
            q = q.get("query") if isinstance(q, dict) else q
            if v.get("type") == "query" and q:
                # label_values(selector, label) and query_result(expr) hold PromQL.
                m = re.fullmatch(r"\s*(?:label_values\((.+),\s*\w+\s*\)|query_result\((.+)\))\s*", q)
                if m:
                    out.append((f"{path.name}: variable {v['name']}", substitute(m.group(1) or m.group(2), values)))
    return out


def is_loki(panel, target):
    return (target.get("datasource") or panel.get("datasource") or {}).get("type") == "loki"


def logql_queries(root):
    """(where, LogQL) for every Loki target of every dashboard."""
    out = []
    for path in sorted((root / "grafana" / "dashboards").glob("*.json")):
        dash = json.loads(path.read_text())
        for p in _panels(dash.get("panels", [])):
            for t in p.get("targets", []):
                if t.get("expr") and is_loki(p, t):
                    out.append((f"{path.name}: panel {p.get('id')} \"{p.get('title')}\" target {t.get('refId')}", t["expr"]))
    return out


def check_logql(queries):
    """A LogQL query opens with a stream selector on the index labels the log collector sets
    (otel-collector/logs-kubernetes.yaml: service.name, k8s.namespace.name, k8s.container.name,
    which Loki names with underscores); any other label selects nothing."""
    errors = []
    for where, expr in queries:
        m = re.match(r'\s*\{([^}]*)\}', expr)
        if not m:
            errors.append(f"{where}: LogQL without a stream selector: {expr}")
            continue
        for matcher in filter(None, (x.strip() for x in m.group(1).split(","))):
            mm = re.fullmatch(r'([A-Za-z_]\w*)\s*(=|!=|=~|!~)\s*"[^"]*"', matcher)
            if not mm:
                errors.append(f"{where}: stream selector matcher {matcher!r} does not parse")
            elif mm.group(1) not in LOKI_LABELS:
                errors.append(f"{where}: selects on {mm.group(1)}, which is no Loki index label {sorted(LOKI_LABELS)}")
    return errors


# ---------------------------------------------------------------- the checks

def check_promtool(root):
    prom = root / "prometheus"
    errors = []
    for args in (("check", "rules", "rules.yaml"), ("test", "rules", "rules_test.yaml"),
                 ("check", "config", "prometheus.yml")):
        ok, out = promtool(*args, cwd=prom)
        if not ok:
            errors.append(f"promtool {' '.join(args)}:\n{out}")
    # The sample stands in for a scrape, so it must follow the exposition conventions too.
    ok, out = promtool("check", "metrics", stdin=(root / "testdata" / "sample-exposition.txt").read_text())
    if not ok:
        errors.append(f"promtool check metrics < testdata/sample-exposition.txt:\n{out}")
    return errors


def check_rule_hygiene(root):
    errors = []
    readme = (root / "README.md").read_text()
    anchors = {re.sub(r"[^a-z0-9_ -]", "", h.strip().lower()).replace(" ", "-")
               for h in re.findall(r"^#+ (.+)$", readme, re.M)}
    with open(root / "prometheus" / "rules_test.yaml") as f:
        tests = yaml.safe_load(f)["tests"]
    seen = {}
    for t in tests:
        for a in t.get("alert_rule_test", []):
            seen.setdefault(a["alertname"], set()).add(bool(a.get("exp_alerts")))
    for r in load_rules(root):
        if "alert" not in r:
            continue
        name, ann = r["alert"], r.get("annotations", {})
        if r.get("labels", {}).get("severity") not in SEVERITIES:
            errors.append(f"alert {name}: severity label must be one of {sorted(SEVERITIES)}")
        for key in ("summary", "description", "runbook_url"):
            if not ann.get(key):
                errors.append(f"alert {name}: no {key} annotation")
        runbook = ann.get("runbook_url", "")
        if not (runbook.startswith(RUNBOOK_PREFIX) and runbook[len(RUNBOOK_PREFIX):] in anchors):
            errors.append(f"alert {name}: runbook_url {runbook!r} is not {RUNBOOK_PREFIX}<a heading of README.md>")
        for firing, word in ((True, "firing"), (False, "not firing")):
            if firing not in seen.get(name, set()):
                errors.append(f"alert {name}: no rules_test.yaml case expects it {word}")
    return errors


def check_dashboards_parse(root, queries):
    """One promtool run for all queries; on failure, one per query to name the culprits."""
    def parses(exprs):
        doc = {"groups": [{"name": "dashboard-check",
                           "rules": [{"record": f"dashboard:check:{i}", "expr": e} for i, e in enumerate(exprs)]}]}
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            yaml.safe_dump(doc, f)
        try:
            return promtool("check", "rules", f.name)
        finally:
            os.unlink(f.name)

    if parses([e for _, e in queries])[0]:
        return []
    errors = []
    for where, expr in queries:
        ok, out = parses([expr])
        if not ok:
            detail = out.splitlines()[-1].strip() if out else ""
            errors.append(f"{where}: does not parse: {expr}\n    {detail}")
    return errors or ["dashboard queries do not parse together (promtool check rules)"]


def check_names(root, queries, emitted):
    rules = load_rules(root)
    known = emitted | PROMETHEUS_MADE | {r["record"] for r in rules if "record" in r}
    uses = list(queries)
    uses += [(f"rules.yaml: {r.get('alert') or r.get('record')}", r["expr"]) for r in rules]
    with open(root / "prometheus" / "rules_test.yaml") as f:
        for t in yaml.safe_load(f)["tests"]:
            uses += [("rules_test.yaml: input series", s["series"]) for s in t.get("input_series", [])]
    errors = []
    for where, expr in uses:
        unknown = sorted(metric_names(expr) - known)
        if unknown:
            errors.append(f"{where}: unknown metric(s) {', '.join(unknown)}")
    return errors


def run_checks(root, expositions, quiet=False):
    """All checks on the assets under root; returns the list of failures."""
    def say(msg):
        if not quiet:
            print(msg, flush=True)

    emitted = set()
    for source in expositions:
        emitted |= exposition_names(read_exposition(source))
    say(f"exposition: {len(emitted)} metric names from {', '.join(map(str, expositions))}")
    errors = []
    for title, check in (("promtool check rules / test rules / check config / check metrics", lambda: check_promtool(root)),
                         ("alerts: labels, annotations, runbooks, tests", lambda: check_rule_hygiene(root))):
        say(f"--> {title}")
        errors += check()
    queries = dashboard_queries(root)
    say(f"--> dashboards: {len(queries)} queries parse")
    errors += check_dashboards_parse(root, queries)
    say("--> metric names: dashboards, rules and rule tests use only emitted metrics")
    errors += check_names(root, queries, emitted)
    logql = logql_queries(root)
    say(f"--> dashboards: {len(logql)} Loki queries select on index labels")
    errors += check_logql(logql)
    return errors


# ---------------------------------------------------------------- self-test

def self_test():
    cases = {
        'sum by (job) (rate(foo_total{a="b}c", d=~"x"}[5m] offset 1h)) / on(job) group_left(x) bar': {"foo_total", "bar"},
        "histogram_quantile(0.99, sum without (le2) (rate(h_bucket[$__rate_interval])))": {"h_bucket"},
        "topk(5, x) > bool 1e-3 and y unless z or vector(0) @ start()": {"x", "y", "z"},
        'label_replace(a:b:c, "dst", "$1", "src", "(.*)") + Inf * NaN + 0x1f + .5': {"a:b:c"},
        "max_over_time(rate(q[5m])[30m:1m]) # comment names no_metric": {"q"},
    }
    for expr, want in cases.items():
        got = metric_names(expr)
        assert got == want, f"metric_names({expr!r}) = {got}, want {want}"
    print("self-test: PromQL name extraction ok")

    errors = run_checks(HERE, [SAMPLE], quiet=True)
    if errors:
        raise Failed("self-test: the real files fail:\n" + "\n".join(errors))
    print("self-test: the real files pass")

    def planted(name, mutate, expect):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "observability"
            shutil.copytree(HERE, root, ignore=shutil.ignore_patterns("__pycache__"))
            mutate(root)
            errors = run_checks(root, [SAMPLE], quiet=True)
        if not any(expect in e for e in errors):
            raise Failed(f"self-test: planted {name} was not reported (wanted {expect!r}); got {errors}")
        print(f"self-test: planted {name} is reported")

    def edit_dashboard(new_expr):
        def mutate(root):
            path = sorted((root / "grafana" / "dashboards").glob("*.json"))[0]
            dash = json.loads(path.read_text())
            target = next(p for p in _panels(dash["panels"]) if p.get("targets"))["targets"][0]
            target["expr"] = new_expr
            path.write_text(json.dumps(dash))
        return mutate

    def edit_rules(root):
        path = root / "prometheus" / "rules.yaml"
        doc = yaml.safe_load(path.read_text())
        doc["groups"][0]["rules"].append({"record": "job:planted:rate5m", "expr": "sum(rate(boutique_planted_total[5m]))"})
        path.write_text(yaml.safe_dump(doc))

    def drop_exposition_metric(root):
        # The sample without one metric family, as if the shop stopped emitting it.
        text = SAMPLE.read_text()
        (root / "short.txt").write_text("\n".join(ln for ln in text.splitlines() if "boutique_orders_placed" not in ln))

    planted("dashboard syntax error", edit_dashboard("sum(rate(grpc_server_handled_total[$__rate_interval])"),
            "does not parse")
    planted("unknown metric in a dashboard", edit_dashboard("sum(rate(boutique_no_such_metric_total[5m]))"),
            "unknown metric(s) boutique_no_such_metric_total")
    planted("unknown metric in a recording rule", edit_rules, "unknown metric(s) boutique_planted_total")

    def loki_by_pod(root):
        path = root / "grafana" / "dashboards" / "boutique-service-red.json"
        dash = json.loads(path.read_text())
        target = next(t for p in _panels(dash["panels"]) for t in p.get("targets", []) if is_loki(p, t))
        target["expr"] = '{pod="frontend-1"}'
        path.write_text(json.dumps(dash))
    planted("logs panel selecting on a label Loki does not index", loki_by_pod, "which is no Loki index label")

    with tempfile.TemporaryDirectory() as tmp:
        drop_exposition_metric(Path(tmp))
        errors = run_checks(HERE, [Path(tmp) / "short.txt"], quiet=True)
    if not any("boutique_orders_placed_total" in e for e in errors):
        raise Failed(f"self-test: a metric missing from the exposition was not reported; got {errors}")
    print("self-test: a metric missing from the exposition is reported")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--exposition", action="append", metavar="FILE_OR_URL",
                    help="a /metrics scrape (file or http URL); repeat for several processes")
    ap.add_argument("--self-test", action="store_true", help="check that planted faults are caught")
    args = ap.parse_args()
    try:
        if args.self_test:
            self_test()
            print("check.py --self-test: ok")
            return 0
        expositions = args.exposition or [SAMPLE]
        if not args.exposition:
            print(f"note: no --exposition given, using the hand-made {SAMPLE.relative_to(HERE)}")
        errors = run_checks(HERE, expositions)
    except (Failed, OSError, yaml.YAMLError, KeyError) as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    if errors:
        print(f"FAILED: {len(errors)} problem(s):", file=sys.stderr)
        for e in errors:
            print(f"  - {e}", file=sys.stderr)
        return 1
    print("deploy/observability/check.py: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
