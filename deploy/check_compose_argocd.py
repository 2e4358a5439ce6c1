#!/usr/bin/env python3
"""Structure checks for compose.yaml and deploy/argocd (no docker compose binary here).

compose: every Boutique service runs the one image with a known subcommand, read-only,
non-root, all capabilities dropped, with a healthcheck; depends_on only on healthy services
that have a healthcheck; the call graph's addresses resolve to services and ports of this
file; published ports bind to loopback by default.
argocd: every ApplicationSet element points at an existing overlay whose namespace is the
destination, and the AppProject allows that namespace.
"""
import os
import re
import sys

import yaml

SUBCOMMANDS = {"frontend", "checkout", "catalog", "currency", "payment", "shipping", "email", "cart",
               "recommendation", "ad", "loadgen"}
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
print(f"  compose: {len(svcs)} services; argocd: {len(allowed)} destinations; {len(errs)} problems")
sys.exit(1 if errs else 0)
