"""Where a runtime's resident memory is, mapping by mapping, after it has served the Flask app.

Starts lambda-wsgi and apig-wsgi (under awslambdaric) through the emulator's HTTP front door, sends
200 GET /json, and prints each process's VmHWM, VmRSS and its Rss summed per mapping (a shared
library or the binary by path, anonymous memory, the heap) from /proc/PID/smaps. This is the
profile behind the peak-RSS rows of RESULTS.md: it shows which part of the memory is the runtime's
own and which is Python's and Flask's, the same in both.

Usage: python bench/studies/memory_map.py --emulator E --bootstrap B [--app flask_app:app] [--venv .venv]
"""

import argparse
import collections
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

APPS = Path(__file__).resolve().parents[1] / "apps"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def resident_by_mapping(pid):
    totals, current = collections.Counter(), None
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            fields = line.split()
            current = fields[5] if len(fields) > 5 else "[anonymous]"
        elif line.startswith("Rss:"):
            totals[current] += int(line.split()[1])
    return totals


def measure(name, emulator, command, handler, env, requests=200):
    port = free_port()
    args = [emulator, "serve", "--bootstrap", command[0], "--handler", handler, "--task-root", str(APPS),
            "--port", str(port)]
    for arg in command[1:]:
        args += ["--arg", arg]
    for key, value in env.items():
        args += ["--env", f"{key}={value}"]
    server = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=5).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    sys.exit(f"{name}: no answer within 60 s")
                time.sleep(0.1)
        for _ in range(requests):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=5).read()
        pid = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()[0]
        status = Path(f"/proc/{pid}/status").read_text()
        peak = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))
        resident = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
        return peak, resident, resident_by_mapping(pid)
    finally:
        server.terminate()
        server.wait(timeout=10)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--emulator", required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--app", default="flask_app:app")
    parser.add_argument("--venv", default=str(Path(__file__).resolve().parents[2] / ".venv"))
    args = parser.parse_args()
    python = str(Path(args.venv).absolute() / "bin" / "python")
    results = {
        "lambda-wsgi": measure("lambda-wsgi", args.emulator, [str(Path(args.bootstrap).absolute())], args.app,
                               {"VIRTUAL_ENV": str(Path(args.venv).absolute())}),
        "apig-wsgi": measure("apig-wsgi", args.emulator, [python, "-m", "awslambdaric", "apig_handler.handler"],
                             "apig_handler.handler", {"PYTHONPATH": str(APPS), "BENCH_WSGI_APP": args.app,
                                                      "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11"}),
    }
    names = sorted({m for _, _, maps in results.values() for m in maps},
                   key=lambda m: -max(maps.get(m, 0) for _, _, maps in results.values()))
    print(f"| mapping | {' | '.join(f'{n} (kB)' for n in results)} |")
    print(f"|---|{'---:|' * len(results)}")
    for mapping in names:
        row = [results[n][2].get(mapping, 0) for n in results]
        if max(row) >= 100:
            print(f"| {mapping} | "
                  f"{' | '.join(f'{v:,}' for v in row)} |")
    print(f"| **VmRSS** | {' | '.join(f'{r[1]:,}' for r in results.values())} |")
    print(f"| **VmHWM (peak)** | {' | '.join(f'{r[0]:,}' for r in results.values())} |")


if __name__ == "__main__":
    main()
