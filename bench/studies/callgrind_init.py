"""make bench-callgrind: the instructions of a cold start (callgrind), lambda-wsgi against apig-wsgi.

Each runtime is started once under callgrind by `lambda-wsgi-emulator invoke` and answers one
HTTP API v2 GET (bench/events/http-v2-get.json), for the trivial app and the Flask app; then
Lambda's shutdown (SIGTERM) ends it. The count is the whole process to its first response:
for lambda-wsgi without its shutdown phase (WsgiApp::shutdown, the app's atexit handlers), which
apig-wsgi under awslambdaric does not have (SIGTERM ends it). Instruction counts do not depend on
what else the machine runs, and here they track wall-clock cold starts closely (bench/RESULTS.md).

For lambda-wsgi the count is broken down: the interpreter's own start (Py_InitializeEx, with
`site`), the app's import, and the rest: the runtime's own work (its Python helpers, support.py;
the Rust side; the Runtime API) and the first request.

Usage: callgrind_init.py --emulator PATH --bootstrap NAME=PATH [--bootstrap NAME=PATH ...]
"""

import argparse
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
PARTS = {
    "interpreter start": "Py_InitializeEx",
    "app import": "lambda_wsgi::interpreter::import_callable",
    "shutdown": "lambda_wsgi::wsgi::WsgiApp::shutdown",
}
SHOWN = ["interpreter start", "app import", "the rest (the runtime's own, the first request)"]


def profile(args, out, command, handler, env):
    valgrind = [shutil.which("valgrind") or "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                f"--log-file={out}.log", "--dump-instr=no"]
    invoke = [args.emulator, "invoke", "--timeout", "600", "--bootstrap", valgrind[0], "--handler", handler,
              "--task-root", str(APPS)]
    for arg in [*valgrind[1:], *command]:
        invoke += ["--arg", arg]
    for key, value in env.items():
        invoke += ["--env", f"{key}={value}"]
    done = subprocess.run([*invoke, str(EVENT)], capture_output=True, text=True)
    if done.returncode != 0 or '"statusCode":200' not in done.stdout.replace(" ", ""):
        sys.exit(f"failed: {' '.join(invoke)}\n{done.stdout[-1000:]}\n{done.stderr[-3000:]}")
    total = int(re.search(r"^summary: (\d+)", Path(out).read_text(), re.M).group(1))
    annotated = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", "--show-percs=no",
                                "--auto=no", str(out)], capture_output=True, text=True, check=True).stdout
    parts = {}
    for name, function in PARTS.items():
        for line in annotated.splitlines():
            # `function [object]`, not a recursion level (`function'2`).
            if re.search(rf"[\s:]{re.escape(function)} \[", line):
                parts[name] = int(line.split()[0].replace(",", ""))
                break
    total -= parts.get("shutdown", 0)
    if "interpreter start" in parts:
        parts[SHOWN[2]] = total - parts["interpreter start"] - parts.get("app import", 0)
    return total, parts


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--emulator", required=True)
    parser.add_argument("--bootstrap", action="append", required=True, help="NAME=PATH (repeatable)")
    parser.add_argument("--python", default=str(ROOT / ".venv" / "bin" / "python"),
                        help="the Python with awslambdaric and apig-wsgi")
    parser.add_argument("--app-venv", default=str(ROOT / ".venv-3.11"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="callgrind-init-"))
    venv = {"VIRTUAL_ENV": str(Path(args.app_venv).absolute())}
    rows = []
    for app in ("trivial:app", "flask_app:app"):
        measured = {}
        for spec in args.bootstrap:
            name, _, path = spec.partition("=")
            print(f"callgrind: {name}, {app}", file=sys.stderr, flush=True)
            measured[name] = profile(args, work / f"{name}-{app.split(':')[0]}.out",
                                     [str(Path(path).absolute())], app, venv)
        print(f"callgrind: apig-wsgi, {app}", file=sys.stderr, flush=True)
        apig, _ = profile(args, work / f"apig-{app.split(':')[0]}.out",
                          [str(Path(args.python).absolute()), "-m", "awslambdaric", "apig_handler.handler"],
                          "apig_handler.handler",
                          {"PYTHONPATH": str(APPS), "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11", "BENCH_WSGI_APP": app})
        for name, (total, parts) in measured.items():
            rows.append(f"| {app} | lambda-wsgi {name} | {total / 1e6:.1f} M | {total / apig:.2f}x | "
                        + " | ".join(f"{parts.get(p, 0) / 1e6:.1f} M" for p in SHOWN) + " |")
        rows.append(f"| {app} | apig-wsgi (awslambdaric) | {apig / 1e6:.1f} M | 1.00x | - | - | - |")
    print("| app | runtime | instructions to the first response | vs apig-wsgi | "
          + " | ".join(SHOWN) + " |")
    print("|---|---|---:|---:|" + "---:|" * 3)
    print("\n".join(rows))
    print(f"profiles in {work}", file=sys.stderr)


if __name__ == "__main__":
    main()
