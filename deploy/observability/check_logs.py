#!/usr/bin/env python3
"""Check the log collection configurations against real Boutique log lines.

No OpenTelemetry Collector or Fluent Bit binary is available here (Debian packages neither), so
this script applies the rules the two configuration files write down, as the two programs
document them, to testdata/boutique-logs.jsonl (lines a running shop printed with
LOG_FORMAT=json), wrapped the way the kubelet stores them. It interprets the configuration
files themselves, so a change there changes what is checked; a rule it does not know (an
operator type, a condition, a filter) is a failure, not a silent skip.

OpenTelemetry Collector (otel-collector/logs-kubernetes.yaml):
  - every component in a pipeline is defined, every defined one is used, and each type is one
    the otelcol-contrib distribution ships (list below); the same for otel-collector/config.yaml;
  - every ${env:VAR} is set by the DaemonSet of deploy/kubernetes/log-collector;
  - the filelog operators turn each line (CRI, Docker json-file, and a CRI line split in two
    partial lines) into the record described at the top of the file: body = message, the line's
    timestamp, severity text and number, trace and span id exactly when the line has them,
    service.name, and only the low-cardinality resource attributes (the Loki index labels);
    a line that is not JSON keeps its text and gets the container's name as service.name.
Fluent Bit (fluent-bit/fluent-bit.conf, parsers.conf):
  - the tail path selects the pods of BOUTIQUE_NAMESPACE and no other namespace's, and the
    kubernetes filter's Kube_Tag_Prefix is the prefix the tail tag really has;
  - the parser filter reads the key the cri/docker multiline parsers write (`log`), names a
    parser of parsers.conf, and that parser's time format reads every line's timestamp;
  - every resulting record has severity, service, message, trace_id/span_id when the line has
    them, and the record time equal to the line's timestamp;
  - the Elasticsearch output takes its credentials from the environment.
Grafana (grafana/provisioning/datasources-loki/loki.yaml): the derived fields link the
  collector's trace_id metadata, and the trace id found in a raw JSON line (tried on every real
  line), to a provisioned trace datasource.
usage: check_logs.py [--self-test]     (--self-test also plants faults and expects them caught)
"""
import argparse
import copy
import datetime
import fnmatch
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
LINES = HERE / "testdata" / "boutique-logs.jsonl"
COLLECTOR_MANIFEST = ROOT / "deploy" / "kubernetes" / "log-collector"
# Component types of otelcol-contrib 0.115 that Boutique's configurations may use (a subset of
# the distribution's manifest; add one here when a configuration needs it).
CONTRIB_TYPES = {
    "receivers": {"otlp", "filelog", "prometheus", "hostmetrics", "k8s_cluster", "kubeletstats"},
    "processors": {"memory_limiter", "batch", "resource", "resourcedetection", "k8sattributes", "transform",
                   "filter", "attributes"},
    "exporters": {"otlp", "otlphttp", "debug", "prometheus", "prometheusremotewrite", "loki", "file"},
    "connectors": {"spanmetrics", "servicegraph", "forward"},
    "extensions": {"health_check", "file_storage", "pprof", "zpages", "basicauth", "bearertokenauth"},
}
# What Loki makes index labels of: every resource attribute it receives (with its default OTLP
# settings, for these names). Only these may stay in the resource.
INDEX_LABELS = {"service.name", "k8s.namespace.name", "k8s.container.name"}
SEVERITY_NUMBERS = {"trace": 1, "debug": 5, "info": 9, "warn": 13, "error": 17, "fatal": 21}
CRI_RE = re.compile(r"^(?P<time>\S+) (?P<stream>stdout|stderr) (?P<logtag>[^ ]*) ?(?P<log>.*)$")
POD_PATH_RE = re.compile(r"^.*/(?P<namespace>[^_]+)_(?P<pod>[^_]+)_(?P<uid>[a-f0-9-]{36})/(?P<container>[^._]+)/"
                         r"(?P<restart>\d+)\.log$")


class Failed(Exception):
    """A check failed; the message says what and where."""


def real_lines():
    lines = [ln for ln in LINES.read_text().splitlines() if ln.strip()]
    if not lines:
        raise Failed(f"{LINES}: no lines")
    return lines


# ---------------------------------------------------------------- OpenTelemetry Collector

