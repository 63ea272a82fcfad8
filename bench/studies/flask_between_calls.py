"""What happens between two Flask calls decides what one costs (wall time, not instructions).

bench/studies/callgrind_flask.py shows that one Flask call executes the same instructions inside
lambda-wsgi, inside awslambdaric + apig-wsgi and in a tight loop, with the same simulated cache
misses. This script times the very same call (bench/apps/flask_app.py, GET /json, the environ of
bench/apps/inprocess.py) in one process, changing only what the process does between calls:

  back to back   nothing: the tight loop of inprocess.py
  spin           a busy wait as long as a runtime's round trip (the core stays busy, nothing else
                 runs on it)
  round trip     a blocking round trip to another process over a socket pair, as a runtime does
                 with the Runtime API (this process sleeps in the kernel; the other one wakes,
                 answers, and this one is woken)
  sleep          a short sleep (the core goes idle; a timer wakes the process)
  touch 16 MB    a walk over 16 MB of this process's memory (evicts the caches, no sleep)

Variants alternate in short slices (A B C D E, then again, `--rounds` times) so that the machine's
drift does not favour one; the table gives each variant's median over slices of the per-slice
median call time, and its ratio to back to back.

With --emulator and --bootstrap, the same call is then timed inside lambda-wsgi and inside
awslambdaric + apig-wsgi (bench/apps/cg_app.py with CG_TIMES_OUT: the app call alone, as above),
each driven by `lambda-wsgi-emulator bench` (sequential invocations), alternating, `--rounds`
times, and compared with back-to-back calls measured right before each round.

Usage: flask_between_calls.py [--rounds 15] [--calls 200] [--gap-us 150] [--emulator PATH --bootstrap PATH]
"""

import argparse
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]  # bench/ (this study is in bench/studies/)
ROOT = BENCH.parent
APPS = BENCH / "apps"
sys.path.insert(0, str(APPS))

from inprocess import environ_for  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--gap-us", type=float, default=150.0, help="the spin's and the sleep's length")
    parser.add_argument("--emulator", help="with --bootstrap: also time the call inside the runtimes")
    parser.add_argument("--bootstrap")
    parser.add_argument("--peer-python", default=str(ROOT / ".venv" / "bin" / "python"),
                        help="the Python with awslambdaric and apig-wsgi")
    args = parser.parse_args()

    from flask_app import app

    prebuilt = environ_for("/json", "page=2&tag=a&tag=b&q=hello%20world", b"")

    def start_response(status, headers, exc_info=None):
        if not status.startswith("200"):
            raise SystemExit(f"the app answered {status}")

    def call():
        environ = dict(prebuilt)
        environ["wsgi.input"] = io.BytesIO(b"")
        result = app(environ, start_response)
        try:
            b"".join(result)
        finally:
            result.close()

    ours, theirs = socket.socketpair()
    child = os.fork()
    if child == 0:  # the other side of the round trip: answers each byte at once
        ours.close()
        while theirs.recv(1):
            theirs.send(b"!")
        os._exit(0)
    theirs.close()
    gap = args.gap_us / 1e6
    memory = bytearray(16 << 20)

    def spin():
        until = time.perf_counter() + gap
        while time.perf_counter() < until:
            pass

    def round_trip():
        ours.send(b"?")
        ours.recv(1)

    def touch():
        # One write per 64-byte line: every line of the 16 MB passes through the caches.
        memory[::64] = bytes(len(memory) // 64)

    variants = {
        "back to back": lambda: None,
        "spin": spin,
        "round trip": round_trip,
        "sleep": lambda: time.sleep(gap),
        "touch 16 MB": touch,
    }
    for _ in range(300):
        call()
    per_slice = {name: [] for name in variants}
    clock = time.perf_counter_ns
    for _ in range(args.rounds):
        for name, between in variants.items():
            samples = []
            for _ in range(args.calls):
                between()
                before = clock()
                call()
                samples.append((clock() - before) / 1e3)
            per_slice[name].append(statistics.median(samples))
    ours.close()
    os.waitpid(child, 0)
    base = statistics.median(per_slice["back to back"])
    print(f"| between calls | Flask call, median us | vs back to back | spread of slice medians (us) |")
    print("|---|---:|---:|---|")
    for name, medians in per_slice.items():
        median = statistics.median(medians)
        print(f"| {name} | {median:.0f} | {median / base:.2f}x | {min(medians):.0f}-{max(medians):.0f} |")
    if args.emulator and args.bootstrap:
        inside(args, call)


def inside(args, call):
    """The call timed inside each runtime, alternating with back-to-back calls in this process."""
    runtimes = {
        "lambda-wsgi": ([str(Path(args.bootstrap).absolute())], "cg_app:app", {"VIRTUAL_ENV": sys.prefix}),  # this script runs in the app venv
        "apig-wsgi": ([str(Path(args.peer_python).absolute()), "-m", "awslambdaric", "apig_handler.handler"],
                      "apig_handler.handler",
                      {"PYTHONPATH": str(APPS), "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11", "BENCH_WSGI_APP": "cg_app:app"}),
    }
    work = Path(tempfile.mkdtemp(prefix="flask-inside-"))
    medians = {"back to back": [], **{name: [] for name in runtimes}}
    clock = time.perf_counter_ns
    for number in range(max(3, args.rounds // 3)):
        samples = []
        for _ in range(args.calls * 5):
            before = clock()
            call()
            samples.append((clock() - before) / 1e3)
        medians["back to back"].append(statistics.median(samples))
        order = list(runtimes) if number % 2 == 0 else list(runtimes)[::-1]
        for name in order:
            command, handler, env = runtimes[name]
            times = work / f"{name}-{number}.json"
            bench = [args.emulator, "bench", "--bootstrap", command[0], "--handler", handler, "--task-root", str(APPS),
                     "--invocations", str(args.calls * 5), "--warmup", "300", "--cold-starts", "1",
                     "--event", str(BENCH / "events" / "http-v2-get.json")]
            for arg in command[1:]:
                bench += ["--arg", arg]
            for key, value in {**env, "CG_TIMES_OUT": str(times)}.items():
                bench += ["--env", f"{key}={value}"]
            subprocess.run(bench, capture_output=True, check=True)
            measured = json.loads(times.read_text())[-args.calls * 5:]  # the timed run, not the warm-up
            medians[name].append(statistics.median(measured))
    base = statistics.median(medians["back to back"])
    print()
    print("| Flask call timed | median us | vs back to back | spread of run medians (us) |")
    print("|---|---:|---:|---|")
    for name, values in medians.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.0f} | {median / base:.2f}x | {min(values):.0f}-{max(values):.0f} |")


if __name__ == "__main__":
    main()
