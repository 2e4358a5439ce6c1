#!/usr/bin/env python3
"""Structure checks for compose.yaml and deploy/argocd (no docker compose binary here).

compose: every Boutique service runs the one image with a known subcommand, read-only,
non-root, all capabilities dropped, with a healthcheck; depends_on only on healthy services
that have a healthcheck, or on one-shots (restart "no") that complete; a dependency that is not
required is a service of a profile; the call graph's addresses resolve to services and ports of
this file; published ports bind to loopback by default; bind-mounted host paths exist; every
Boutique server sets ADMIN_PORT, and the Prometheus configuration mounted into the observability
profile scrapes exactly those services on their admin ports (static targets, or a DNS name for a
service of a profile, which then has no target while it does not run; other targets must be
compose services) and sends alerts to a compose service; the profile's Alertmanager mounts the generated compose
configuration, whose webhook receivers are compose services.
argocd: every ApplicationSet element points at an existing overlay whose namespace is the
destination, and the AppProject allows that namespace.
"""
import os
import re
import sys

import yaml

SUBCOMMANDS = {"frontend", "checkout", "catalog", "currency", "payment", "shipping", "email", "cart",
               "recommendation", "ad", "orders", "accounts", "ratings", "dispatch", "loadgen", "migrate"}
# Not servers: no admin port to scrape.
NOT_SCRAPED = {"loadgen", "migrate"}
errs = []
c = yaml.safe_load(open("compose.yaml", encoding="utf-8"))
svcs = c["services"]
ports = {}
for name, s in svcs.items():
    env = s.get("environment", {})
    if "boutique" in str(s.get("image", "")) and "PORT" in env:
        ports[name] = env["PORT"]
for name, s in svcs.items():
    img = str(s.get("image", ""))
    if "boutique-shop/boutique" in img:
        if s.get("command", [None])[0] not in SUBCOMMANDS:
            errs.append(f"{name}: command {s.get('command')} is no boutique subcommand")
        if not (s.get("read_only") and s.get("user") == "65532:65532" and s.get("cap_drop") == ["ALL"]):
            errs.append(f"{name}: not read-only / non-root / cap_drop ALL")
        if "build" not in s:
            errs.append(f"{name}: no build (the image must build from the Dockerfile)")
    if not s.get("profiles") and not s.get("healthcheck", {}).get("test"):
        errs.append(f"{name}: no healthcheck")
    deps = s.get("depends_on", {})
    if isinstance(deps, dict):
        for d, cond in deps.items():
            if d not in svcs:
                errs.append(f"{name}: depends_on unknown {d}")
            elif cond.get("condition") == "service_healthy" and not svcs[d].get("healthcheck", {}).get("test"):
                errs.append(f"{name}: waits for {d} to be healthy, but {d} has no healthcheck")
            elif cond.get("condition") == "service_completed_successfully" and svcs[d].get("restart") != "no":
                errs.append(f"{name}: waits for {d} to complete, but {d} is restarted (not a one-shot)")
            if d in svcs and cond.get("required") is False and not svcs[d].get("profiles"):
                errs.append(f"{name}: {d} is not required, but it always runs (it has no profile)")
    for k, v in s.get("environment", {}).items():
        if k.endswith("_ADDR") and k != "LISTEN_ADDR":
            host, _, port = str(v).partition(":")
            if host not in svcs:
                errs.append(f"{name}: {k}={v}: no service {host}")
            elif host in ports and ports[host] != port:
                errs.append(f"{name}: {k}={v}: {host} listens on {ports[host]}")
    for p in s.get("ports", []):
        if not re.match(r"^(\$\{[A-Z_]+:-)?127\.0\.0\.1", str(p)):
            errs.append(f"{name}: port {p} is not bound to 127.0.0.1 by default")

admin = {}
for name, s in svcs.items():
    for v in s.get("volumes", []):
        src = str(v).split(":", 1)[0]
        if src.startswith(".") and not os.path.exists(src):
            errs.append(f"{name}: volume source {src} does not exist")
    if "boutique-shop/boutique" in str(s.get("image", "")) and s.get("command", [None])[0] not in NOT_SCRAPED:
        if "ADMIN_PORT" not in s.get("environment", {}):
            errs.append(f"{name}: no ADMIN_PORT (the metrics port Prometheus scrapes)")
        else:
            admin[name] = str(s["environment"]["ADMIN_PORT"])
