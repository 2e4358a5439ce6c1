#!/usr/bin/env python3
"""Invariants kubernetes-validate and checkov do not know, on rendered manifests.

usage: check_renders.py RENDER.yaml [...]
- every workload (Deployment, StatefulSet, Job) is hardened (non-root 65532, read-only root, no
  privilege escalation, drop ALL, seccomp RuntimeDefault, no service-account token), has
  requests and limits; Deployments and StatefulSets have a grace period longer than the 10 s
  drain (except the load generator) and probes, Jobs run to completion (restartPolicy Never or
  OnFailure, a backoffLimit, a deadline);
- every image has a tag; Boutique containers run the one image with a known subcommand;
- the upstream Service names and ports are there (when the base is rendered), and orders's
  (5060), accounts's (5080), ratings's (5090), and dispatch's (5070) with its Deployment; every literal *_SERVICE_ADDR names a
  Service port of the render;
- no Secret but the Helm chart's (made from values at install);
- backends: DATABASE_URL and AMQP_URL come from Secrets, never literal values (they hold
  passwords); a store-backed service (orders, accounts, ratings) without DATABASE_URL (SQLite in
  DATA_DIR) runs one replica with strategy Recreate, no HPA, and DATA_DIR on a volume; with
  DATABASE_URL a migrate Job reads the same Secret, and every store-backed service of the render
  reads that Secret too (one database); dispatch and orders read AMQP_URL from the same Secret;
- accounts's token keys: ACCOUNTS_TOKEN_KEYS never a literal (a secretKeyRef if at all);
  ACCOUNTS_TOKEN_KEYS_FILE a file on a mounted Secret volume (key `keys`); without either
  accounts makes its own key per pod, so it runs one replica, strategy Recreate, no HPA;
- custom resources (Istio, Gateway API, External Secrets) have the expected apiVersion and
  point at objects that exist in the same render (selectors, hosts, backendRefs, secrets,
  namespaced SecretStores); secret stores are Vault (KV v2, Kubernetes auth) or AWS Secrets
  Manager (IRSA) and authenticate as a ServiceAccount that mounts no token;
- NetworkPolicy and Istio selectors select workloads that exist;
- the log collector DaemonSet: host paths only /var/log/pods (read-only) and its state
  directory, otherwise hardened like the services; its configuration is
  deploy/observability/otel-collector/logs-kubernetes.yaml, its settings from a ConfigMap;
- telemetry: every Boutique container (the load generator's too) has the admin port
  (containerPort 9464 named `metrics`, ADMIN_PORT) and every service's Service a `metrics` port; PodMonitors and ServiceMonitors select pods or
  Services with that port; with default deny, scraped pods admit port 9464 and pods that export
  spans (ENABLE_TRACING) may reach the collector port, and pods that follow a flagd server
  (FLAGD_HOST) its sync port; tracing settings come from ConfigMaps of
  the render; Grafana dashboard ConfigMaps hold exactly deploy/observability's dashboards, and
  Grafana datasource ConfigMaps its Loki datasource (the url aside);
  every PrometheusRule's spec.groups equal deploy/observability/prometheus/rules.yaml, and each
  distinct spec passes `promtool check rules` (PROMTOOL, default promtool);
- mesh and network policies: with default deny every pod may reach DNS (53), and every pod
  with an Istio sidecar whose egress a policy limits may reach istiod (15012) in another
  namespace; when one workload asks
  for a sidecar, every workload does (a component listed after istio would be cut off by STRICT
  mTLS), and a Job's is a native sidecar (a classic one never exits, so the Job would never
  complete); with tracing on one service, it is on for every service (the same for a component
  listed after observability); with STRICT mTLS every
  pod with an admin port has it PERMISSIVE (a workload PeerAuthentication that keeps the other
  ports STRICT) and an ALLOW AuthorizationPolicy for it that plain text can match (no source
  principals or namespaces, which come from mTLS certificates), so Prometheus outside the mesh
  can scrape it.
"""
import copy
import json
import os
import subprocess
import sys
import tempfile

import yaml

UPSTREAM = {"frontend": 80, "cartservice": 7070, "productcatalogservice": 3550, "currencyservice": 7000,
            "paymentservice": 50051, "shippingservice": 50051, "emailservice": 5000, "checkoutservice": 5050,
            "recommendationservice": 8080, "adservice": 9555}
# Ours, with no upstream counterpart: orders, accounts and ratings are in the base, dispatch comes
# with components/rabbitmq.
OURS = {"orders": 5060, "accounts": 5080, "ratings": 5090, "dispatch": 5070}
# The services that keep tables in the database (SQLite in DATA_DIR without DATABASE_URL).
STORE_BACKED = ("orders", "accounts", "ratings")
SUBCOMMANDS = {"frontend", "checkout", "catalog", "currency", "payment", "shipping", "email", "cart",
               "recommendation", "ad", "orders", "accounts", "ratings", "dispatch", "loadgen", "migrate"}
