#!/usr/bin/env python3
"""Apply deploy/checkov-waivers.yaml to checkov JSON reports.

usage: checkov_gate.py WAIVERS REPORT.json [REPORT.json ...]
Prints every finding (waived or not); exits 1 on an unwaived finding or a waiver that
matched nothing in any report.
"""
import fnmatch
import json
import sys

import yaml


def main() -> int:
    waivers = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))["waivers"]
    for w in waivers:
        if not (w.get("check") and w.get("reason") and w.get("resources")):
            print(f"bad waiver (needs check, resources, reason): {w}")
            return 1
    used = [0] * len(waivers)
    bad = 0
    for path in sys.argv[2:]:
        text = open(path, encoding="utf-8").read().strip()
        reports = json.loads(text) if text else []
        if isinstance(reports, dict):
            reports = [reports]
        for report in reports:
            if not isinstance(report, dict) or "results" not in report:
                continue  # checkov prints a bare summary when nothing was scanned
            for f in report["results"].get("failed_checks", []):
                hit = None
                for i, w in enumerate(waivers):
                    if f["check_id"] == w["check"] and any(
                        fnmatch.fnmatchcase(f["resource"], p) for p in w["resources"]
                    ):
                        hit = i
                        break
                if hit is None:
                    bad += 1
                    print(f"  FAIL   {path}: {f['check_id']} {f['check_name']} [{f['resource']}]")
                else:
                    used[hit] += 1
    for w, n in zip(waivers, used):
        print(f"  waived {w['check']} x{n}")
        if n == 0:
            print(f"  STALE  waiver {w['check']} {w['resources']} matched nothing: remove it")
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
