"""make bench-pip: the pip package's two modes, each paired with what it must match or beat.

- Exec wrapper (the managed runtime's Python runs the Rust loop, `python -m lambda_wsgi`) against
  the embedded `bootstrap`: the issue asks for it within noise, or better, on cold start and
  invocations/s; this decides which of the two the layer carries.
- Handler mode (awslambdaric calls `lambda_wsgi.handler`) against apig-wsgi under the same
  awslambdaric: both pay the same Python loop, so the difference is the Rust environ and
  response (goal: at least 1.3x apig-wsgi's invocations/s on the trivial app).
- The handler call alone, in one process with no loop around it: `make_handler(app)` against
  apig-wsgi's `make_lambda_handler(app)`, each called with the decoded event and awslambdaric's
  own LambdaContext, as awslambdaric calls them. This is the part of an invocation a handler
  decides; end to end, awslambdaric's loop and the Runtime API round trip are the same for both.
- The exec wrapper against apig-wsgi under awslambdaric: what a user of that adapter gains by
  the pip package's fast path.

Same method as bench/run.py: alternating slice pairs on one emulator (bench/pairing.py), each
pair one ratio, reported as the median with quartiles. Writes bench/results/pip-package.json and its
section of bench/RESULTS.md.

Usage: bench/pip_package.py --emulator PATH --bootstrap PATH --python VENV_PYTHON [--rounds N]
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from harness import emulator_bench, write_section, slice_arguments  # noqa: E402
from pairing import alternate, flatten, met, pairs, ratios, spread  # noqa: E402

APPS = BENCH / "apps"
EVENT = BENCH / "events" / "http-v2-get.json"
APPS_UNDER_TEST = {"trivial": "trivial:app", "Flask": "flask_app:app"}
SLICE_SCALE = {"trivial": 3, "Flask": 1}
BOOTSTRAP, WRAPPER = "bootstrap (embedded)", "exec wrapper (extension)"
HANDLER, APIG = "handler mode (awslambdaric)", "apig-wsgi (awslambdaric)"
CALL_OURS, CALL_APIG = "lambda_wsgi.make_handler: the call", "apig-wsgi: the call"
COMPARISONS = [(app, a, b) for app in APPS_UNDER_TEST
               for a, b in ((WRAPPER, BOOTSTRAP), (HANDLER, APIG), (CALL_OURS, CALL_APIG), (WRAPPER, APIG))]
# One slice of handler calls: N calls after a warm-up, in the venv Python; prints calls/s.
CALLS = """
import importlib, json, sys, time
from awslambdaric.lambda_context import LambdaContext
apps, module, which, calls = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
sys.path.insert(0, apps)
app = getattr(importlib.import_module(module), "app")
event = json.load(open(sys.argv[5]))
if which == "ours":
    import lambda_wsgi
    handler = lambda_wsgi.make_handler(app)
else:
    import apig_wsgi
    handler = apig_wsgi.make_lambda_handler(app)
context = LambdaContext("req-1", None, None, int(time.time() * 1000) + 600000,
                        "arn:aws:lambda:us-east-1:123456789012:function:bench")
for _ in range(calls // 10):
    handler(event, context)
started = time.perf_counter()
for _ in range(calls):
    handler(event, context)
print(json.dumps({"per_second": calls / (time.perf_counter() - started)}))
"""
KEEP = {"per_second", "cold_start_ms", "mean_us", "peak_rss_kb"}
METRICS = [("invocations/s", "per_second", "higher"), ("cold start ms", "cold_start_ms", "lower"),
           ("peak RSS MB", "peak_rss_kb", "lower")]
# (app, ours, theirs), metric, goal, better
TARGETS = [
    (("trivial", HANDLER, APIG), "per_second", 1.3, "higher"),
    (("trivial", CALL_OURS, CALL_APIG), "per_second", 1.3, "higher"),
    (("trivial", WRAPPER, BOOTSTRAP), "per_second", 0.95, "higher"),
    (("Flask", WRAPPER, BOOTSTRAP), "per_second", 0.95, "higher"),
    (("trivial", WRAPPER, BOOTSTRAP), "cold_start_ms", 1.05, "lower"),
    (("Flask", WRAPPER, BOOTSTRAP), "cold_start_ms", 1.05, "lower"),
]
START = "<!-- pip-package:start (written by bench/pip_package.py; do not edit by hand) -->"
END = "<!-- pip-package:end -->"


def python_version(python):
    """`3.11`: the venv interpreter's version, for AWS_EXECUTION_ENV and the report."""
    return subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                          capture_output=True, text=True, check=True).stdout.strip()