# The address variables of the shop's own services (the service directory's); COLLECTOR_SERVICE_ADDR
# and the like point outside the render.
PEER_VARS = {f"{v}_SERVICE_ADDR" for v in ("AD", "CART", "CHECKOUT", "CURRENCY", "EMAIL", "PAYMENT", "PRODUCT_CATALOG",
                                           "RECOMMENDATION", "SHIPPING", "ORDERS", "DISPATCH", "ACCOUNTS",
                                           "RATINGS")}
# Run to completion: no admin port, no probes.
ONE_SHOT = {"migrate"}
# Workloads of optional components: policies (network-policies, istio) may name them while the
# component is off, which opens nothing.
OPTIONAL_APPS = {"redis-cart", "dispatch", "migrate", "postgres", "rabbitmq"}
WORKLOADS = ("Deployment", "StatefulSet", "Job")
CRDS = {"Gateway": {"networking.istio.io/v1"}, "VirtualService": {"networking.istio.io/v1"},
        "PeerAuthentication": {"security.istio.io/v1"}, "AuthorizationPolicy": {"security.istio.io/v1"},
        "HTTPRoute": {"gateway.networking.k8s.io/v1"}, "ExternalSecret": {"external-secrets.io/v1"},
        "SecretStore": {"external-secrets.io/v1"}, "ClusterSecretStore": {"external-secrets.io/v1"},
        "PodMonitor": {"monitoring.coreos.com/v1"}, "ServiceMonitor": {"monitoring.coreos.com/v1"},
        "PrometheusRule": {"monitoring.coreos.com/v1"}, "AlertmanagerConfig": {"monitoring.coreos.com/v1alpha1"}}