prom_dirs = [str(v).split(":")[0] for v in svcs.get("prometheus", {}).get("volumes", [])
             if str(v).split(":")[1] == "/etc/prometheus"]
if not prom_dirs:
    errs.append("prometheus: no directory mounted at /etc/prometheus")
else:
    prom = yaml.safe_load(open(os.path.join(prom_dirs[0], "prometheus.yml"), encoding="utf-8"))
    for rf in prom.get("rule_files", []):
        if not os.path.exists(os.path.join(prom_dirs[0], rf)):
            errs.append(f"prometheus.yml: rule file {rf} is not in {prom_dirs[0]}")
    scraped = set()
    for job in prom["scrape_configs"]:
        # A DNS name resolves only while its service runs: for the services of a profile.
        for sd in job.get("dns_sd_configs", []):
            for host in sd.get("names", []):
                if host in admin:
                    scraped.add(host)
                    if str(sd.get("port")) != admin[host] or sd.get("type", "SRV") != "A":
                        errs.append(f"prometheus.yml job {job['job_name']}: DNS {host} (type A) on port "
                                    f"{admin[host]}, got {sd.get('type', 'SRV')} {sd.get('port')}")
                    if not svcs[host].get("profiles"):
                        errs.append(f"prometheus.yml job {job['job_name']}: {host} always runs: a static target")
                else:
                    errs.append(f"prometheus.yml job {job['job_name']}: DNS {host} is no Boutique server of compose")
        for sc in job.get("static_configs", []):
            for target in sc["targets"]:
                host, _, port = target.rpartition(":")
                if host in admin:
                    scraped.add(host)
                    if port != admin[host]:
                        errs.append(f"prometheus.yml job {job['job_name']}: {target}, but {host} has ADMIN_PORT {admin[host]}")
                elif host not in svcs and host != "localhost":
                    errs.append(f"prometheus.yml job {job['job_name']}: {target} is no compose service")
    for name in sorted(set(admin) - scraped):
        errs.append(f"prometheus.yml scrapes no {name}:{admin[name]}")
    # Alerts reach the profile's Alertmanager, and its receivers reach services of this file.
    am_targets = [t for a in (prom.get("alerting") or {}).get("alertmanagers", [])
                  for sc in a.get("static_configs", []) for t in sc["targets"]]
    if not am_targets:
        errs.append("prometheus.yml: no alerting.alertmanagers target")
    for t in am_targets:
        if t.rpartition(":")[0] not in svcs:
            errs.append(f"prometheus.yml: Alertmanager {t} is no compose service")
am_conf = [str(v).split(":")[0] for v in svcs.get("alertmanager", {}).get("volumes", [])
           if str(v).split(":")[1] == "/etc/alertmanager/alertmanager.yml"]
if am_conf != ["./deploy/observability/alertmanager/alertmanager-compose.yml"]:
    errs.append(f"alertmanager: mounts {am_conf}, expected the generated alertmanager-compose.yml")
elif os.path.exists(am_conf[0]):
    for r in yaml.safe_load(open(am_conf[0], encoding="utf-8"))["receivers"]:
        for w in r.get("webhook_configs", []):
            host = re.match(r"https?://([^:/]+)", w["url"]).group(1)
            if host not in svcs:
                errs.append(f"alertmanager receiver {r['name']}: {w['url']} is no compose service")

appsets = [d for d in yaml.safe_load_all(open("deploy/argocd/applicationset.yaml")) if d]
proj = yaml.safe_load(open("deploy/argocd/appproject.yaml"))
allowed = {d["namespace"] for d in proj["spec"]["destinations"]}
for a in appsets:
    for g in a["spec"]["generators"]:
        for el in g["list"]["elements"]:
            path = a["spec"]["template"]["spec"]["source"]["path"].replace("{{ .env }}", el["env"])
            k = os.path.join(path, "kustomization.yaml")
            if not os.path.exists(k):
                errs.append(f"ApplicationSet element {el['env']}: no {k}")
                continue
            ns = yaml.safe_load(open(k))["namespace"]
            if ns != el["namespace"]:
                errs.append(f"ApplicationSet element {el['env']}: namespace {el['namespace']} != overlay's {ns}")
            if ns not in allowed:
                errs.append(f"AppProject does not allow namespace {ns}")
for e in errs:
    print("  " + e)
print(f"  compose: {len(svcs)} services, {len(admin)} scraped on their admin ports; argocd: {len(allowed)} destinations; {len(errs)} problems")
sys.exit(1 if errs else 0)
