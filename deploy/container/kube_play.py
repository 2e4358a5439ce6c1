"""Turn the rendered kustomize base into a file `podman kube play` can run on loopback.

Usage: kube_play.py RENDERED.yaml IMAGE PREFIX PORTS.json > play.yaml
PORTS.json maps each Deployment name (frontend, cartservice, ...) to two free ports on
127.0.0.1: {"frontend": {"port": 41001, "admin": 41002}, ...}.

podman kube play (4.3) runs Pods and Deployments only; Services, ServiceAccounts and the rest
are dropped here. The CI network rule keeps container traffic on loopback, so every pod uses
hostNetwork with its own ports (PORT, ADMIN_PORT for /metrics, LISTEN_ADDR=127.0.0.1; in one
network namespace the rendered ADMIN_PORT 9464 of every pod would collide), and the upstream
addresses (`cartservice:7070`) become 127.0.0.1:PORT, standing in for the Services. Kept as rendered:
args, the security contexts (non-root 65532, read-only root, drop ALL, seccomp RuntimeDefault),
resources and the remaining env. Removed: container ports (without hostNetwork, podman would
publish them on 0.0.0.0) and the probes (podman 4.3 has no gRPC probes; the caller checks health).
Deployments are renamed PREFIX-NAME so parallel runs cannot clash.
"""
import json
import sys

import yaml


def main() -> None:
    rendered, image, prefix, ports_file = sys.argv[1:5]
    ports = json.load(open(ports_file))
    out = []
    for doc in yaml.safe_load_all(open(rendered)):
        if not doc or doc.get("kind") != "Deployment":
            continue
        name = doc["metadata"]["name"]
        if name not in ports:
            sys.exit(f"no port for Deployment {name}")
        doc["metadata"]["name"] = f"{prefix}-{name}"
        pod = doc["spec"]["template"]["spec"]
        pod["hostNetwork"] = True
        for c in pod["containers"]:
            c["image"] = image
            c["imagePullPolicy"] = "IfNotPresent"
            for key in ("ports", "readinessProbe", "livenessProbe", "startupProbe"):
                c.pop(key, None)
            env = [e for e in c.get("env", []) if e["name"] not in ("PORT", "ADMIN_PORT", "LISTEN_ADDR")]
            for e in env:
                if e["name"].endswith("_SERVICE_ADDR") and "value" in e:
                    host = e["value"].rsplit(":", 1)[0]
                    if host not in ports:
                        sys.exit(f"{name}: {e['name']}={e['value']} names no Deployment")
                    e["value"] = f"127.0.0.1:{ports[host]['port']}"
            env += [{"name": "PORT", "value": str(ports[name]["port"])},
                    {"name": "ADMIN_PORT", "value": str(ports[name]["admin"])},
                    {"name": "LISTEN_ADDR", "value": "127.0.0.1"}]
            c["env"] = env
        out.append(doc)
    if not out:
        sys.exit("no Deployment in the render")
    yaml.safe_dump_all(out, sys.stdout, sort_keys=False)


if __name__ == "__main__":
    main()