def check_components(path):
    cfg = yaml.safe_load(path.read_text())
    errors = []
    where = path.name
    defined = {kind: set(cfg.get(kind) or {}) for kind in CONTRIB_TYPES}
    for kind, names in defined.items():
        for name in names:
            if name.split("/")[0] not in CONTRIB_TYPES[kind]:
                errors.append(f"{where}: {kind} {name}: type {name.split('/')[0]} is not in otelcol-contrib")
    used = {kind: set() for kind in CONTRIB_TYPES}
    used["extensions"] = set(cfg["service"].get("extensions", []))
    for pname, p in cfg["service"]["pipelines"].items():
        for kind in ("receivers", "processors", "exporters"):
            for name in p.get(kind, []):
                sort = "connectors" if name in defined["connectors"] else kind
                if name not in defined[sort]:
                    errors.append(f"{where}: pipeline {pname}: {kind[:-1]} {name} is not defined")
                used[sort].add(name)
    for kind in CONTRIB_TYPES:
        for name in sorted(defined[kind] - used[kind]):
            errors.append(f"{where}: {kind} {name} is defined but never used")
    return errors


def check_collector_env(config_path):
    """Every ${env:VAR} of the configuration is set by the log collector's DaemonSet."""
    text = config_path.read_text()
    wanted = set(re.findall(r"\$\{env:([A-Z_][A-Z0-9_]*)\}", text))
    kust = yaml.safe_load((COLLECTOR_MANIFEST / "kustomization.yaml").read_text())
    have = {lit.split("=", 1)[0] for g in kust.get("configMapGenerator", []) for lit in g.get("literals", [])}
    for doc in yaml.safe_load_all((COLLECTOR_MANIFEST / "collector.yaml").read_text()):
        if doc and doc["kind"] == "DaemonSet":
            have |= {e["name"] for c in doc["spec"]["template"]["spec"]["containers"] for e in c.get("env", [])}
    return [f"{config_path.name}: ${{env:{v}}} is set by no env or ConfigMap of deploy/kubernetes/log-collector"
            for v in sorted(wanted - have)]


class Entry:
    """A stanza entry: body, attributes, resource, and the record's own fields."""

    def __init__(self, body, path):
        self.body, self.attributes, self.resource = body, {"log.file.path": path}, {}
        self.timestamp = self.severity_text = self.trace_id = self.span_id = None
        self.severity = 0

    def field(self, ref):
        """(container, key) for `body`, `attributes.x`, `attributes["x"]`, `resource["x"]`."""
        m = re.fullmatch(r'(attributes|resource)(?:\.([A-Za-z_][\w]*)|\["([^"]+)"\])', ref.strip())
        if not m:
            raise Failed(f"field {ref!r}: not a form this check knows")
        return getattr(self, m.group(1)), m.group(2) or m.group(3)

    def get(self, ref):
        if ref.strip() == "body":
            return self.body
        d, k = self.field(ref)
        return d.get(k)

    def set(self, ref, value):
        if ref.strip() == "body":
            self.body = value
        else:
            d, k = self.field(ref)
            d[k] = value

    def delete(self, ref):
        d, k = self.field(ref)
        return d.pop(k, None)


def condition(expr, e):
    """The `if` expressions the configuration uses (expr-lang): `body matches "re"` and
    `<field> == nil` / `!= nil`."""
    if expr is None:
        return True
    m = re.fullmatch(r'\s*body matches "((?:[^"\\]|\\.)*)"\s*', expr)
    if m:
        return isinstance(e.body, str) and re.search(m.group(1).encode().decode("unicode_escape"), e.body) is not None
    m = re.fullmatch(r"\s*(.+?)\s*(==|!=)\s*nil\s*", expr)
    if m:
        missing = e.get(m.group(1)) is None
        return missing if m.group(2) == "==" else not missing
    raise Failed(f"condition {expr!r}: not a form this check knows")


def container_op(lines, path):
    """The `container` operator: CRI (with partial lines joined) or Docker json-file; the pod's
    namespace, name, uid, container and restart count from the path (as resource attributes)."""
    out, pending = [], ""
    for raw in lines:
        if raw.startswith("{"):
            d = json.loads(raw)
            e = Entry(d["log"].rstrip("\n"), path)
            e.attributes["log.iostream"] = d["stream"]
        else:
            m = CRI_RE.match(raw)
            if not m:
                raise Failed(f"container: not a CRI line: {raw[:80]}")
            if m.group("logtag") == "P":
                pending += m.group("log")
                continue
            e = Entry(pending + m.group("log"), path)
            pending = ""
            e.attributes["log.iostream"] = m.group("stream")
        p = POD_PATH_RE.match(path)
        e.resource.update({"k8s.namespace.name": p["namespace"], "k8s.pod.name": p["pod"], "k8s.pod.uid": p["uid"],
                           "k8s.container.name": p["container"], "k8s.container.restart_count": p["restart"]})
        out.append(e)
    return out


