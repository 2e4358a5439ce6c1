"""Alertmanager configuration in its three shapes, derived from one source.

deploy/observability/alertmanager/alertmanager.yml is the source of truth. This module turns it
into the compose configuration (every receiver a webhook to the local alert printer) and into the
spec of a Prometheus Operator AlertmanagerConfig (monitoring.coreos.com/v1alpha1), and turns an
AlertmanagerConfig back into the Alertmanager configuration the operator would generate from it,
so that amtool can check what the cluster would run. Used by deploy/sync_observability.py (the
copies) and deploy/check_alerting.py (the checks).

The conversions are strict: a key they do not know is an error, not silently dropped, so a new
setting in the source fails loudly until it is mapped here.
"""
import copy
import re

# Where the Prometheus Operator mounts the Secrets listed in an Alertmanager's spec.secrets:
# /etc/alertmanager/secrets/<secret>/<key>. The source names its credential files there, which
# is also how a *_file path maps to a Secret key selector in an AlertmanagerConfig.
SECRETS_DIR = "/etc/alertmanager/secrets/"
# The compose profile's webhook receiver (deploy/observability/alertmanager/alert_printer.py).
PRINTER_URL = "http://alert-printer:8080/"
# Settings that hold a credential: they must come from a *_file (or a Secret), never inline.
INLINE_CREDENTIALS = {"slack_api_url", "smtp_auth_password", "smtp_auth_secret", "api_url", "auth_password",
                      "auth_secret", "password", "bearer_token", "credentials", "api_key", "routing_key",
                      "service_key", "token"}

_MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*$')
_ROUTE_KEYS = {"receiver": "receiver", "group_by": "groupBy", "group_wait": "groupWait",
               "group_interval": "groupInterval", "repeat_interval": "repeatInterval", "continue": "continue"}
_SMTP = {"smtp_smarthost": "smarthost", "smtp_from": "from", "smtp_auth_username": "authUsername",
         "smtp_require_tls": "requireTLS"}


class ConfigError(Exception):
    """The configuration uses something these conversions do not map."""


def parse_matcher(text):
    """`name="value"`, `name=~"regex"`, ... -> (name, operator, value)."""
    m = _MATCHER.match(text)
    if not m:
        raise ConfigError(f"matcher {text!r}: expected name<op>\"value\" with op one of = != =~ !~")
    return m.group(1), m.group(2), re.sub(r"\\(.)", r"\1", m.group(3))


def format_matcher(name, op, value):
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{name}{op}"{escaped}"'


def _cr_matchers(matchers):
    """Matcher strings -> AlertmanagerConfig matchers. matchType "=" is the default and left out:
    a bare `=` is YAML 1.1's value tag, which PyYAML refuses when Helm's toYaml writes it bare."""
    out = []
    for n, op, v in map(parse_matcher, matchers):
        out.append({"name": n, "value": v} if op == "=" else {"name": n, "value": v, "matchType": op})
    return out


def _known(where, d, allowed):
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: expected a mapping, got {d!r}")
    extra = sorted(set(d) - set(allowed))
    if extra:
        raise ConfigError(f"{where}: no mapping for {extra}")


def _secret_ref(path, where):
    """A credential file under SECRETS_DIR -> an AlertmanagerConfig SecretKeySelector."""
    if not path.startswith(SECRETS_DIR) or path[len(SECRETS_DIR):].count("/") != 1:
        raise ConfigError(f"{where}: {path!r} is not {SECRETS_DIR}<secret>/<key>")
    name, key = path[len(SECRETS_DIR):].split("/")
    return {"name": name, "key": key}