BUILTIN = {"Namespace", "ServiceAccount", "Deployment", "StatefulSet", "Job", "DaemonSet", "Service",
           "NetworkPolicy", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ConfigMap", "Secret"}
ADMIN_PORT = 9464
ISTIOD_XDS_PORT = 15012   # sidecars: xDS and certificates from istiod
MTLS_ONLY = ("principals", "notPrincipals", "namespaces", "notNamespaces")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OBS = os.path.join(ROOT, "deploy", "observability")
with open(os.path.join(OBS, "prometheus", "rules.yaml"), encoding="utf-8") as _f:
    RULE_GROUPS = yaml.safe_load(_f)["groups"]
DASH_DIR = os.path.join(OBS, "grafana", "dashboards")
DASHBOARDS = {n: json.load(open(os.path.join(DASH_DIR, n), encoding="utf-8"))
              for n in sorted(os.listdir(DASH_DIR)) if n.endswith(".json")}
with open(os.path.join(OBS, "otel-collector", "logs-kubernetes.yaml"), encoding="utf-8") as _f:
    LOG_COLLECTOR_CONFIG = yaml.safe_load(_f)
with open(os.path.join(OBS, "grafana", "provisioning", "datasources-loki", "loki.yaml"), encoding="utf-8") as _f:
    LOKI_DATASOURCE = yaml.safe_load(_f)
RULE_SPECS = {}   # distinct PrometheusRule specs (canonical JSON) -> first render that had it


def selects(selector, labels):
    """A label selector (matchLabels, matchExpressions) against a label set."""
    if not selector:
        return True
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for e in selector.get("matchExpressions", []):
        op, have = e["operator"], e["key"] in labels
        if op == "In" and labels.get(e["key"]) not in e["values"]:
            return False
        if op == "NotIn" and labels.get(e["key"]) in e["values"]:
            return False
        if (op == "Exists" and not have) or (op == "DoesNotExist" and have):
            return False
    return True


def allows(policies, labels, direction, port):
    """Whether some NetworkPolicy selecting a pod with `labels` opens `port` in `direction`."""
    key = "ingress" if direction == "Ingress" else "egress"
    for p in policies:
        spec = p["spec"]
        if direction not in spec.get("policyTypes", ["Ingress"]) or not selects(spec["podSelector"], labels):
            continue
        for rule in spec.get(key) or []:
            ports = rule.get("ports")
            if not ports or any(x.get("port") == port for x in ports):
                return True
    return False


def egress_peers(policies, labels, port):
    """The `to` peers of every egress rule that opens `port` to a pod with `labels`
    ({} for a rule without `to`, which opens it to everywhere)."""
    peers = []
    for p in policies:
        spec = p["spec"]
        if "Egress" not in spec.get("policyTypes", ["Ingress"]) or not selects(spec["podSelector"], labels):
            continue
        for rule in spec.get("egress") or []:
            ports = rule.get("ports")
            if not ports or any(x.get("port") == port for x in ports):
                peers += rule.get("to") or [{}]
    return peers


def check_mesh(by_kind):
    """Istio next to network policies (istiod egress) and monitoring (plain-text admin port)."""
    errs = []
    nps = by_kind.get("NetworkPolicy", {})
    policies = list(nps.values())
    deny = "default-deny-all" in nps
    pas = list(by_kind.get("PeerAuthentication", {}).values())
    aps = list(by_kind.get("AuthorizationPolicy", {}).values())
    strict = any(not pa["spec"].get("selector") and pa["spec"].get("mtls", {}).get("mode") == "STRICT" for pa in pas)
    workloads = [(f"{kind}/{name}", d) for kind in WORKLOADS for name, d in by_kind.get(kind, {}).items()]
    meshed = [w for w, d in workloads
              if d["spec"]["template"]["metadata"].get("labels", {}).get("sidecar.istio.io/inject") == "true"]
    for where, d in workloads:
        tmpl = d["spec"]["template"]
        labels = tmpl["metadata"].get("labels", {})
        if meshed and where not in meshed:
            errs.append(f"{where}: no Istio sidecar while {meshed[0]} has one: list the component that adds "
                        "it before istio (STRICT mTLS and the AuthorizationPolicies cut it off)")
        if where in meshed and where.startswith("Job/") and \
                tmpl["metadata"].get("annotations", {}).get("sidecar.istio.io/nativeSidecar") != "true":
            errs.append(f"{where}: an Istio sidecar that is not native never exits, so the Job never completes")
        if deny and not allows(policies, labels, "Egress", 53):
            errs.append(f"{where}: default deny, but no NetworkPolicy lets it reach DNS (53)")
        # Any policy that selects the pod for egress (default deny, or a component's own policy
        # without the network-policies component) shuts its sidecar out of istiod unless a
        # policy lets it through.
        egress_limited = any("Egress" in p["spec"].get("policyTypes", ["Ingress"])
                             and selects(p["spec"]["podSelector"], labels) for p in policies)
        if egress_limited and labels.get("sidecar.istio.io/inject") == "true" and not any(
                peer.get("namespaceSelector", {}).get("matchLabels") and peer.get("podSelector", {}).get("matchLabels")
                for peer in egress_peers(policies, labels, ISTIOD_XDS_PORT)):
            errs.append(f"{where}: Istio sidecar with its egress limited by NetworkPolicy, but no policy lets it "
                        f"reach istiod pods in their namespace on {ISTIOD_XDS_PORT}")
        mports = [p["containerPort"] for c in tmpl["spec"]["containers"] for p in c.get("ports", [])
                  if p.get("name") == "metrics"]
        if not (strict and mports):
            continue
        port = str(mports[0])
        if not any(pa["spec"].get("selector") and selects(pa["spec"]["selector"], labels)
                   and pa["spec"].get("mtls", {}).get("mode", "UNSET") in ("UNSET", "STRICT")
                   and {str(k): v for k, v in (pa["spec"].get("portLevelMtls") or {}).items()}
                   .get(port, {}).get("mode") == "PERMISSIVE" for pa in pas):
            errs.append(f"{where}: STRICT mTLS, but no PeerAuthentication makes admin port {port} PERMISSIVE "
                        "(and keeps the other ports STRICT): Prometheus outside the mesh cannot scrape it")
        if aps and not any(
                ap.get("spec", {}).get("action", "ALLOW") == "ALLOW"
                and selects(ap["spec"].get("selector"), labels)
                and any(any(port in (op.get("operation", {}).get("ports") or [port]) for op in rule.get("to") or [{}])
                        and (not rule.get("from") or any(not any(f in src.get("source", {}) for f in MTLS_ONLY)
                                                         for src in rule["from"]))
                        for rule in ap["spec"].get("rules") or [])
                for ap in aps):
            errs.append(f"{where}: no AuthorizationPolicy allows plain text on admin port {port} "
                        "(source principals and namespaces never match plain text)")
    return errs


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
        # No Secret is committed: only the chart makes one, at install, from values.
        if d["kind"] == "Secret" and d["metadata"].get("labels", {}).get("app.kubernetes.io/managed-by") != "Helm":
            errs.append(f"Secret/{d['metadata']['name']}: a Secret in the manifests (secrets come from the cluster)")
    deps = by_kind.get("Deployment", {})
    svcs = by_kind.get("Service", {})
    workloads = [(kind, name, d) for kind in WORKLOADS for name, d in by_kind.get(kind, {}).items()]
    apps = {d["spec"]["template"]["metadata"]["labels"].get("app")
            for d in [*(w for _, _, w in workloads), *by_kind.get("DaemonSet", {}).values()]}
    for kind, name, d in workloads:
        pod = d["spec"]["template"]["spec"]
        psc = pod.get("securityContext", {})
        where = f"{kind}/{name}"
        job = kind == "Job"
        if job and (pod.get("restartPolicy") not in ("Never", "OnFailure") or "backoffLimit" not in d["spec"]
                    or not d["spec"].get("activeDeadlineSeconds")):
            errs.append(f"{where}: a Job needs restartPolicy Never or OnFailure, a backoffLimit and an "
                        "activeDeadlineSeconds")
        if pod.get("automountServiceAccountToken") is not False:
            errs.append(f"{where}: automountServiceAccountToken is not false")
        if pod.get("serviceAccountName") in (None, "default"):
            errs.append(f"{where}: no own service account")
        if not (psc.get("runAsNonRoot") and psc.get("runAsUser") == 65532
                and psc.get("seccompProfile", {}).get("type") == "RuntimeDefault"):
            errs.append(f"{where}: pod securityContext not hardened")
        if not job and name != "loadgenerator" and pod.get("terminationGracePeriodSeconds", 30) <= 10:
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
            if not job and not (c.get("readinessProbe") and c.get("livenessProbe")):
                errs.append(f"{cw}: readiness and liveness probes")
            if "boutique-shop/boutique" in img:
                if len(c.get("args", [])) != 1 or c["args"][0] not in SUBCOMMANDS:
                    errs.append(f"{cw}: args must be one boutique subcommand, got {c.get('args')}")
                elif job != (c["args"][0] in ONE_SHOT):
                    errs.append(f"{cw}: `boutique {c['args'][0]}` in a {kind}")
                env = {e["name"]: e.get("value") for e in c.get("env", [])}
                for e in c.get("env", []):
                    if e["name"] in PEER_VARS and e.get("value"):
                        host, _, port = e["value"].rpartition(":")
                        ports = [p["port"] for p in svcs.get(host, {}).get("spec", {}).get("ports", [])]
                        if host in svcs and str(port) not in map(str, ports):
                            errs.append(f"{cw}: {e['name']}={e['value']}, but Service {host} has ports {ports}")
                        elif host not in svcs and "frontend" in deps:
                            errs.append(f"{cw}: {e['name']}={e['value']}: no Service {host} in the render")
                mports = [p for p in c.get("ports", []) if p.get("name") == "metrics"]
                if job:
                    pass
                elif not mports:
                    errs.append(f"{cw}: no container port named metrics (the admin port)")
                elif str(mports[0]["containerPort"]) != env.get("ADMIN_PORT"):
                    errs.append(f"{cw}: metrics port {mports[0]['containerPort']} != ADMIN_PORT {env.get('ADMIN_PORT')}")
                probe = c.get("readinessProbe", {})
                if "grpc" in probe:
                    port = probe["grpc"]["port"]
                    env = {e["name"]: e.get("value") for e in c.get("env", [])}
                    if str(port) != env.get("PORT"):
                        errs.append(f"{cw}: gRPC probe port {port} != PORT {env.get('PORT')}")
    if "frontend" in deps:
        expected = {**UPSTREAM, **{s: OURS[s] for s in STORE_BACKED}}
        if "dispatch" in deps:
            expected["dispatch"] = OURS["dispatch"]
        for s, port in expected.items():
            if s not in svcs:
                errs.append(f"Service {s} missing")
            elif svcs[s]["spec"]["ports"][0]["port"] != port:
                errs.append(f"Service {s}: port {svcs[s]['spec']['ports'][0]['port']} != {port}")
    for name, s in svcs.items():
        if s["spec"]["selector"].get("app") not in apps:
            errs.append(f"Service/{name} selects no workload")
        if (name in UPSTREAM or name in OURS) and not any(p.get("name") == "metrics" and p.get("targetPort") == "metrics"
                                                          for p in s["spec"]["ports"]):
            errs.append(f"Service/{name}: no port named metrics (targetPort metrics)")
    errs += check_secret_stores(by_kind)
    errs += check_log_collector(by_kind)
    errs += check_telemetry(path, by_kind)
    errs += check_mesh(by_kind)
    errs += check_backends(by_kind)
    errs += check_proxy_hops(by_kind)
    for name, p in by_kind.get("NetworkPolicy", {}).items():
        sel = p["spec"]["podSelector"].get("matchLabels", {}).get("app")
        if sel and sel not in apps and sel not in OPTIONAL_APPS:
            errs.append(f"NetworkPolicy/{name} selects app={sel}, which is not deployed")
    for name, p in by_kind.get("AuthorizationPolicy", {}).items():
        sel = p.get("spec", {}).get("selector", {}).get("matchLabels", {}).get("app")
        if sel and sel not in apps and sel not in OPTIONAL_APPS:
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
    for kind, name, d in workloads:
        for c in d["spec"]["template"]["spec"]["containers"]:
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref and ref["name"] in secrets and ref["key"] not in secrets[ref["name"]]:
                    errs.append(f"{kind}/{name}: secret key {ref['key']} not provided by ExternalSecret")
    return len(docs), errs


def check_proxy_hops(by_kind):
    """The storefront counts one proxy hop in X-Forwarded-For exactly when a gateway (Istio's or
    a Gateway API HTTPRoute) is in front of it: with none, a client could forge the header and
    slip past the sign-in throttle; with one and no hop counted, every shopper shares the
    gateway's address and one attacker throttles them all."""
    frontend = by_kind.get("Deployment", {}).get("frontend")
    if not frontend:
        return []
    gateway = bool(by_kind.get("HTTPRoute")) or bool(by_kind.get("Gateway"))
    want = "1" if gateway else "0"
    got = env_of(frontend).get("TRUSTED_PROXY_HOPS", {}).get("value", "0")
    if got != want:
        return [f"Deployment/frontend: TRUSTED_PROXY_HOPS={got}, want {want} "
                f"({'behind' if gateway else 'without'} a gateway)"]
    return []


def env_of(workload):
    """{name: env entry} of a workload's first container."""
    return {e["name"]: e for e in workload["spec"]["template"]["spec"]["containers"][0].get("env", [])}


def check_backends(by_kind):
    """PostgreSQL, RabbitMQ and the services that need them: URLs from Secrets, orders, accounts
    and ratings on SQLite kept at one replica, one database and the migrate Job next to it, one
    broker for orders and dispatch; accounts's token keys from a Secret, or one replica."""
    errs = []
    deps = by_kind.get("Deployment", {})
    jobs = by_kind.get("Job", {})
    for kind in WORKLOADS:
        for name, d in by_kind.get(kind, {}).items():
            for var, e in env_of(d).items():
                if var in ("DATABASE_URL", "AMQP_URL") and "secretKeyRef" not in e.get("valueFrom", {}):
                    errs.append(f"{kind}/{name}: {var} must come from a Secret (secretKeyRef): it holds a password")
    hpas = {h["spec"]["scaleTargetRef"].get("name"): n for n, h in by_kind.get("HorizontalPodAutoscaler", {}).items()}

    def single_instance(name, d, where):
        if d["spec"].get("replicas", 1) > 1:
            errs.append(f"{where}: {d['spec']['replicas']} replicas; one only")
        if d["spec"].get("strategy", {}).get("type") != "Recreate":
            errs.append(f"{where}: strategy must be Recreate (a rolling update runs two at once)")
        if name in hpas:
            errs.append(f"{where}: HorizontalPodAutoscaler/{hpas[name]} scales it")

    db_refs = {}
    for name in STORE_BACKED:
        d = deps.get(name)
        if not d:
            continue
        env = env_of(d)
        pod = d["spec"]["template"]["spec"]
        if "DATABASE_URL" not in env:
            where = f"Deployment/{name} on SQLite (no DATABASE_URL)"
            single_instance(name, d, f"{where}, each pod its own database")
            data_dir = env.get("DATA_DIR", {}).get("value")
            mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0].get("volumeMounts", [])}
            vols = {v["name"]: v for v in pod.get("volumes", [])}
            if not data_dir or data_dir not in mounts or mounts[data_dir] not in vols:
                errs.append(f"{where}: DATA_DIR must be a mounted volume (the root filesystem is read-only)")
        else:
            ref = env["DATABASE_URL"].get("valueFrom", {}).get("secretKeyRef")
            db_refs[name] = ref
            if not any(env_of(j).get("DATABASE_URL", {}).get("valueFrom", {}).get("secretKeyRef") == ref
                       and j["spec"]["template"]["spec"]["containers"][0].get("args") == ["migrate"]
                       for j in jobs.values()):
                errs.append(f"Deployment/{name} has DATABASE_URL, but no migrate Job reads the same Secret")
    if db_refs and (len({json.dumps(r, sort_keys=True) for r in db_refs.values()}) > 1
                    or len(db_refs) != sum(1 for n in STORE_BACKED if n in deps)):
        errs.append(f"store-backed services on different databases (DATABASE_URL Secrets {db_refs}): one database, "
                    "one `boutique migrate`")
    accounts = deps.get("accounts")
    if accounts:
        env = env_of(accounts)
        pod = accounts["spec"]["template"]["spec"]
        if "ACCOUNTS_TOKEN_KEYS" in env and "secretKeyRef" not in env["ACCOUNTS_TOKEN_KEYS"].get("valueFrom", {}):
            errs.append("Deployment/accounts: ACCOUNTS_TOKEN_KEYS must come from a Secret (secretKeyRef): it holds keys")
        keys_file = env.get("ACCOUNTS_TOKEN_KEYS_FILE", {}).get("value")
        if keys_file:
            vols = {v["name"]: v for v in pod.get("volumes", [])}
            mounted = [m for m in pod["containers"][0].get("volumeMounts", [])
                       if keys_file.startswith(m["mountPath"].rstrip("/") + "/")]
            vol = vols.get(mounted[0]["name"], {}) if mounted else {}
            items = {i["path"]: i["key"] for i in vol.get("secret", {}).get("items", [])}
            rel = keys_file[len(mounted[0]["mountPath"].rstrip("/")) + 1:] if mounted else None
            if "secret" not in vol or items.get(rel, rel) != "keys":
                errs.append(f"Deployment/accounts: ACCOUNTS_TOKEN_KEYS_FILE={keys_file} is not key `keys` of a mounted Secret")
            elif vol["secret"].get("optional"):
                errs.append("Deployment/accounts: the token key Secret is optional (the service fails without the file)")
        elif "ACCOUNTS_TOKEN_KEYS" not in env:
            single_instance("accounts", accounts,
                            "Deployment/accounts without token keys (each pod its own signing key)")
    orders = deps.get("orders")
    dispatch = deps.get("dispatch")
    if dispatch:
        ref = env_of(dispatch).get("AMQP_URL", {}).get("valueFrom", {}).get("secretKeyRef")
        if not ref:
            errs.append("Deployment/dispatch: no AMQP_URL (its in-process queue would never see an event)")
        elif orders and env_of(orders).get("AMQP_URL", {}).get("valueFrom", {}).get("secretKeyRef") != ref:
            errs.append("Deployment/orders does not publish to dispatch's broker (AMQP_URL from another Secret, or none)")
    return errs