def json_parser_op(op, e):
    if not condition(op.get("if"), e):
        return
    src = e.get(op.get("parse_from", "body"))
    parsed = json.loads(src)
    if op.get("parse_to", "attributes") != "attributes":
        raise Failed(f"json_parser {op.get('id')}: parse_to other than attributes")
    e.attributes.update(parsed)
    ts = op.get("timestamp")
    if ts:
        if ts.get("layout_type") != "gotime" or ts.get("layout") != "2006-01-02T15:04:05.999999999Z07:00":
            raise Failed(f"json_parser {op.get('id')}: timestamp layout {ts.get('layout')!r} is not the RFC 3339 one")
        e.timestamp = datetime.datetime.fromisoformat(e.get(ts["parse_from"]).replace("Z", "+00:00"))
    sev = op.get("severity")
    if sev:
        if sev.get("preset") != "none":
            raise Failed(f"json_parser {op.get('id')}: severity without `preset: none` maps values this check does not model")
        value = str(e.get(sev["parse_from"]))
        for alias, wanted in sev.get("mapping", {}).items():
            wanted = wanted if isinstance(wanted, list) else [wanted]
            # Stanza compares mapping values case-insensitively.
            if value.lower() in (str(w).lower() for w in wanted):
                e.severity = SEVERITY_NUMBERS[alias]
        e.severity_text = value
    tr = op.get("trace")
    if tr:
        tid, sid = e.get(tr["trace_id"]["parse_from"]), e.get(tr["span_id"]["parse_from"])
        if tid is not None:
            if not re.fullmatch(r"[0-9a-f]{32}", tid):
                raise Failed(f"trace_id {tid!r} is not 32 hex digits")
            e.trace_id = tid
        if sid is not None:
            if not re.fullmatch(r"[0-9a-f]{16}", sid):
                raise Failed(f"span_id {sid!r} is not 16 hex digits")
            e.span_id = sid


def run_operators(ops, raw_lines, path):
    entries = None
    for op in ops:
        kind = op["type"]
        if kind == "container":
            entries = container_op(raw_lines, path)
            continue
        if entries is None:
            raise Failed("the first operator must be `container`")
        for e in entries:
            if kind == "json_parser":
                json_parser_op(op, e)
            elif kind in ("move", "copy"):
                if condition(op.get("if"), e):
                    value = e.get(op["from"])
                    if value is None:
                        raise Failed(f"{kind} {op.get('id')}: {op['from']} is missing (the collector would log an error)")
                    if kind == "move":
                        e.delete(op["from"]) if op["from"].strip() != "body" else None
                    e.set(op["to"], value)
            elif kind == "remove":
                if condition(op.get("if"), e):
                    e.delete(op["field"])
            else:
                raise Failed(f"operator type {kind!r}: not one this check knows")
    return entries


