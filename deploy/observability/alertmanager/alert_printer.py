#!/usr/bin/env python3
"""A webhook receiver for Alertmanager that prints every notification it gets, one line per
alert, so that you can watch alerts fire on one machine (the compose observability profile runs
it as the service `alert-printer`; every receiver of alertmanager-compose.yml posts here, the
URL path naming the receiver).

usage: alert_printer.py [--listen HOST:PORT]     default 0.0.0.0:8080 (in its container)

A line looks like:
  [boutique-pages] FIRING BoutiqueServiceDown {job="adservice", severity="critical"}
      Every target of job adservice is down  runbook: https://...
A body that is not an Alertmanager webhook message gets 400 and a line saying why; the printer
keeps serving. Standard library only.
"""
import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1 << 20  # Alertmanager batches alerts; a megabyte is far above a real notification


def format_notification(receiver, message):
    """The printed lines for one webhook message (Alertmanager's webhook format, version 4)."""
    if not isinstance(message, dict) or not isinstance(message.get("alerts"), list):
        raise ValueError("expected a JSON object with an `alerts` list (Alertmanager webhook format)")
    lines = []
    for alert in message["alerts"]:
        if not isinstance(alert, dict):
            raise ValueError("every alert must be a JSON object")
        labels = alert.get("labels") or {}
        ann = alert.get("annotations") or {}
        name = labels.get("alertname", "?")
        shown = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "alertname")
        lines.append(f"[{receiver}] {str(alert.get('status', '?')).upper()} {name} {{{shown}}}")
        detail = ann.get("summary", "")
        if ann.get("runbook_url"):
            detail += f"  runbook: {ann['runbook_url']}"
        if detail:
            lines.append(f"    {detail}")
    return lines


class Handler(BaseHTTPRequestHandler):
    """POST /<receiver>: print the alerts; anything else: 404/405."""

    def do_POST(self):  # noqa: N802 (the http.server name)
        raw = self.headers.get("Content-Length") or "0"
        length = int(raw) if raw.isdigit() else 0
        if length <= 0 or length > MAX_BODY:
            return self._answer(400, f"body must be 1..{MAX_BODY} bytes")
        receiver = self.path.strip("/") or "webhook"
        try:
            lines = format_notification(receiver, json.loads(self.rfile.read(length)))
        except (ValueError, UnicodeDecodeError) as e:
            print(f"[{receiver}] rejected a notification: {e}", flush=True)
            return self._answer(400, str(e))
        print("\n".join(lines), flush=True)
        return self._answer(200, "ok")

    def do_GET(self):  # noqa: N802
        # /healthz for the container's health check.
        return self._answer(200 if self.path == "/healthz" else 404, "ok" if self.path == "/healthz" else "not found")

    def _answer(self, status, text):
        body = (text + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 (the http.server signature)
        # Only the alerts are printed; access lines would drown them.
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--listen", default="0.0.0.0:8080", help="HOST:PORT (default 0.0.0.0:8080)")
    args = ap.parse_args()
    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit():
        sys.exit(f"--listen {args.listen!r}: expected HOST:PORT")
    server = ThreadingHTTPServer((host, int(port)), Handler)
    print(f"alert printer: listening on {host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