def check_log_collector(by_kind):
    """The log collector DaemonSet: the only workload allowed host paths, and only these: the
    pod logs read-only and its own state directory; otherwise as locked down as the services
    (no token, read-only root, no capability, no privilege escalation, RuntimeDefault seccomp,
    requests and limits, probes, a tagged image). Its configuration is logs-kubernetes.yaml, and
    the namespace it reads (BOUTIQUE_NAMESPACE) and Loki endpoint come from a ConfigMap of the
    render. A Namespace in the render that it runs in must allow hostPath (Pod Security)."""
    errs = []
    cms = by_kind.get("ConfigMap", {})
    for name, ds in by_kind.get("DaemonSet", {}).items():
        where = f"DaemonSet/{name}"
        pod = ds["spec"]["template"]["spec"]
        if pod.get("automountServiceAccountToken") is not False:
            errs.append(f"{where}: automountServiceAccountToken is not false")
        if pod.get("securityContext", {}).get("seccompProfile", {}).get("type") != "RuntimeDefault":
            errs.append(f"{where}: seccompProfile is not RuntimeDefault")
        vols = {v["name"]: v for v in pod.get("volumes", [])}
        host = {n: v["hostPath"]["path"] for n, v in vols.items() if "hostPath" in v}
        if sorted(host.values()) != ["/var/lib/boutique-log-collector", "/var/log/pods"]:
            errs.append(f"{where}: host paths {sorted(host.values())}, expected /var/log/pods and its state directory")
        for c in pod["containers"]:
            cw = f"{where}/{c['name']}"
            sc = c.get("securityContext", {})
            if not (sc.get("readOnlyRootFilesystem") and sc.get("allowPrivilegeEscalation") is False
                    and sc.get("capabilities", {}).get("drop") == ["ALL"] and not sc.get("capabilities", {}).get("add")
                    and not sc.get("privileged")):
                errs.append(f"{cw}: container securityContext not hardened")
            if ":" not in c["image"].rsplit("/", 1)[-1]:
                errs.append(f"{cw}: image without a tag")
            r = c.get("resources", {})
            if not all(r.get(k, {}).get(x) for k in ("requests", "limits") for x in ("cpu", "memory")):
                errs.append(f"{cw}: requests and limits for cpu and memory")
            if not (c.get("readinessProbe") and c.get("livenessProbe")):
                errs.append(f"{cw}: readiness and liveness probes")
            for m in c.get("volumeMounts", []):
                if vols.get(m["name"], {}).get("hostPath", {}).get("path") == "/var/log/pods" and not m.get("readOnly"):
                    errs.append(f"{cw}: /var/log/pods must be mounted read-only")
            env = {}
            for ef in c.get("envFrom", []):
                ref = ef.get("configMapRef", {}).get("name")
                if ref not in cms:
                    errs.append(f"{cw}: envFrom ConfigMap {ref} is not in the render")
                else:
                    env.update(cms[ref].get("data", {}))
            for key in ("BOUTIQUE_NAMESPACE", "LOKI_OTLP_ENDPOINT"):
                if not env.get(key):
                    errs.append(f"{cw}: no {key} from a ConfigMap")
            configs = [cms.get(v["configMap"]["name"], {}).get("data", {}).get("config.yaml")
                       for v in vols.values() if "configMap" in v]
            if not configs or configs[0] is None:
                errs.append(f"{cw}: no ConfigMap with config.yaml mounted")
            elif yaml.safe_load(configs[0]) != LOG_COLLECTOR_CONFIG:
                errs.append(f"{cw}: config.yaml differs from deploy/observability/otel-collector/logs-kubernetes.yaml")
        ns = ds["metadata"].get("namespace")
        nsobj = by_kind.get("Namespace", {}).get(ns)
        if nsobj and nsobj["metadata"].get("labels", {}).get("pod-security.kubernetes.io/enforce", "privileged") != "privileged":
            errs.append(f"{where}: namespace {ns} enforces Pod Security that forbids hostPath")
    return errs


