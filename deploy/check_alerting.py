#!/usr/bin/env python3
"""Check the Alertmanager configuration: every alert of rules.yaml has a tested route.

usage: check_alerting.py [--renders RENDER.yaml ...] [--live] [--self-test]

Always, on deploy/observability/alertmanager/:
  - no credential inline in alertmanager.yml (Slack URLs, SMTP passwords, tokens come from
    *_file settings, i.e. from mounted Secrets);
  - `amtool check-config` on alertmanager.yml and the generated alertmanager-compose.yml;
  - routes_test.yaml has a case for every alert of deploy/observability/prometheus/rules.yaml
    (the names are read from there) and none for an alert that no longer exists;
  - `amtool config routes test --verify.receivers` passes for every case, on both files. A case
    gets `alertname` and the rule's own labels (severity) added, as the alert carries them.
--renders: every AlertmanagerConfig in the given kustomize/Helm renders is turned into the
  configuration the Prometheus Operator generates from it (deploy/alerting.py), which must pass
  `amtool check-config` and every case, with the render's namespace added to the labels and the
  receivers named namespace/name/receiver; an alert of another namespace must not reach it.
--live: runs prometheus-alertmanager (Debian package prometheus-alertmanager, or
  $ALERTMANAGER) on 127.0.0.1 with the compose configuration pointed at alert_printer.py,
  posts alerts to its API and expects the printer to print the page, and a symptom (the
  storefront's 5xx) to be inhibited while its cause (a service down) fires. Group waits are cut
  to 1 s there: what it tests is the wiring, not the timing.
--self-test: plants an alert without a case, a wrong expected receiver and an inline Slack URL,
  and expects each to be reported.
Needs amtool (Debian package prometheus-alertmanager; or $AMTOOL) and PyYAML. Exits 1 on failure.
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

import alerting

ROOT = Path(__file__).resolve().parent.parent
AM_DIR = ROOT / "deploy" / "observability" / "alertmanager"
RULES = ROOT / "deploy" / "observability" / "prometheus" / "rules.yaml"


class Failed(Exception):
    """A check failed; the message says what and where."""


def tool(env, name):
    exe = os.environ.get(env) or shutil.which(name)
    if not exe:
        raise Failed(f"{name} not found: apt-get install --no-install-recommends prometheus-alertmanager, or set {env}")
    return exe


def amtool(*args):
    proc = subprocess.run([tool("AMTOOL", "amtool"), *args], capture_output=True, text=True, check=False)
    # amtool warns that --config.file overrides --alertmanager.url; that is the point here.
    out = "\n".join(ln for ln in (proc.stdout + proc.stderr).splitlines() if "overrides the --alertmanager.url" not in ln)
    return proc.returncode == 0, out.strip()


def alert_labels(rules_path):
    """{alert name: the labels its rule sets} from rules.yaml."""
    with open(rules_path, encoding="utf-8") as f:
        groups = yaml.safe_load(f)["groups"]
    return {r["alert"]: {k: str(v) for k, v in (r.get("labels") or {}).items()}
            for g in groups for r in g["rules"] if "alert" in r}


def load_cases(am_dir, rules_path):
    """The route cases with their full label sets, and the coverage errors."""
    alerts = alert_labels(rules_path)
    with open(am_dir / "routes_test.yaml", encoding="utf-8") as f:
        cases = yaml.safe_load(f)["cases"]
    errors, full = [], []
    covered = set()
    for i, c in enumerate(cases):
        name = c.get("alert")
        labels = {k: str(v) for k, v in (c.get("labels") or {}).items()}
        if name is not None:
            if name not in alerts:
                errors.append(f"routes_test.yaml case {i}: alert {name} is not in rules.yaml")
                continue
            covered.add(name)
            labels = {**labels, "alertname": name, **alerts[name]}
        if not c.get("receivers"):
            errors.append(f"routes_test.yaml case {i}: no receivers")
            continue
        full.append((f"case {i} ({name or labels.get('alertname', '?')})", labels, list(c["receivers"])))
    for name in sorted(set(alerts) - covered):
        errors.append(f"alert {name} (rules.yaml) has no tested route: add a case to routes_test.yaml")
    return full, errors


def run_cases(config_path, cases, extra_labels=None, prefix=""):
    errors = []
    for where, labels, receivers in cases:
        labels = {**labels, **(extra_labels or {})}
        want = ",".join(prefix + r for r in receivers)
        ok, out = amtool("config", "routes", "test", f"--config.file={config_path}", f"--verify.receivers={want}",
                         *(f"{k}={v}" for k, v in sorted(labels.items())))
        if not ok:
            errors.append(f"{config_path.name}: {where}: labels {labels} should reach {want}, amtool: {out}")
    return errors


def check_config(path):
    ok, out = amtool("check-config", str(path))
    return [] if ok else [f"amtool check-config {path.name}:\n{out}"]


def check_files(am_dir, rules_path):
    errors = []
    with open(am_dir / "alertmanager.yml", encoding="utf-8") as f:
        source = yaml.safe_load(f)
    for p in alerting.inline_credentials(source, "alertmanager.yml"):
        errors.append(f"{p}: a credential inline; use the *_file setting (a mounted Secret)")
    cases, cover = load_cases(am_dir, rules_path)
    errors += cover
    for name in ("alertmanager.yml", "alertmanager-compose.yml"):
        path = am_dir / name
        errs = check_config(path)
        errors += errs or run_cases(path, cases)
    return errors, len(cases)


def check_renders(paths, am_dir, rules_path):
    cases, _ = load_cases(am_dir, rules_path)
    errors, seen, done = [], 0, set()
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            with open(path, encoding="utf-8") as f:
                docs = [d for d in yaml.safe_load_all(f) if d]
            for d in docs:
                if d.get("kind") != "AlertmanagerConfig":
                    continue
                seen += 1
                ns = d["metadata"].get("namespace") or "default"
                name = d["metadata"]["name"]
                # Most renders hold the same object: check each distinct one once.
                key = json.dumps([ns, name, d.get("apiVersion"), d.get("spec")], sort_keys=True)
                if key in done:
                    continue
                done.add(key)
                where = f"{Path(path).name}: AlertmanagerConfig {ns}/{name}"
                if d.get("apiVersion") != "monitoring.coreos.com/v1alpha1":
                    errors.append(f"{where}: apiVersion {d.get('apiVersion')}")
                    continue
                try:
                    cfg = alerting.operator_config(d["spec"], ns, name)
                except (alerting.ConfigError, KeyError, TypeError, AttributeError) as e:
                    errors.append(f"{where}: {e!r}")
                    continue
                out = Path(tmp) / f"{Path(path).stem}-{ns}-{name}.yml"
                out.write_text(yaml.safe_dump(cfg, sort_keys=False))
                errs = check_config(out)
                if errs:
                    errors += [f"{where}: {e}" for e in errs]
                    continue
                errors += [f"{where}: {e}" for e in run_cases(out, cases, {"namespace": ns}, f"{ns}/{name}/")]
                # Another shop's alert is not this config's business.
                errors += [f"{where}: {e}" for e in _other_namespace(out, cases[0], ns)]
    return errors, seen, len(done)


def _other_namespace(path, case, ns):
    where, labels, _ = case
    ok, out = amtool("config", "routes", "test", f"--config.file={path}", "--verify.receivers=null",
                     *(f"{k}={v}" for k, v in sorted({**labels, "namespace": ns + "-other"}.items())))
    return [] if ok else [f"{where} from namespace {ns}-other must reach only the operator's null receiver: {out}"]


# ---------------------------------------------------------------- live

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read() or b"null")


def wait_for(what, probe, deadline):
    """Polls `probe` until it returns a true value; fails with `what` at the deadline."""
    while time.monotonic() < deadline:
        try:
            got = probe()
        except OSError:
            got = None
        if got:
            return got
        time.sleep(0.2)
    raise Failed(f"live: timed out waiting for {what}")


def live(am_dir):
    am_bin = tool("ALERTMANAGER", "prometheus-alertmanager") if not os.environ.get("ALERTMANAGER") \
        else os.environ["ALERTMANAGER"]
    with open(am_dir / "alertmanager-compose.yml", encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    procs = []
    with tempfile.TemporaryDirectory() as tmp:
        printer_log = open(Path(tmp) / "printer.log", "w+", encoding="utf-8")
        try:
            printer_port, am_port = free_port(), free_port()
            procs.append(subprocess.Popen([sys.executable, str(am_dir / "alert_printer.py"),
                                           "--listen", f"127.0.0.1:{printer_port}"],
                                          stdout=printer_log, stderr=subprocess.STDOUT))
            for r in cfg["receivers"]:
                for w in r["webhook_configs"]:
                    w["url"] = w["url"].replace(alerting.PRINTER_URL, f"http://127.0.0.1:{printer_port}/")

            def shorten(route):
                route["group_wait"] = "1s"
                for child in route.get("routes", []):
                    shorten(child)
            shorten(cfg["route"])
            (Path(tmp) / "am.yml").write_text(yaml.safe_dump(cfg, sort_keys=False))
            am_log = open(Path(tmp) / "am.log", "w", encoding="utf-8")
            procs.append(subprocess.Popen([am_bin, f"--config.file={tmp}/am.yml", f"--storage.path={tmp}/data",
                                           f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
                                          stdout=am_log, stderr=subprocess.STDOUT))
            api = f"http://127.0.0.1:{am_port}/api/v2"
            deadline = time.monotonic() + 30
            wait_for("Alertmanager to be ready", lambda: http("GET", f"{api}/status"), deadline)
            wait_for("the printer to listen", lambda: "listening" in Path(tmp, "printer.log").read_text(), deadline)
            rules = alert_labels(RULES)
            cause = {"alertname": "BoutiqueServiceDown", "job": "cartservice", **rules["BoutiqueServiceDown"]}
            symptom = {"alertname": "BoutiqueFrontendHigh5xxRatio", "service_name": "frontend",
                       **rules["BoutiqueFrontendHigh5xxRatio"]}
            ticket = {"alertname": "BoutiquePaymentDeclineSpike", "service_name": "payment",
                      **rules["BoutiquePaymentDeclineSpike"]}
            http("POST", f"{api}/alerts", [{"labels": lab, "annotations": {"summary": f"live check: {lab['alertname']}"}}
                                            for lab in (cause, symptom, ticket)])
            printed = wait_for("the printer to print the page and the ticket", lambda: (
                lambda text: text if "[boutique-pages] FIRING BoutiqueServiceDown" in text
                and "[boutique-tickets] FIRING BoutiquePaymentDeclineSpike" in text else None)(
                    Path(tmp, "printer.log").read_text()), deadline)
            inhibited = wait_for("the 5xx alert to be inhibited by the service-down alert", lambda: [
                a for a in http("GET", f"{api}/alerts?filter=alertname%3D%22BoutiqueFrontendHigh5xxRatio%22")
                if a["status"]["inhibitedBy"]], deadline)
            print(f"  live: page and ticket printed; {inhibited[0]['labels']['alertname']} inhibited "
                  f"(state {inhibited[0]['status']['state']})")
            print("  " + "\n  ".join(ln for ln in printed.splitlines() if ln.startswith("[")))
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
            printer_log.close()


# ---------------------------------------------------------------- self-test

def self_test():
    errors, n = check_files(AM_DIR, RULES)
    if errors:
        raise Failed("self-test: the real files fail:\n" + "\n".join(errors))
    print(f"  self-test: the real files pass ({n} cases)")

    def planted(what, mutate, expect):
        with tempfile.TemporaryDirectory() as tmp:
            am_dir, rules = Path(tmp) / "alertmanager", Path(tmp) / "rules.yaml"
            shutil.copytree(AM_DIR, am_dir, ignore=shutil.ignore_patterns("__pycache__"))
            shutil.copy(RULES, rules)
            mutate(am_dir, rules)
            errs, _ = check_files(am_dir, rules)
        if not any(expect in e for e in errs):
            raise Failed(f"self-test: planted {what} was not reported (wanted {expect!r}); got {errs}")
        print(f"  self-test: planted {what} is reported")

    def edit(path, fn):
        doc = yaml.safe_load(path.read_text())
        fn(doc)
        path.write_text(yaml.safe_dump(doc, sort_keys=False))

    def new_alert(_, rules):
        def add(doc):
            doc["groups"][0]["rules"].append({"alert": "BoutiquePlanted", "expr": "vector(1)",
                                              "labels": {"severity": "critical"}})
        edit(rules, add)

    def wrong_receiver(am_dir, _):
        def swap(doc):
            doc["cases"][0]["receivers"] = ["boutique-tickets"]
        edit(am_dir / "routes_test.yaml", swap)

    def inline_slack(am_dir, _):
        def inline(doc):
            del doc["global"]["slack_api_url_file"]
            doc["global"]["slack_api_url"] = "https://hooks.slack.example/services/T0/B0/planted"
        edit(am_dir / "alertmanager.yml", inline)

    planted("alert without a case", new_alert, "alert BoutiquePlanted (rules.yaml) has no tested route")
    planted("wrong expected receiver", wrong_receiver, "should reach boutique-tickets")
    planted("inline Slack URL", inline_slack, "alertmanager.yml.global.slack_api_url: a credential inline")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--renders", nargs="+", default=[], metavar="RENDER.yaml")
    ap.add_argument("--live", action="store_true")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    try:
        if args.self_test:
            self_test()
        errors, n = check_files(AM_DIR, RULES)
        print(f"  alertmanager.yml, alertmanager-compose.yml: amtool check-config, {n} route cases "
              f"covering every alert of rules.yaml")
        if args.renders:
            errs, seen, distinct = check_renders(args.renders, AM_DIR, RULES)
            errors += errs
            print(f"  {seen} AlertmanagerConfig(s) in {len(args.renders)} renders ({distinct} distinct): the "
                  f"operator's configuration passes amtool check-config and every route case")
            if not seen:
                errors.append("no AlertmanagerConfig in the renders given")
        if errors:
            raise Failed(f"{len(errors)} problem(s):\n  - " + "\n  - ".join(errors))
        if args.live:
            live(AM_DIR)
    except (Failed, OSError, yaml.YAMLError, KeyError) as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    print("check_alerting.py: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