def check_collector_records(config_path, lines):
    cfg = yaml.safe_load(config_path.read_text())
    ops = cfg["receivers"]["filelog"]["operators"]
    include = cfg["receivers"]["filelog"]["include"]
    path = "/var/log/pods/boutique_frontend-7d9c6b8f4-x2x9q_0f9c3e2a-1b2c-4d5e-8f90-123456789abc/server/0.log"
    errors = []
    pattern = include[0].replace("${env:BOUTIQUE_NAMESPACE}", "boutique")
    if not fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path.replace("boutique_", "other_", 1), pattern):
        errors.append(f"{config_path.name}: include {include[0]} does not select exactly BOUTIQUE_NAMESPACE's pods")
    stamp = "2026-11-30T10:33:19.468948123Z"
    cri = [f"{stamp} stdout F {ln}" for ln in lines]
    docker = [json.dumps({"log": ln + "\n", "stream": "stdout", "time": stamp}) for ln in lines]
    longest = max(lines, key=len)
    half = len(longest) // 2
    split = [f"{stamp} stdout P {longest[:half]}", f"{stamp} stdout F {longest[half:]}"]
    cases = [("CRI", cri, lines), ("Docker json-file", docker, lines), ("CRI partial lines", split, [longest])]
    for name, raw, originals in cases:
        entries = run_operators(ops, raw, path)
        if len(entries) != len(originals):
            errors.append(f"{name}: {len(entries)} records from {len(originals)} lines")
            continue
        for e, original in zip(entries, originals):
            src = json.loads(original)
            where = f"{name}: line {src['message']!r}"
            if e.body != src["message"]:
                errors.append(f"{where}: body {e.body!r}")
            if e.timestamp != datetime.datetime.fromisoformat(src["timestamp"].replace("Z", "+00:00")):
                errors.append(f"{where}: timestamp {e.timestamp}")
            if e.severity_text != src["severity"] or e.severity != SEVERITY_NUMBERS[src["severity"].lower()]:
                errors.append(f"{where}: severity {e.severity_text}/{e.severity}")
            if (e.trace_id, e.span_id) != (src.get("trace_id"), src.get("span_id")):
                errors.append(f"{where}: trace context {e.trace_id}/{e.span_id}, line has "
                              f"{src.get('trace_id')}/{src.get('span_id')}")
            if e.resource.get("service.name") != src["service"]:
                errors.append(f"{where}: service.name {e.resource.get('service.name')!r}")
            if set(e.resource) != INDEX_LABELS:
                errors.append(f"{where}: resource attributes {sorted(e.resource)} (Loki index labels) are not "
                              f"{sorted(INDEX_LABELS)}")
            left = {"timestamp", "severity", "trace_id", "span_id", "message", "service"} & set(e.attributes)
            if left:
                errors.append(f"{where}: {sorted(left)} left in the attributes as well")
            for k in set(src) - {"timestamp", "severity", "trace_id", "span_id", "message", "service"}:
                if e.attributes.get(k) != src[k]:
                    errors.append(f"{where}: field {k} lost")
            if "k8s.pod.name" not in e.attributes:
                errors.append(f"{where}: the pod's name is not kept as an attribute (structured metadata)")
    plain = run_operators(ops, [f"{stamp} stdout F 1:M 30 Nov 2026 10:33:19.468 * Ready to accept connections"],
                          path.replace("/server/", "/redis/"))[0]
    if plain.body != "1:M 30 Nov 2026 10:33:19.468 * Ready to accept connections" or \
            plain.resource.get("service.name") != "redis" or set(plain.resource) != INDEX_LABELS:
        errors.append(f"a line that is not JSON: body {plain.body!r}, resource {plain.resource}")
    return errors, len(lines)


# ---------------------------------------------------------------- Fluent Bit

def read_classic(path):
    """Fluent Bit's classic format: [SECTION] headers and `Key Value` lines -> [(section, {key: value})]
    with keys lower-cased (Fluent Bit's keys are case-insensitive)."""
    sections = []
    for ln in path.read_text().splitlines():
        s = ln.strip()
        if not s or s.startswith("#"):
            continue
        if s.startswith("[") and s.endswith("]"):
            sections.append((s[1:-1].upper(), {}))
        elif sections:
            key, _, value = s.partition(" ")
            sections[-1][1][key.lower()] = value.strip()
        else:
            raise Failed(f"{path.name}: {s!r} outside any section")
    return sections


def strptime_format(fluent):
    """Fluent Bit's Time_Format -> Python's: %L (fractional seconds) is %f (up to 6 digits here)."""
    return fluent.replace("%L", "%f")