def runtimes(args):
    python = str(Path(args.python).absolute())
    version = python_version(python)
    where = "import lambda_wsgi, os; print(os.path.join(os.path.dirname(lambda_wsgi.__file__), 'exec-wrapper'))"
    wrapper = subprocess.run([python, "-c", where], capture_output=True, text=True, check=True).stdout.strip()
    venv = str(Path(python).parent.parent)

    def ric(handler, env):
        return lambda app: {"command": [python, "-m", "awslambdaric", handler], "handler": handler,
                            "env": {"PYTHONPATH": str(APPS), "AWS_EXECUTION_ENV": f"AWS_Lambda_python{version}",
                                    **env(app)}}

    return {
        BOOTSTRAP: lambda app: {"command": [str(Path(args.bootstrap).absolute())], "handler": app,
                                "env": {"VIRTUAL_ENV": venv}},
        # Lambda's command line for the managed runtime, with AWS_LAMBDA_EXEC_WRAPPER set.
        WRAPPER: lambda app: {"command": [wrapper, python, "/var/runtime/bootstrap.py"], "handler": app,
                              "env": {"VIRTUAL_ENV": venv}},
        HANDLER: ric("lambda_wsgi.handler", lambda app: {"WSGI_APP": app}),
        APIG: ric("apig_handler.handler", lambda app: {"BENCH_WSGI_APP": app}),
    }


def measure(args):
    specs = runtimes(args)
    plan = [((app, a, b), a, b) for app, a, b in COMPARISONS]
    done = [0]

    def run_slice(key, runtime, round_index):
        app = key[0]
        done[0] += 1
        print(f"[round {round_index + 1}/{args.rounds}, {done[0]}/{2 * len(plan) * args.rounds}] {app} {runtime}",
              file=sys.stderr, flush=True)
        if runtime in (CALL_OURS, CALL_APIG):
            which = "ours" if runtime == CALL_OURS else "apig"
            module = APPS_UNDER_TEST[app].split(":")[0]
            done_calls = subprocess.run(
                [str(Path(args.python).absolute()), "-c", CALLS, str(APPS), module, which,
                 str(args.invocations * 5 * SLICE_SCALE[app]), str(EVENT)],
                capture_output=True, text=True, check=True,
                env={"PATH": "/usr/bin:/bin", "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_REGION": "us-east-1"})
            return json.loads(done_calls.stdout)
        report = emulator_bench(args.emulator, specs[runtime](APPS_UNDER_TEST[app]), APPS, [EVENT],
                                args.invocations * SLICE_SCALE[app], args.warmup * SLICE_SCALE[app], args.cold_starts)
        return flatten(report, KEEP)

    return alternate(args.rounds, plan, run_slice)


def summarize(slices):
    return {key: {metric: spread(ratios(pairs(by_runtime[key[1]], by_runtime[key[2]], metric)))
                  for _, metric, _ in METRICS}
            for key, by_runtime in slices.items()}


def ratio_text(value):
    if not value:
        return "-"
    return f"**{value['median']:.2f}x** ({value['q1']:.2f}-{value['q3']:.2f})"


def write(slices, summary, args, seconds):
    results = {"date": time.strftime("%Y-%m-%d"), "rounds": args.rounds, "invocations": args.invocations,
               "seconds": round(seconds), "comparisons": {" | ".join(k): v for k, v in summary.items()},
               "slices": {" | ".join(k): v for k, v in slices.items()}}
    (BENCH / "results" / "pip-package.json").write_text(json.dumps(results, indent=1) + "\n")
    lines = ["",
             f"Measured {results['date']}: {args.rounds} alternating slice pairs per row, "
             f"{args.invocations} invocations per slice (x3 for the trivial app), {args.cold_starts} cold starts per "
             f"slice, HTTP API v2 GET, Python {python_version(str(Path(args.python).absolute()))}, release builds; {round(seconds)} s. Each cell: the median of the "
             "per-pair ratios (first / second), with the quartiles.", "",
             "| app | first | second | " + " | ".join(label for label, _, _ in METRICS) + " |",
             "|---|---|---|" + "---|" * len(METRICS)]
    for (app, a, b), row in summary.items():
        lines.append(f"| {app} | {a} | {b} | " + " | ".join(ratio_text(row[m]) for _, m, _ in METRICS) + " |")
    lines += ["", "| target | median | goal | met |", "|---|---|---|---|"]
    for (app, a, b), metric, goal, better in TARGETS:
        value = summary[(app, a, b)][metric]
        ok = met(value and value["median"], goal, better)
        lines.append(f"| {app}: {a} / {b}, {metric} | {ratio_text(value)} | "
                     f"{'>=' if better == 'higher' else '<='} {goal}x | {'yes' if ok else 'NO'} |")
    print(write_section(START, END, lines + [""], "The pip package: exec wrapper and handler mode"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    slice_arguments(parser)
    parser.add_argument("--python", required=True, help="a venv Python with lambda_wsgi, awslambdaric and apig-wsgi")
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    started = time.monotonic()
    slices = measure(args)
    write(slices, summarize(slices), args, time.monotonic() - started)


if __name__ == "__main__":
    main()
