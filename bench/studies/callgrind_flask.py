"""make bench-callgrind: the instructions one Flask call executes inside a runtime and in a tight loop.

Counted by valgrind's callgrind (instructions and simulated cache misses: the same on any machine,
whatever else runs), for bench/apps/flask_app.py's GET /json, HTTP API v2 event
(bench/events/http-v2-get.json), in three settings:

  lambda-wsgi     bootstrap, driven by `lambda-wsgi-emulator bench` as Lambda would drive it
  apig-wsgi       python -m awslambdaric + apig-wsgi, driven the same way
  tight loop      the app called in a Python loop with the environ lambda-wsgi built (captured
                  by the first call), as bench/apps/inprocess.py does

Each setting runs twice, with N1 and N2 invocations after the same warm-up; the per-invocation
cost is the difference divided by N2 - N1 (init, the first requests and exit cancel out). The app
call alone (Flask's call, reading and closing its body) is the inclusive cost of
`_operator_call`: bench/apps/cg_app.py makes each call through `operator.call`.

Usage: callgrind_flask.py --emulator PATH --bootstrap PATH [--app-venv DIR] [--n1 200 --n2 700]
Writes bench/results/callgrind-flask.json and prints a markdown table (for bench/RESULTS.md).
"""

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]  # bench/ (this study is in bench/studies/)
ROOT = BENCH.parent
APPS = BENCH / "apps"
EVENT = BENCH / "events" / "http-v2-get.json"
HANDLER = "cg_app:app"
MARK = "_operator_call"
# The simulated caches, fixed (valgrind would take this VM's reported L3: 320 MB, direct-mapped):
# 32 KB 8-way L1s and a 32 MB 16-way last level, one AMD EPYC core complex's L3. Only this
# process's own accesses are simulated: not the kernel's, nor the other processes'.
CACHES = ["--cache-sim=yes", "--I1=32768,8,64", "--D1=32768,8,64", "--LL=33554432,16,64"]


def valgrind(out_file, log_file, cache_sim):
    return [shutil.which("valgrind") or "valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}", f"--log-file={log_file}",
            "--dump-instr=no", *(CACHES if cache_sim else ["--cache-sim=no"])]


def run_under_emulator(args, command, handler, env, invocations, out_file, environ_out):
    """One runtime process under callgrind, served `invocations` (plus the warm-up) by the emulator."""
    bench = [args.emulator, "bench", "--bootstrap", command[0], "--handler", handler, "--task-root", str(APPS),
             "--invocations", str(invocations), "--warmup", str(args.warmup), "--cold-starts", "1",
             "--timeout", "900", "--event", str(EVENT)]
    for arg in command[1:]:
        bench += ["--arg", arg]
    for key, value in {**env, "CG_ENVIRON_OUT": environ_out}.items():
        bench += ["--env", f"{key}={value}"]
    done = subprocess.run(bench, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(bench)}\n{done.stderr[-3000:]}")
    # Calls of the app: the cold start's, one per event for the answer check, the warm-up, the run.
    return 2 + args.warmup + invocations


def settings(args, work):
    bootstrap = str(Path(args.bootstrap).absolute())
    python = str(Path(args.python).absolute())
    return {
        "lambda-wsgi": lambda out, log, n, environ_out: run_under_emulator(
            args, [*valgrind(out, log, args.cache_sim), bootstrap], HANDLER,
            {"VIRTUAL_ENV": str(Path(args.app_venv).absolute())}, n, out, environ_out),
        "apig-wsgi": lambda out, log, n, environ_out: run_under_emulator(
            args, [*valgrind(out, log, args.cache_sim), python, "-m", "awslambdaric",
                   "apig_handler.handler"], "apig_handler.handler",
            {"PYTHONPATH": str(APPS), "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11", "BENCH_WSGI_APP": HANDLER},
            n, out, environ_out),
        "tight loop": lambda out, log, n, environ_out: tight_loop(args, work, out, log, n),
    }


def tight_loop(args, work, out_file, log_file, invocations):
    calls = 2 + args.warmup + invocations
    command = [*valgrind(out_file, log_file, args.cache_sim), str(Path(args.loop_python).absolute()),
               str(Path(__file__).absolute()), "--loop", str(work / "environ-lambda-wsgi.json"), str(calls)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=APPS)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{done.stderr[-3000:]}")
    return calls