def check_fluent_bit(conf_dir, lines):
    errors = []
    conf = read_classic(conf_dir / "fluent-bit.conf")
    service = next(s for n, s in conf if n == "SERVICE")
    parsers = {p["name"]: p for n, p in read_classic(conf_dir / service["parsers_file"]) if n == "PARSER"}
    inputs = [s for n, s in conf if n == "INPUT"]
    filters = [s for n, s in conf if n == "FILTER"]
    outputs = [s for n, s in conf if n == "OUTPUT"]
    tail = next((i for i in inputs if i["name"] == "tail"), None)
    if not tail:
        return ["fluent-bit.conf: no tail input"]
    ours = "/var/log/containers/frontend-7d9c6b8f4-x2x9q_boutique_server-" + "a" * 64 + ".log"
    other = ours.replace("_boutique_", "_kube-system_")
    pattern = tail["path"].replace("${BOUTIQUE_NAMESPACE}", "boutique")
    if not fnmatch.fnmatch(ours, pattern) or fnmatch.fnmatch(other, pattern):
        errors.append(f"fluent-bit.conf: tail Path {tail['path']} does not select exactly BOUTIQUE_NAMESPACE's pods")
    if not {"cri", "docker"} <= {p.strip() for p in tail.get("multiline.parser", "").split(",")}:
        errors.append("fluent-bit.conf: tail needs multiline.parser cri, docker (both runtimes, partial lines)")
    # tail's Tag kube.* becomes kube.<path with / replaced by .>
    tag = tail["tag"].replace("*", ours.lstrip("/").replace("/", "."))
    for f in filters:
        if not fnmatch.fnmatch(tag, f["match"]):
            errors.append(f"fluent-bit.conf: filter {f['name']} (Match {f['match']}) does not match the tag {tag}")
        if f["name"] == "kubernetes" and not tag.startswith(f.get("kube_tag_prefix", "kube.var.log.containers.")):
            errors.append(f"fluent-bit.conf: Kube_Tag_Prefix {f.get('kube_tag_prefix')} is not the prefix of {tag}")
        if f["name"] not in ("kubernetes", "parser"):
            errors.append(f"fluent-bit.conf: filter {f['name']}: not one this check knows")
    parser_filters = [f for f in filters if f["name"] == "parser"]
    if not parser_filters:
        return errors + ["fluent-bit.conf: no parser filter for the JSON lines"]
    pf = parser_filters[0]
    if pf.get("key_name") != "log":
        errors.append(f"fluent-bit.conf: the parser filter reads {pf.get('key_name')}, the cri/docker parsers write `log`")
    parser = parsers.get(pf.get("parser"))
    if not parser:
        return errors + [f"fluent-bit.conf: parser {pf.get('parser')} is not in {service['parsers_file']}"]
    if parser.get("format") != "json":
        errors.append(f"parser {parser['name']}: format {parser.get('format')}, Boutique writes JSON")
    fmt = strptime_format(parser.get("time_format", ""))
    for ln in lines:
        record = {"log": ln, "stream": "stdout", "_p": "F"}      # what the cri parser hands on
        parsed = json.loads(record.pop("log"))
        where = f"line {parsed['message']!r}"
        try:
            when = datetime.datetime.strptime(parsed[parser["time_key"]], fmt).replace(tzinfo=datetime.timezone.utc)
        except (KeyError, ValueError) as e:
            errors.append(f"{where}: Time_Key {parser.get('time_key')} / Time_Format {parser.get('time_format')}: {e}")
            continue
        if parser.get("time_keep", "Off").lower() != "on":
            parsed.pop(parser["time_key"])
        if pf.get("reserve_data", "Off").lower() == "on":
            record.update(parsed)
        else:
            record = parsed
        src = json.loads(ln)
        if when != datetime.datetime.fromisoformat(src["timestamp"].replace("Z", "+00:00")):
            errors.append(f"{where}: record time {when}, line {src['timestamp']}")
        for k in ("severity", "service", "message", "trace_id", "span_id"):
            if record.get(k) != src.get(k):
                errors.append(f"{where}: {k} {record.get(k)!r}, line {src.get(k)!r}")
    for o in outputs:
        for key in ("http_passwd", "http_user", "cloud_auth", "aws_role_arn"):
            if key in o and not re.fullmatch(r"\$\{[A-Z_][A-Z0-9_]*\}", o[key]):
                errors.append(f"fluent-bit.conf: output {o['name']} {key} is inline; take it from the environment")
        if o["name"] == "es" and o.get("tls", "Off").lower() != "on":
            errors.append("fluent-bit.conf: the es output sends credentials without TLS")
    return errors


# ---------------------------------------------------------------- Grafana

def check_loki_datasource(obs, lines):
    """The Loki datasource's derived fields: the `label` one names the structured metadata the
    collector's records carry (trace_id), the `regex` one finds each real line's trace id (and
    nothing in a line without one), and both link to a provisioned trace datasource."""
    errors = []
    ds = yaml.safe_load((obs / "grafana" / "provisioning" / "datasources-loki" / "loki.yaml").read_text())
    loki = next(d for d in ds["datasources"] if d["type"] == "loki")
    provisioned = {d["uid"] for d in yaml.safe_load(
        (obs / "grafana" / "provisioning" / "datasources" / "boutique.yaml").read_text())["datasources"]}
    fields = loki.get("jsonData", {}).get("derivedFields", [])
    kinds = {f.get("matcherType", "regex") for f in fields}
    if kinds != {"label", "regex"}:
        errors.append(f"loki.yaml: derived fields of types {sorted(kinds)}, want a label and a regex one")
    for f in fields:
        if f.get("datasourceUid") not in provisioned:
            errors.append(f"loki.yaml: derived field {f['name']} links to uid {f.get('datasourceUid')}, not provisioned")
        if f.get("url") != "$${__value.raw}":
            errors.append(f"loki.yaml: derived field {f['name']}: url must be $${{__value.raw}} (escaped for provisioning)")
        if f.get("matcherType") == "label" and f["matcherRegex"] != "trace_id":
            errors.append(f"loki.yaml: derived field {f['name']} matches label {f['matcherRegex']}, the metadata is trace_id")
        if f.get("matcherType", "regex") == "regex":
            rx = re.compile(f["matcherRegex"])
            for ln in lines:
                m = rx.search(ln)
                if (m.group(1) if m else None) != json.loads(ln).get("trace_id"):
                    errors.append(f"loki.yaml: derived field {f['name']} finds {m and m.group(1)} in {ln[:80]}...")
    return errors