def inline_credentials(node, where="config"):
    """Paths of settings that hold a credential inline (anything but a *_file)."""
    found = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k in INLINE_CREDENTIALS and v not in (None, ""):
                found.append(f"{where}.{k}")
            found += inline_credentials(v, f"{where}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += inline_credentials(v, f"{where}[{i}]")
    return found


# ---------------------------------------------------------------- source -> AlertmanagerConfig

def _route_to_cr(route, where):
    _known(where, route, [*_ROUTE_KEYS, "matchers", "routes"])
    out = {_ROUTE_KEYS[k]: v for k, v in route.items() if k in _ROUTE_KEYS}
    if route.get("matchers"):
        out["matchers"] = _cr_matchers(route["matchers"])
    if route.get("routes"):
        out["routes"] = [_route_to_cr(r, f"{where}.routes[{i}]") for i, r in enumerate(route["routes"])]
    return out


def _receiver_to_cr(rcv, glob):
    where = f"receiver {rcv['name']}"
    _known(where, rcv, ["name", "slack_configs", "email_configs", "webhook_configs"])
    out = {"name": rcv["name"]}
    for i, s in enumerate(rcv.get("slack_configs") or []):
        _known(f"{where} slack_configs[{i}]", s, ["api_url_file", "channel", "send_resolved", "title", "text"])
        path = s.get("api_url_file") or glob.get("slack_api_url_file")
        if not path:
            raise ConfigError(f"{where}: Slack needs api_url_file or global.slack_api_url_file")
        cfg = {"apiURL": _secret_ref(path, where)}
        cfg.update({{"send_resolved": "sendResolved"}.get(k, k): v for k, v in s.items() if k != "api_url_file"})
        out.setdefault("slackConfigs", []).append(cfg)
    for i, e in enumerate(rcv.get("email_configs") or []):
        _known(f"{where} email_configs[{i}]", e, ["to", "send_resolved"])
        # An AlertmanagerConfig has no global section: the SMTP settings go into each receiver.
        cfg = {"to": e["to"], "sendResolved": e.get("send_resolved", False)}
        cfg.update({cr: glob[k] for k, cr in _SMTP.items() if k in glob})
        if glob.get("smtp_auth_password_file"):
            cfg["authPassword"] = _secret_ref(glob["smtp_auth_password_file"], where)
        out.setdefault("emailConfigs", []).append(cfg)
    for i, w in enumerate(rcv.get("webhook_configs") or []):
        _known(f"{where} webhook_configs[{i}]", w, ["url", "send_resolved"])
        out.setdefault("webhookConfigs", []).append({"url": w["url"], "sendResolved": w.get("send_resolved", True)})
    return out


def to_alertmanager_config_spec(am):
    """The spec of an AlertmanagerConfig that routes, inhibits and notifies like `am`."""
    _known("top level", am, ["global", "route", "inhibit_rules", "receivers"])
    glob = am.get("global") or {}
    _known("global", glob, ["resolve_timeout", "slack_api_url_file", "smtp_auth_password_file", *_SMTP])
    spec = {"route": _route_to_cr(am["route"], "route")}
    spec["inhibitRules"] = []
    for i, r in enumerate(am.get("inhibit_rules") or []):
        _known(f"inhibit_rules[{i}]", r, ["source_matchers", "target_matchers", "equal"])
        rule = {side: _cr_matchers(r[key])
                for side, key in (("sourceMatch", "source_matchers"), ("targetMatch", "target_matchers"))}
        if r.get("equal"):
            rule["equal"] = list(r["equal"])
        spec["inhibitRules"].append(rule)
    spec["receivers"] = [_receiver_to_cr(r, glob) for r in am["receivers"]]
    return spec


# ---------------------------------------------------------------- source -> compose

def compose_config(am):
    """`am` with every receiver replaced by a webhook to the alert printer (the URL path names
    the receiver, so the printer shows which one an alert reached) and no credentials."""
    out = copy.deepcopy(am)
    out["global"] = {k: v for k, v in (am.get("global") or {}).items() if k == "resolve_timeout"}
    out["receivers"] = [{"name": r["name"],
                         "webhook_configs": [{"url": PRINTER_URL + r["name"], "send_resolved": True}]}
                        for r in am["receivers"]]
    return out


# ---------------------------------------------------------------- AlertmanagerConfig -> what the operator runs

def _matchers_from_cr(ms, where):
    out = []
    for m in ms or []:
        _known(where, m, ["name", "value", "matchType"])
        out.append(format_matcher(m["name"], m.get("matchType", "="), m.get("value", "")))
    return out


def _route_from_cr(route, prefix, where):
    _known(where, route, [*_ROUTE_KEYS.values(), "matchers", "routes"])
    back = {v: k for k, v in _ROUTE_KEYS.items()}
    out = {back[k]: v for k, v in route.items() if k in back}
    if "receiver" in out:
        out["receiver"] = prefix + out["receiver"]
    if route.get("matchers"):
        out["matchers"] = _matchers_from_cr(route["matchers"], f"{where}.matchers")
    if route.get("routes"):
        out["routes"] = [_route_from_cr(r, prefix, f"{where}.routes[{i}]") for i, r in enumerate(route["routes"])]
    return out


def _receiver_from_cr(rcv, prefix, where):
    _known(where, rcv, ["name", "slackConfigs", "emailConfigs", "webhookConfigs"])
    out = {"name": prefix + rcv["name"]}
    snake = {"sendResolved": "send_resolved", "requireTLS": "require_tls", "authUsername": "auth_username"}

    def secret_file(ref, what):
        _known(f"{where}.{what}", ref, ["name", "key"])
        return f"{SECRETS_DIR}{ref['name']}/{ref['key']}"

    for i, s in enumerate(rcv.get("slackConfigs") or []):
        _known(f"{where}.slackConfigs[{i}]", s, ["apiURL", "channel", "sendResolved", "title", "text"])
        cfg = {snake.get(k, k): v for k, v in s.items() if k != "apiURL"}
        # The operator reads the Secret and writes its value into the generated configuration;
        # a file stands in for it here, so that amtool sees a credential from somewhere.
        cfg["api_url_file"] = secret_file(s["apiURL"], "apiURL")
        out.setdefault("slack_configs", []).append(cfg)
    for i, e in enumerate(rcv.get("emailConfigs") or []):
        _known(f"{where}.emailConfigs[{i}]", e, ["to", "from", "smarthost", "authUsername", "authPassword",
                                                  "requireTLS", "sendResolved"])
        cfg = {snake.get(k, k): v for k, v in e.items() if k != "authPassword"}
        if "authPassword" in e:
            cfg["auth_password_file"] = secret_file(e["authPassword"], "authPassword")
        out.setdefault("email_configs", []).append(cfg)
    for i, w in enumerate(rcv.get("webhookConfigs") or []):
        _known(f"{where}.webhookConfigs[{i}]", w, ["url", "sendResolved"])
        out.setdefault("webhook_configs", []).append({snake.get(k, k): v for k, v in w.items()})
    return out


def operator_config(spec, namespace, name):
    """The Alertmanager configuration the Prometheus Operator generates from one
    AlertmanagerConfig (its default matcher strategy, OnNamespace): receivers named
    `namespace/name/receiver`, the config's route as a child of the root route that matches
    `namespace="<its namespace>"` and continues, and that matcher added to both sides of every
    inhibit rule. The root route's receiver is the operator's `null`."""
    where = f"AlertmanagerConfig {namespace}/{name}"
    _known(where, spec, ["route", "receivers", "inhibitRules"])
    prefix = f"{namespace}/{name}/"
    ns = format_matcher("namespace", "=", namespace)
    child = _route_from_cr(spec["route"], prefix, f"{where} route")
    child["matchers"] = [ns, *child.get("matchers", [])]
    child["continue"] = True
    inhibit = []
    for i, r in enumerate(spec.get("inhibitRules") or []):
        _known(f"{where} inhibitRules[{i}]", r, ["sourceMatch", "targetMatch", "equal"])
        rule = {"source_matchers": [*_matchers_from_cr(r.get("sourceMatch"), f"{where} inhibitRules[{i}]"), ns],
                "target_matchers": [*_matchers_from_cr(r.get("targetMatch"), f"{where} inhibitRules[{i}]"), ns]}
        if r.get("equal"):
            rule["equal"] = list(r["equal"])
        inhibit.append(rule)
    receivers = [{"name": "null"}]
    receivers += [_receiver_from_cr(r, prefix, f"{where} receiver {r.get('name')}") for r in spec["receivers"]]
    return {"route": {"receiver": "null", "routes": [child]}, "inhibit_rules": inhibit, "receivers": receivers}