def loop(environ_file, calls):
    """The tight loop (run under callgrind): the app called `calls` times with the captured environ."""
    sys.path.insert(0, str(APPS))
    from cg_app import app

    captured = json.loads(Path(environ_file).read_text())
    base = dict(captured["str"])
    base.update({"wsgi.version": (1, 0), "wsgi.errors": sys.stderr, "wsgi.multithread": False,
                 "wsgi.multiprocess": False, "wsgi.run_once": False, "wsgi.input_terminated": True})
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    for _ in range(calls):
        environ = dict(base)
        environ["wsgi.input"] = io.BytesIO(b"")
        for chunk in app(environ, start_response):
            pass
    if any(not status.startswith("200") for status in statuses):
        sys.exit(f"the app answered {set(statuses)}")


def costs(out_file):
    """(events, totals of the whole process, inclusive costs of the app call) from one profile."""
    text = Path(out_file).read_text()
    events = re.search(r"^events: (.+)$", text, re.M).group(1).split()
    totals = [int(x) for x in re.search(r"^(?:summary|totals): (.+)$", text, re.M).group(1).split()]
    annotated = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", "--show-percs=no",
                                "--auto=no", out_file], capture_output=True, text=True, check=True).stdout
    inclusive = None
    for line in annotated.splitlines():
        if re.search(rf"\b{MARK}\b", line) and "[" in line:
            numbers = line.split(MARK)[0].split()
            inclusive = [int(x.replace(",", "")) for x in numbers if re.fullmatch(r"[\d,]+", x)]
            break
    if inclusive is None:
        sys.exit(f"{out_file}: no {MARK} in the profile (was the app called through operator.call?)")
    return events, dict(zip(events, totals)), dict(zip(events, inclusive))


def measure(args):
    work = Path(tempfile.mkdtemp(prefix="callgrind-flask-"))
    results = {}
    order = ["lambda-wsgi", "apig-wsgi", "tight loop"]  # the tight loop uses lambda-wsgi's environ
    runs = settings(args, work)
    for name in order:
        per_n = {}
        for n in (args.n1, args.n2):
            slug = name.replace(" ", "-")
            out, log = work / f"{slug}-{n}.callgrind", work / f"{slug}-{n}.log"
            print(f"callgrind: {name}, {n} invocations", file=sys.stderr, flush=True)
            calls = runs[name](str(out), str(log), n, str(work / f"environ-{slug}.json"))
            events, totals, app_call = costs(out)
            per_n[n] = {"calls": calls, "totals": totals, "app_call": app_call}
        small, large = per_n[args.n1], per_n[args.n2]
        calls = large["calls"] - small["calls"]
        results[name] = {
            "per_invocation": {e: (large["totals"][e] - small["totals"][e]) / calls for e in events},
            "app_call": {e: (large["app_call"][e] - small["app_call"][e]) / calls for e in events},
            "runs": per_n,
        }
    environs = {}
    for slug in ("lambda-wsgi", "apig-wsgi"):
        path = work / f"environ-{slug}.json"
        if path.exists():
            environs[slug] = json.loads(path.read_text())
    return results, environs, work


def table(results):
    names = list(results)
    first = results[names[0]]["app_call"]
    shown = [e for e in ("Ir", "Dr", "Dw", "I1mr", "D1mr", "D1mw", "ILmr", "DLmr", "DLmw") if e in first]
    lines = ["| per invocation | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for event in shown:
        lines.append(f"| app call: {event} | " + " | ".join(f"{results[n]['app_call'][event]:,.0f}" for n in names)
                     + " |")
    for event in ("Ir", "D1mr", "DLmr") if "D1mr" in first else ("Ir",):
        lines.append(f"| whole process: {event} | "
                     + " | ".join(f"{results[n]['per_invocation'][event]:,.0f}" for n in names) + " |")
    return "\n".join(lines)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--loop":
        loop(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--emulator", required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--python", default=sys.executable, help="the Python with awslambdaric and apig-wsgi")
    parser.add_argument("--loop-python", default=str(ROOT / ".venv-3.11" / "bin" / "python"),
                        help="the Python of the tight loop (the bootstrap's app venv)")
    parser.add_argument("--app-venv", default=str(ROOT / ".venv-3.11"), help="VIRTUAL_ENV of the bootstrap")
    parser.add_argument("--n1", type=int, default=200)
    parser.add_argument("--n2", type=int, default=700)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--no-cache-sim", dest="cache_sim", action="store_false")
    parser.add_argument("--output", default=str(BENCH / "results" / "callgrind-flask.json"))
    args = parser.parse_args()
    results, environs, work = measure(args)
    Path(args.output).write_text(json.dumps({"results": results, "environs": environs, "n1": args.n1,
                                             "n2": args.n2, "warmup": args.warmup}, indent=1) + "\n")
    print(table(results))
    print(f"profiles in {work}", file=sys.stderr)


if __name__ == "__main__":
    main()