# ---------------------------------------------------------------- main

def run_checks(obs, lines):
    errors = []
    for cfg in ("logs-kubernetes.yaml", "config.yaml"):
        errors += check_components(obs / "otel-collector" / cfg)
    errors += check_collector_env(obs / "otel-collector" / "logs-kubernetes.yaml")
    errs, _ = check_collector_records(obs / "otel-collector" / "logs-kubernetes.yaml", lines)
    errors += errs
    errors += check_fluent_bit(obs / "fluent-bit", lines)
    errors += check_loki_datasource(obs, lines)
    return errors


def self_test(lines):
    def planted(what, mutate, expect):
        with tempfile.TemporaryDirectory() as tmp:
            obs = Path(tmp) / "observability"
            shutil.copytree(HERE, obs, ignore=shutil.ignore_patterns("__pycache__", "dashboards", "prometheus"))
            mutate(obs)
            try:
                errs = run_checks(obs, lines)
            except Failed as e:
                errs = [str(e)]
        if not any(expect in e for e in errs):
            raise Failed(f"self-test: planted {what} was not reported (wanted {expect!r}); got {errs}")
        print(f"  self-test: planted {what} is reported")

    def edit_collector(fn):
        def mutate(obs):
            p = obs / "otel-collector" / "logs-kubernetes.yaml"
            doc = yaml.safe_load(p.read_text())
            fn(doc)
            p.write_text(yaml.safe_dump(doc))
        return mutate

    def drop_trace(doc):
        for op in doc["receivers"]["filelog"]["operators"]:
            op.pop("trace", None)

    def keep_pod_label(doc):
        ops = doc["receivers"]["filelog"]["operators"]
        doc["receivers"]["filelog"]["operators"] = [o for o in ops if o.get("id") != "pod-name"]

    def unused_exporter(doc):
        doc["exporters"]["debug"] = {}

    def fb_time(obs):
        p = obs / "fluent-bit" / "parsers.conf"
        p.write_text(p.read_text().replace("%H:%M:%S.%LZ", "%H:%M:%S%z"))

    def fb_key(obs):
        p = obs / "fluent-bit" / "fluent-bit.conf"
        p.write_text(p.read_text().replace("Key_Name      log", "Key_Name      message"))

    planted("collector without trace parsing", edit_collector(drop_trace), "trace context None/None")
    planted("pod name left as an index label", edit_collector(keep_pod_label), "Loki index labels")
    planted("collector exporter never used", edit_collector(unused_exporter), "exporters debug is defined but never used")
    planted("Fluent Bit time format that misreads our timestamps", fb_time, "Time_Format")
    planted("Fluent Bit parser filter on the wrong key", fb_key, "the cri/docker parsers write `log`")

    def ds_regex(obs):
        p = obs / "grafana" / "provisioning" / "datasources-loki" / "loki.yaml"
        p.write_text(p.read_text().replace('{32}', '{16}'))
    planted("derived field regex that misses trace ids", ds_regex, "derived field TraceID (in line) finds")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    try:
        lines = real_lines()
        if args.self_test:
            self_test(lines)
        errors = run_checks(HERE, lines)
    except (Failed, OSError, yaml.YAMLError, KeyError, json.JSONDecodeError) as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    if errors:
        print(f"FAILED: {len(errors)} problem(s):", file=sys.stderr)
        for e in errors:
            print(f"  - {e}", file=sys.stderr)
        return 1
    print(f"  collector: components, environment, and {len(lines)} real log lines as CRI, Docker and partial "
          "lines; Fluent Bit: path, tag, parser and time on the same lines")
    print("check_logs.py: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