def check_secret_stores(by_kind):
    """External Secrets stores: an ExternalSecret that names a namespaced SecretStore finds it
    in the render; every store has exactly one provider, Vault (KV, Kubernetes auth) or AWS
    Secrets Manager (IRSA), which authenticates as a ServiceAccount that exists (namespaced
    stores), mounts no token, and for IRSA names its IAM role."""
    errs = []
    stores = {**{("SecretStore", n): s for n, s in by_kind.get("SecretStore", {}).items()},
              **{("ClusterSecretStore", n): s for n, s in by_kind.get("ClusterSecretStore", {}).items()}}
    sas = by_kind.get("ServiceAccount", {})
    for name, es in by_kind.get("ExternalSecret", {}).items():
        ref = es["spec"]["secretStoreRef"]
        if ref.get("kind", "SecretStore") == "SecretStore" and ("SecretStore", ref["name"]) not in stores:
            errs.append(f"ExternalSecret/{name}: SecretStore {ref['name']} is not in the render")
    for (kind, name), st in stores.items():
        where = f"{kind}/{name}"
        providers = st["spec"].get("provider", {})
        if len(providers) != 1 or set(providers) - {"vault", "aws"}:
            errs.append(f"{where}: expected one provider, vault or aws, got {sorted(providers)}")
            continue
        if "vault" in providers:
            v = providers["vault"]
            k8s = v.get("auth", {}).get("kubernetes", {})
            if not (v.get("server", "").startswith("https://") and v.get("path") and v.get("version", "v2") == "v2"):
                errs.append(f"{where}: Vault needs an https server and a KV v2 path")
            if not (k8s.get("role") and k8s.get("mountPath")):
                errs.append(f"{where}: Vault Kubernetes auth needs a role and a mountPath")
            sa_ref = k8s.get("serviceAccountRef", {})
        else:
            a = providers["aws"]
            if a.get("service") != "SecretsManager" or not a.get("region"):
                errs.append(f"{where}: AWS needs service SecretsManager and a region")
            sa_ref = a.get("auth", {}).get("jwt", {}).get("serviceAccountRef", {})
        if not sa_ref.get("name"):
            errs.append(f"{where}: no serviceAccountRef (Kubernetes auth or IRSA)")
            continue
        if kind == "ClusterSecretStore" and not sa_ref.get("namespace"):
            errs.append(f"{where}: a ClusterSecretStore's serviceAccountRef needs a namespace")
        sa = sas.get(sa_ref["name"])
        if kind == "SecretStore" and not sa:
            errs.append(f"{where}: ServiceAccount {sa_ref['name']} is not in the render")
        if sa is not None:
            if sa.get("automountServiceAccountToken") is not False:
                errs.append(f"ServiceAccount/{sa_ref['name']}: automountServiceAccountToken must be false (no pod needs it)")
            if "aws" in providers and not (sa["metadata"].get("annotations") or {}).get("eks.amazonaws.com/role-arn"):
                errs.append(f"ServiceAccount/{sa_ref['name']}: IRSA needs the eks.amazonaws.com/role-arn annotation")
    return errs


