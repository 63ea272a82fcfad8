"""Soak: drive many invocations through the real bootstrap and watch its memory and fds.

Two runtimes, one per app, started by the emulator as Lambda would: the environ-echo app
receives every fixture event in turn (all sources, binary bodies, unsupported and malformed
events), and the misbehaving app a mix of good and failing routes (exceptions, protocol errors,
iterators that raise, close() that raises). After a warm-up, RSS and open file descriptors of
each bootstrap are read from /proc; at the end they are read again and compared.

Usage: bench/soak.py --emulator PATH --bootstrap PATH [--invocations N]
"""

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = ROOT / "tests" / "apps"
FIXTURES = ROOT / "runtime" / "tests" / "fixtures"
WARM_UP = 1_000
MISBEHAVING_ROUTES = ["/ok", "/raise", "/bad-status", "/crlf-header", "/iterator-raises", "/close-raises",
                      "/returns-none", "/str-body", "/write", "/exc-info-before-body", "/file-wrapper", "/binary"]


def start(emulator, bootstrap, handler):
    process = subprocess.Popen(
        [emulator, "serve", "--bootstrap", bootstrap, "--handler", handler, "--task-root", str(APPS),
         "--port", "0", "--runtime-api-port", "0", "--timeout", "30"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
    api_port = None
    for line in process.stdout:
        if "runtime API on 127.0.0.1:" in line:
            api_port = int(line.rsplit(":", 1)[1])
        if "runtime ready" in line:
            break
    if api_port is None:
        sys.exit(f"{handler}: the emulator did not start")
    return process, api_port


def child_pid(parent):
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent and "bootstrap" in (entry / "cmdline").read_bytes().decode(errors="replace"):
                return int(entry.name)
    sys.exit(f"no bootstrap child of {parent}")


def usage(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return rss_kb, len(os.listdir(f"/proc/{pid}/fd"))


def invoke(port, payload):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations", data=payload, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emulator", required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--invocations", type=int, default=100_000)
    args = parser.parse_args()

    fixtures = [p.read_bytes() for p in sorted(FIXTURES.glob("*/*.json")) if p.name.count(".") == 1]
    def misbehaving_event(route):
        return json.dumps({"version": "2.0", "rawPath": route, "rawQueryString": "", "headers": {"host": "soak"},
                           "requestContext": {"http": {"method": "GET", "sourceIp": "127.0.0.1"}, "stage": "$default"}}).encode()
    misbehaving = [misbehaving_event(route) for route in MISBEHAVING_ROUTES]
    plan = [("echo:app", fixtures, args.invocations * 4 // 5), ("misbehaving:app", misbehaving, args.invocations // 5)]

    rows = []
    for handler, events, count in plan:
        process, port = start(args.emulator, args.bootstrap, handler)
        try:
            pid = child_pid(process.pid)
            for i in range(WARM_UP):
                invoke(port, events[i % len(events)])
            rss_start, fds_start = usage(pid)
            started = time.monotonic()
            statuses = {}
            for i in range(count):
                status = invoke(port, events[i % len(events)])
                statuses[status] = statuses.get(status, 0) + 1
            seconds = time.monotonic() - started
            rss_end, fds_end = usage(pid)
            rows.append((handler, count, seconds, rss_start, rss_end, fds_start, fds_end, statuses))
        finally:
            process.terminate()
            process.wait(timeout=10)

    print("| app | invocations | seconds | RSS start (MB) | RSS end (MB) | growth (MB) | fds start | fds end |")
    print("|---|---|---|---|---|---|---|---|")
    worst = 0.0
    for handler, count, seconds, rss_start, rss_end, fds_start, fds_end, statuses in rows:
        growth = (rss_end - rss_start) / 1024
        worst = max(worst, growth)
        print(f"| {handler} | {count:,} | {seconds:.0f} | {rss_start / 1024:.1f} | {rss_end / 1024:.1f} | {growth:+.2f} | {fds_start} | {fds_end} |")
    print(f"HTTP statuses from the Invoke API: {[r[7] for r in rows]}")
    leaked_fds = any(r[6] > r[5] for r in rows)
    verdict = "ok" if worst < 5 and not leaked_fds else "FAIL"
    print(f"soak: {verdict} (largest RSS growth {worst:+.2f} MB, target < 5 MB; fd growth: {'yes' if leaked_fds else 'none'})")
    sys.exit(0 if verdict == "ok" else 1)


if __name__ == "__main__":
    main()
