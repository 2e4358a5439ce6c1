#!/usr/bin/env python3
"""Invariants kubernetes-validate and checkov do not know, on rendered manifests.

usage: check_renders.py RENDER.yaml [...]
- every Deployment is hardened (non-root 65532, read-only root, no privilege escalation,
  drop ALL, seccomp RuntimeDefault, no service-account token), has requests and limits, a
  grace period longer than the 10 s drain, and probes (except the load generator);
- every image has a tag; Boutique containers run the one image with a known subcommand;
- the upstream Service names and ports are there (when the base is rendered);
- custom resources (Istio, Gateway API, External Secrets) have the expected apiVersion and
  point at objects that exist in the same render (selectors, hosts, backendRefs, secrets);
- NetworkPolicy and Istio selectors select workloads that exist.
"""
import sys

import yaml

UPSTREAM = {"frontend": 80, "cartservice": 7070, "productcatalogservice": 3550, "currencyservice": 7000,
            "paymentservice": 50051, "shippingservice": 50051, "emailservice": 5000, "checkoutservice": 5050,
            "recommendationservice": 8080, "adservice": 9555}
SUBCOMMANDS = {"frontend", "checkout", "catalog", "currency", "payment", "shipping", "email", "cart",
               "recommendation", "ad", "loadgen"}
CRDS = {"Gateway": {"networking.istio.io/v1"}, "VirtualService": {"networking.istio.io/v1"},
        "PeerAuthentication": {"security.istio.io/v1"}, "AuthorizationPolicy": {"security.istio.io/v1"},
        "HTTPRoute": {"gateway.networking.k8s.io/v1"}, "ExternalSecret": {"external-secrets.io/v1"}}
BUILTIN = {"Namespace", "ServiceAccount", "Deployment", "Service", "NetworkPolicy",
           "HorizontalPodAutoscaler", "PodDisruptionBudget"}


def check(path):
    errs = []
    docs = [d for d in yaml.safe_load_all(open(path, encoding="utf-8")) if d]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
        if d["kind"] in CRDS and d["apiVersion"] not in CRDS[d["kind"]]:
            errs.append(f"{d['kind']}/{d['metadata']['name']}: apiVersion {d['apiVersion']}")
        if d["kind"] not in CRDS and d["kind"] not in BUILTIN:
            errs.append(f"unexpected kind {d['kind']} ({d['apiVersion']})")
    deps = by_kind.get("Deployment", {})
    svcs = by_kind.get("Service", {})
    apps = {d["spec"]["template"]["metadata"]["labels"].get("app") for d in deps.values()}
    for name, d in deps.items():
        pod = d["spec"]["template"]["spec"]
        psc = pod.get("securityContext", {})
        where = f"Deployment/{name}"
        if pod.get("automountServiceAccountToken") is not False:
            errs.append(f"{where}: automountServiceAccountToken is not false")
        if pod.get("serviceAccountName") in (None, "default"):
            errs.append(f"{where}: no own service account")
        if not (psc.get("runAsNonRoot") and psc.get("runAsUser") == 65532
                and psc.get("seccompProfile", {}).get("type") == "RuntimeDefault"):
            errs.append(f"{where}: pod securityContext not hardened")
        if name != "loadgenerator" and pod.get("terminationGracePeriodSeconds", 30) <= 10:
            errs.append(f"{where}: grace period must exceed the 10 s drain")
        for c in pod["containers"]:
            sc = c.get("securityContext", {})
            cw = f"{where}/{c['name']}"
            if not (sc.get("readOnlyRootFilesystem") and sc.get("allowPrivilegeEscalation") is False
                    and sc.get("capabilities", {}).get("drop") == ["ALL"] and sc.get("runAsNonRoot")):
                errs.append(f"{cw}: container securityContext not hardened")
            img = c["image"]
            if ":" not in img.rsplit("/", 1)[-1]:
                errs.append(f"{cw}: image without a tag: {img}")
            r = c.get("resources", {})
            if not all(r.get(k, {}).get(x) for k in ("requests", "limits") for x in ("cpu", "memory")):
                errs.append(f"{cw}: requests and limits for cpu and memory")
            if name != "loadgenerator" and not (c.get("readinessProbe") and c.get("livenessProbe")):
                errs.append(f"{cw}: readiness and liveness probes")
            if "boutique-shop/boutique" in img:
                if len(c.get("args", [])) != 1 or c["args"][0] not in SUBCOMMANDS:
                    errs.append(f"{cw}: args must be one boutique subcommand, got {c.get('args')}")
                probe = c.get("readinessProbe", {})
                if "grpc" in probe:
                    port = probe["grpc"]["port"]
                    env = {e["name"]: e.get("value") for e in c.get("env", [])}
                    if str(port) != env.get("PORT"):
                        errs.append(f"{cw}: gRPC probe port {port} != PORT {env.get('PORT')}")
    if "frontend" in deps:
        for s, port in UPSTREAM.items():
            if s not in svcs:
                errs.append(f"Service {s} missing")
            elif svcs[s]["spec"]["ports"][0]["port"] != port:
                errs.append(f"Service {s}: port {svcs[s]['spec']['ports'][0]['port']} != upstream {port}")
    for name, s in svcs.items():
        if s["spec"]["selector"].get("app") not in apps:
            errs.append(f"Service/{name} selects no Deployment")
    for name, p in by_kind.get("NetworkPolicy", {}).items():
        sel = p["spec"]["podSelector"].get("matchLabels", {}).get("app")
        if sel and sel not in apps:
            errs.append(f"NetworkPolicy/{name} selects app={sel}, which is not deployed")
    for name, p in by_kind.get("AuthorizationPolicy", {}).items():
        sel = p.get("spec", {}).get("selector", {}).get("matchLabels", {}).get("app")
        if sel and sel not in apps and sel != "redis-cart":
            errs.append(f"AuthorizationPolicy/{name} selects app={sel}, which is not deployed")
    for name, vs in by_kind.get("VirtualService", {}).items():
        for gw in vs["spec"].get("gateways", []):
            if gw not in by_kind.get("Gateway", {}):
                errs.append(f"VirtualService/{name}: gateway {gw} not in the render")
        for h in vs["spec"]["http"]:
            for r in h["route"]:
                if r["destination"]["host"] not in svcs:
                    errs.append(f"VirtualService/{name}: host {r['destination']['host']} is no Service")
    for name, rt in by_kind.get("HTTPRoute", {}).items():
        for rule in rt["spec"]["rules"]:
            for b in rule["backendRefs"]:
                s = svcs.get(b["name"])
                if not s or b["port"] not in [p["port"] for p in s["spec"]["ports"]]:
                    errs.append(f"HTTPRoute/{name}: backend {b['name']}:{b['port']} is no Service port")
    secrets = {es["spec"]["target"]["name"]: {x["secretKey"] for x in es["spec"]["data"]}
               for es in by_kind.get("ExternalSecret", {}).values()}
    for name, d in deps.items():
        for c in d["spec"]["template"]["spec"]["containers"]:
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref and ref["name"] in secrets and ref["key"] not in secrets[ref["name"]]:
                    errs.append(f"Deployment/{name}: secret key {ref['key']} not provided by ExternalSecret")
    return len(docs), errs


def main():
    bad = 0
    for path in sys.argv[1:]:
        n, errs = check(path)
        for e in errs:
            print(f"  {path}: {e}")
        bad += len(errs)
    print(f"  {len(sys.argv) - 1} renders checked, {bad} problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