def check_telemetry(path, by_kind):
    """Monitoring objects, the admin port and tracing of one render."""
    errs = []
    pods = {}    # Deployment name -> (pod labels, container port names, env incl. envFrom ConfigMaps)
    cms = by_kind.get("ConfigMap", {})
    for name, d in by_kind.get("Deployment", {}).items():
        tmpl = d["spec"]["template"]
        env, port_names = {}, set()
        for c in tmpl["spec"]["containers"]:
            port_names |= {p.get("name") for p in c.get("ports", [])}
            for ef in c.get("envFrom", []):
                ref = ef.get("configMapRef", {}).get("name")
                if ref:
                    if ref not in cms:
                        errs.append(f"Deployment/{name}: envFrom ConfigMap {ref} not in the render")
                    else:
                        env.update(cms[ref].get("data", {}))
            env.update({e["name"]: e.get("value") for e in c.get("env", [])})
        pods[name] = (tmpl["metadata"].get("labels", {}), port_names, env)
    policies = list(by_kind.get("NetworkPolicy", {}).values())
    deny = "default-deny-all" in by_kind.get("NetworkPolicy", {})
    scraped = set()
    for name, pm in by_kind.get("PodMonitor", {}).items():
        ports = {e.get("port") for e in pm["spec"].get("podMetricsEndpoints", [])}
        hits = [d for d, (labels, pn, _) in pods.items() if selects(pm["spec"]["selector"], labels) and ports & pn]
        if not hits:
            errs.append(f"PodMonitor/{name} selects no pod with port {sorted(ports)}")
        if pm["spec"].get("jobLabel") != "app":
            errs.append(f"PodMonitor/{name}: jobLabel must be app (one job per service, for the up alerts)")
        scraped |= set(hits)
    svcs = by_kind.get("Service", {})
    for name, sm in by_kind.get("ServiceMonitor", {}).items():
        ports = {e.get("port") for e in sm["spec"].get("endpoints", [])}
        hits = [s for s, svc in svcs.items() if selects(sm["spec"]["selector"], svc["metadata"].get("labels", {}))
                and ports & {p.get("name") for p in svc["spec"]["ports"]}]
        if not hits:
            errs.append(f"ServiceMonitor/{name} selects no Service with port {sorted(ports)}")
        scraped |= {d for d, (labels, _, _) in pods.items() for s in hits if selects(
            {"matchLabels": svcs[s]["spec"]["selector"]}, labels)}
    if by_kind.get("PodMonitor") and by_kind.get("ServiceMonitor"):
        errs.append("both a PodMonitor and a ServiceMonitor: every target would be scraped twice")
    for d in sorted(scraped):
        if deny and not allows(policies, pods[d][0], "Ingress", ADMIN_PORT):
            errs.append(f"Deployment/{d} is scraped, but no NetworkPolicy admits port {ADMIN_PORT}")
    def on(env):
        return str(env.get("ENABLE_TRACING", "0")).lower() in ("1", "true", "yes", "on")

    servers = [d for d, dep in by_kind.get("Deployment", {}).items()
               for c in dep["spec"]["template"]["spec"]["containers"][:1]
               if "boutique-shop/boutique" in c["image"] and c.get("args", [""])[0] not in ("loadgen", *ONE_SHOT)]
    traced = [d for d in servers if on(pods[d][2])]
    for d in sorted(set(servers) - set(traced)) if traced else []:
        errs.append(f"Deployment/{d}: tracing is off while {traced[0]} exports spans: list the component that adds "
                    "it before observability")
    for d, (labels, _, env) in pods.items():
        if not on(env):
            continue
        addr = env.get("COLLECTOR_SERVICE_ADDR")
        if not addr or ":" not in addr:
            errs.append(f"Deployment/{d}: ENABLE_TRACING without COLLECTOR_SERVICE_ADDR host:port")
        elif deny and not allows(policies, labels, "Egress", int(addr.rsplit(":", 1)[1])):
            errs.append(f"Deployment/{d} exports spans to {addr}, but no NetworkPolicy lets it out")
    for d, (labels, _, env) in pods.items():
        host = env.get("FLAGD_HOST")
        port = int(env.get("FLAGD_SYNC_PORT") or env.get("FLAGD_PORT") or 8015)
        if host and deny and not allows(policies, labels, "Egress", port):
            errs.append(f"Deployment/{d} follows flagd at {host}:{port}, but no NetworkPolicy lets it out")
    for name, cm in cms.items():
        if cm["metadata"].get("labels", {}).get("grafana_datasource") == "1":
            got = [yaml.safe_load(v) for v in cm.get("data", {}).values()]
            want = copy.deepcopy(LOKI_DATASOURCE)
            if len(got) == 1 and got[0].get("datasources"):
                # The URL is the deployment's choice; everything else is the source's.
                want["datasources"][0]["url"] = got[0]["datasources"][0].get("url")
            if got != [want]:
                errs.append(f"ConfigMap/{name}: differs from deploy/observability/grafana/provisioning/"
                            "datasources-loki/loki.yaml (other than the url)")
        if cm["metadata"].get("labels", {}).get("grafana_dashboard") == "1":
            data = cm.get("data", {})
            if sorted(data) != sorted(DASHBOARDS):
                errs.append(f"ConfigMap/{name}: dashboards {sorted(data)} != {sorted(DASHBOARDS)}")
            for k, v in data.items():
                if k in DASHBOARDS and json.loads(v) != DASHBOARDS[k]:
                    errs.append(f"ConfigMap/{name}: {k} differs from deploy/observability/grafana/dashboards/{k}")
    for name, pr in by_kind.get("PrometheusRule", {}).items():
        if pr["spec"].get("groups") != RULE_GROUPS:
            errs.append(f"PrometheusRule/{name}: spec.groups differ from deploy/observability/prometheus/rules.yaml")
        RULE_SPECS.setdefault(json.dumps(pr["spec"], sort_keys=True), f"{path}: PrometheusRule/{name}")
    return errs


def promtool_rules():
    """`promtool check rules` on each distinct PrometheusRule spec (what `yq .spec` extracts)."""
    errs = []
    promtool = os.environ.get("PROMTOOL", "promtool")
    with tempfile.TemporaryDirectory() as tmp:
        for i, (spec, where) in enumerate(sorted(RULE_SPECS.items())):
            f = os.path.join(tmp, f"rules-{i}.yaml")
            with open(f, "w", encoding="utf-8") as out:
                yaml.safe_dump(json.loads(spec), out, sort_keys=False)
            r = subprocess.run([promtool, "check", "rules", f], capture_output=True, text=True, check=False)
            if r.returncode:
                errs.append(f"{where}: promtool check rules failed:\n{r.stdout}{r.stderr}")
    return errs


def main():
    bad = 0
    for path in sys.argv[1:]:
        n, errs = check(path)
        for e in errs:
            print(f"  {path}: {e}")
        bad += len(errs)
    for e in promtool_rules():
        print(f"  {e}")
        bad += 1
    print(f"  {len(sys.argv) - 1} renders checked, {len(RULE_SPECS)} distinct PrometheusRule spec(s) "
          f"passed to promtool check rules, {bad} problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
