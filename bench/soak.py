"""Soak: drive many invocations through the real bootstrap and watch its memory and fds.

Two runtimes, one per app, started by the emulator as Lambda would: the environ-echo app
receives every fixture event in turn (all sources, binary bodies, unsupported and malformed
events), and the misbehaving app a mix of good and failing routes (exceptions, protocol errors,
iterators that raise, close() that raises). After a warm-up, RSS and open file descriptors of
each bootstrap are read from /proc; at the end they are read again and compared.

With --max-concurrency N (Lambda Managed Instances), the emulator plays AWS_LAMBDA_MAX_CONCURRENCY=N,
N client threads (one kept-alive connection each) send at once, and RSS, PSS and open fds are summed
over the bootstrap and every process it forked, read at intervals during the run.

Usage: bench/soak.py --emulator PATH --bootstrap PATH [--invocations N] [--max-concurrency N]
"""

import argparse
import http.client
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = ROOT / "tests" / "apps"
FIXTURES = ROOT / "runtime" / "tests" / "fixtures"
WARM_UP = 1_000
MISBEHAVING_ROUTES = ["/ok", "/raise", "/bad-status", "/crlf-header", "/iterator-raises", "/close-raises",
                      "/returns-none", "/str-body", "/write", "/exc-info-before-body", "/file-wrapper", "/binary"]


SAMPLES = 10


def start(emulator, bootstrap, handler, concurrency):
    process = subprocess.Popen(
        [emulator, "serve", "--bootstrap", bootstrap, "--handler", handler, "--task-root", str(APPS),
         "--port", "0", "--runtime-api-port", "0", "--timeout", "30", "--max-concurrency", str(concurrency)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
    api_port = None
    ready = "runtime ready" if concurrency == 1 else f"{concurrency} workers polling"
    for line in process.stdout:
        if "runtime API on 127.0.0.1:" in line:
            api_port = int(line.rsplit(":", 1)[1])
        if ready in line:
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


def descendants(root):
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    group = [root]
    for pid in group:
        group += [child for child, parent in parents.items() if parent == pid]
    return group


def usage(root):
    """(RSS kB, PSS kB, open fds, processes) summed over root and its descendants."""
    rss = pss = fds = processes = 0
    for pid in descendants(root):
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            fds += len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            continue  # exited meanwhile
        fields = {line.split(":")[0]: line.split()[1] for line in rollup.splitlines()[1:]}
        rss, pss, processes = rss + int(fields["Rss"]), pss + int(fields["Pss"]), processes + 1
    return rss, pss, fds, processes


class Client:
    """One kept-alive connection to the Invoke API."""

    def __init__(self, port):
        self.port = port
        self.connection = None

    def invoke(self, payload):
        if self.connection is None:
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            self.connection.request("POST", "/2015-03-31/functions/function/invocations", body=payload)
            response = self.connection.getresponse()
            response.read()
            return response.status
        except (OSError, http.client.HTTPException):
            self.connection.close()
            self.connection = None
            return "connection error"


def drive(port, events, count, concurrency, on_progress):
    """count invocations from `concurrency` threads; on_progress(done) every count/SAMPLES."""
    statuses, lock, sent = {}, threading.Lock(), iter(range(count))
    step = max(1, count // SAMPLES)

    def worker():
        client = Client(port)
        while True:
            with lock:
                i = next(sent, None)
            if i is None:
                return
            status = client.invoke(events[i % len(events)])
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                done = sum(statuses.values())
            if done % step == 0:
                on_progress(done)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emulator", required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--invocations", type=int, default=100_000)
    parser.add_argument("--max-concurrency", type=int, default=1,
                        help="AWS_LAMBDA_MAX_CONCURRENCY for the runtime, and as many client threads")
    args = parser.parse_args()

    fixtures = [p.read_bytes() for p in sorted(FIXTURES.glob("*/*.json")) if p.name.count(".") == 1]
    def misbehaving_event(route):
        return json.dumps({"version": "2.0", "rawPath": route, "rawQueryString": "", "headers": {"host": "soak"},
                           "requestContext": {"http": {"method": "GET", "sourceIp": "127.0.0.1"}, "stage": "$default"}}).encode()
    misbehaving = [misbehaving_event(route) for route in MISBEHAVING_ROUTES]
    plan = [("echo:app", fixtures, args.invocations * 4 // 5), ("misbehaving:app", misbehaving, args.invocations // 5)]

    rows = []
    concurrency = args.max_concurrency
    for handler, events, count in plan:
        process, port = start(args.emulator, args.bootstrap, handler, concurrency)
        try:
            pid = child_pid(process.pid)
            drive(port, events, WARM_UP, concurrency, lambda done: None)
            samples = [(0, *usage(pid))]
            started = time.monotonic()
            statuses = drive(port, events, count, concurrency, lambda done: samples.append((done, *usage(pid))))
            seconds = time.monotonic() - started
            samples.append((count, *usage(pid)))
            rows.append((handler, count, seconds, samples, statuses))
        finally:
            process.terminate()
            process.wait(timeout=10)

    print(f"max concurrency {concurrency}: RSS, PSS and open fds summed over the bootstrap and its workers "
          f"(sampled every ~{100 // SAMPLES}% of the run)")
    print("| app | invocations | seconds | processes | RSS start (MB) | RSS end (MB) | growth (MB) | RSS max (MB) "
          "| PSS start (MB) | PSS end (MB) | fds start | fds end | fds max |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    worst = 0.0
    leaked_fds = False
    for handler, count, seconds, samples, statuses in rows:
        (_, rss_start, pss_start, fds_start, procs_start), (_, rss_end, pss_end, fds_end, procs_end) = samples[0], samples[-1]
        growth = (rss_end - rss_start) / 1024
        worst = max(worst, growth)
        leaked_fds |= fds_end > fds_start
        print(f"| {handler} | {count:,} | {seconds:.0f} | {procs_start}->{procs_end} | {rss_start / 1024:.1f} "
              f"| {rss_end / 1024:.1f} | {growth:+.2f} | {max(s[1] for s in samples) / 1024:.1f} "
              f"| {pss_start / 1024:.1f} | {pss_end / 1024:.1f} | {fds_start} | {fds_end} | {max(s[3] for s in samples)} |")
    for handler, count, seconds, samples, statuses in rows:
        print(f"{handler} RSS (MB) by invocations done: "
              + ", ".join(f"{done:,}: {rss / 1024:.1f}" for done, rss, *_ in samples))
    print(f"HTTP statuses from the Invoke API: {[r[4] for r in rows]}")
    verdict = "ok" if worst < 5 and not leaked_fds else "FAIL"
    print(f"soak: {verdict} (largest RSS growth {worst:+.2f} MB, target < 5 MB; fd growth: {'yes' if leaked_fds else 'none'})")
    sys.exit(0 if verdict == "ok" else 1)


if __name__ == "__main__":
    main()
