"""make bench-mounts: two apps in one function, routed by lambda-wsgi's mount table (in Rust,
before Python runs) or by werkzeug's DispatcherMiddleware (in Python, on every request).

Two measurements, one section of bench/RESULTS.md:

1. The routing alone. Ours is criterion's `mounts` group (runtime/benches/pipeline.rs): the route
   by itself, and one request's whole environ built for one app and under a four-mount table
   (`/`, `/api`, `/api/v2`, `/shop`). Theirs is DispatcherMiddleware over the same table, called
   with the same request's fresh environ, minus the root app called directly: its dispatch loop
   and SCRIPT_NAME/PATH_INFO rewrite, in Python. The issue's goal, under 1 us per request, is
   judged here: an invocation's end-to-end noise on this machine is thousands of times larger.
2. End to end. The same app pair is served at `/` and `/api` (bench/apps/mount_pair.py; the Flask
   pair puts bench/apps/flask_app.py at `/`), and every slice sends the same two events in turn,
   one for each app (`/json` and `/api/json`, HTTP API v2). Each comparison is lambda-wsgi with
   the table against:
   - lambda-wsgi serving one app, no table (the trivial pair only: the trivial app answers any
     path alike): the table's whole cost, end to end;
   - lambda-wsgi serving DispatcherMiddleware over the same pair as its one app: the same
     runtime, only the router differs;
   - apig-wsgi under awslambdaric serving that DispatcherMiddleware: what a team routing with
     it in a Python adapter today gets by moving to the table.
   Same method as bench/run.py: alternating slice pairs on one emulator (bench/pairing.py), each
   pair one ratio (first / second) or one difference, reported as the median with the quartiles.
   Every router's first answers are checked before anything is reported: the `/api` event must
   have reached the `api` app with SCRIPT_NAME `/api` and PATH_INFO `/json`, and every runtime
   in a comparison must have answered both events with the same bodies.

Writes bench/results/mounts.json and its section of bench/RESULTS.md.

Usage: bench/mounts.py --emulator PATH --bootstrap PATH --pyo3-python PATH --target-dir DIR [--rounds N]
"""

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import time
import timeit
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
from harness import emulator_bench, write_section, slice_arguments  # noqa: E402
from pairing import alternate, differences, flatten, pairs, ratios, spread  # noqa: E402

APPS = BENCH / "apps"
EVENTS = [BENCH / "events" / "http-v2-get.json", BENCH / "events" / "http-v2-get-api.json"]
# The pair each router serves: the table's text, the one-app stand-in (None: no such row), and
# the DispatcherMiddleware over the same two apps.
PAIRS = {
    "trivial pair": {"table": "/ = mount_pair:site; /api = mount_pair:api", "one app": "mount_pair:site",
                     "dispatcher": "dispatch_trivial:app"},
    "Flask + trivial": {"table": "/ = flask_app:app; /api = mount_pair:api", "one app": None,
                        "dispatcher": "dispatch_flask:app"},
}
SLICE_SCALE = {"trivial pair": 3, "Flask + trivial": 1}
TABLE = "lambda-wsgi, mount table"
ONE_APP = "lambda-wsgi, one app (no routing)"
OURS_DISPATCHER = "lambda-wsgi + DispatcherMiddleware"
APIG_DISPATCHER = "apig-wsgi + DispatcherMiddleware"
# Which app each event must reach, and the SCRIPT_NAME and PATH_INFO it must see there (X-App,
# X-Routed); None: an app of the pair's own that sends no X-App (Flask at `/`).
ROUTED = "/api /json"
EXPECTED = {"trivial pair": [("site", " /json"), ("api", ROUTED)], "Flask + trivial": [None, ("api", ROUTED)]}
KEEP = {"per_second", "mean_us", "cold_start_ms", "peak_rss_kb"}
METRICS = [("invocations/s", "per_second", "higher"), ("mean us", "mean_us", "lower"),
           ("cold start ms", "cold_start_ms", "lower"), ("peak RSS MB", "peak_rss_kb", "lower")]
ROUTING_GOAL_NS = 1000  # the issue's: the table adds under 1 us per request
CRITERION = ("route-alone", "environ-one-app", "environ-four-mounts")
START = "<!-- mounts-bench:start (written by bench/mounts.py; do not edit by hand) -->"
END = "<!-- mounts-bench:end -->"


def routed_environ():
    """The request criterion's `mounts` group routes, as a server would hand it to an app."""
    return {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/api/v2/users/7", "QUERY_STRING": "",
            "SERVER_NAME": "example.com", "SERVER_PORT": "443", "wsgi.url_scheme": "https"}


def dispatcher_ns(rounds=15, number=200_000):
    """DispatcherMiddleware's cost per request over criterion's four-mount table, in ns: the
    median time through it minus the median time of the root app called directly, each call with
    a fresh environ (whose making is in both timings)."""
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    def app(environ, start_response):
        return environ

    def start_response(status, headers):
        pass

    dispatcher = DispatcherMiddleware(app, {"/api": app, "/api/v2": app, "/shop": app})
    routed = dispatcher(routed_environ(), start_response)
    if (routed["SCRIPT_NAME"], routed["PATH_INFO"]) != ("/api/v2", "/users/7"):
        sys.exit(f"DispatcherMiddleware did not route as the table does: {routed}")
    direct = timeit.repeat(lambda: app(routed_environ(), start_response), repeat=rounds, number=number)
    through = timeit.repeat(lambda: dispatcher(routed_environ(), start_response), repeat=rounds, number=number)
    return (statistics.median(through) - statistics.median(direct)) / number * 1e9


def criterion_ns(args):
    """{bench: median ns, bench + " 95%": (low, high) of that median} from criterion's `mounts`
    group, run now."""
    target = Path(args.target_dir).absolute()
    subprocess.run([args.cargo, "bench", "-q", "-p", "lambda-wsgi", "--bench", "pipeline", "--", "^mounts/"],
                   cwd=ROOT, check=True, env={**os.environ, "PYO3_PYTHON": args.pyo3_python,
                                               "CARGO_TARGET_DIR": str(target)})
    found = {}
    for name in CRITERION:
        estimates = json.loads((target / "criterion" / "mounts" / name / "new" / "estimates.json").read_text())
        median = estimates["median"]
        found[name] = median["point_estimate"]
        found[f"{name} 95%"] = (median["confidence_interval"]["lower_bound"],
                                median["confidence_interval"]["upper_bound"])
    return found


def routing_alone(args):
    ours = criterion_ns(args)
    theirs = dispatcher_ns()
    routing = {**ours, "environ difference": ours["environ-four-mounts"] - ours["environ-one-app"],
               "DispatcherMiddleware": theirs}
    routing["DispatcherMiddleware / route-alone"] = theirs / ours["route-alone"]
    routing["DispatcherMiddleware / ours"] = theirs / added_ns(routing)
    return routing


def comparisons():
    """(key, first, second) per comparison; key = (pair, first, second)."""
    found = []
    for pair, served in PAIRS.items():
        others = ([ONE_APP] if served["one app"] else []) + [OURS_DISPATCHER, APIG_DISPATCHER]
        found += [((pair, TABLE, other), TABLE, other) for other in others]
    return found


def runtimes(args):
    """runtime -> pair -> how the emulator starts it."""
    python = str(Path(args.python).absolute())
    bootstrap = str(Path(args.bootstrap).absolute())
    venv = str(Path(args.venv).absolute())

    def ours(env, handler):
        return {"command": [bootstrap], "handler": handler, "env": {"VIRTUAL_ENV": venv, **env}}

    return {
        # Beside a table the Lambda handler is ignored; the emulator still sends one.
        TABLE: lambda pair: ours({"WSGI_MOUNTS": PAIRS[pair]["table"]}, "ignored:beside_a_table"),
        ONE_APP: lambda pair: ours({}, PAIRS[pair]["one app"]),
        OURS_DISPATCHER: lambda pair: ours({}, PAIRS[pair]["dispatcher"]),
        APIG_DISPATCHER: lambda pair: {
            "command": [python, "-m", "awslambdaric", "apig_handler.handler"], "handler": "apig_handler.handler",
            "env": {"PYTHONPATH": str(APPS), "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
                    "BENCH_WSGI_APP": PAIRS[pair]["dispatcher"]}},
    }


def body_of(response):
    body = response.get("body") or ""
    return base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()


def header(response, name):
    headers = {key.lower(): value for key, value in (response.get("headers") or {}).items()}
    return headers.get(name.lower())


def answer_problems(slices):
    """What is wrong with the first answers of `alternate`'s slices ({key: {runtime: [report]}}):
    a runtime that did not answer both events with JSON, a router that sent an event to the wrong
    app or with the wrong SCRIPT_NAME and PATH_INFO (EXPECTED; the one-app stand-in serves every
    path from `site` by design, so it is held to the bodies only), or an answer whose body is not
    the one every other slice of the comparison got for that event. Empty when the race was fair;
    a comparison with no slices is a problem too."""
    problems = []
    for (pair, _, _), by_runtime in slices.items():
        bodies = {}
        for runtime, reports in by_runtime.items():
            if not reports:
                problems.append(f"{pair}, {runtime}: no slices")
            for report in reports:
                answers = report.get("first_responses") or []
                if len(answers) != len(EVENTS) or not all(isinstance(answer, dict) for answer in answers):
                    problems.append(f"{pair}, {runtime}: {answers!r:.200} are not one JSON answer per event "
                                    f"({len(EVENTS)})")
                    continue
                for event, answer, expected in zip(EVENTS, answers, EXPECTED[pair]):
                    bodies.setdefault(event.name, {}).setdefault(body_of(answer), set()).add(runtime)
                    if runtime == ONE_APP:
                        continue
                    routed = header(answer, "X-App"), header(answer, "X-Routed")
                    wanted = expected or (None, None)
                    if routed != wanted:
                        problems.append(f"{pair}, {runtime}: {event.name} reached {routed[0]!r} as {routed[1]!r}, "
                                        f"not {wanted[0]!r} as {wanted[1]!r}")
        for event, by_body in bodies.items():
            if len(by_body) > 1:
                problems.append(f"{pair}, {event}: the answers' bodies differ: "
                                + " / ".join("; ".join(sorted(runtimes)) for runtimes in by_body.values()))
    return sorted(set(problems))


def measure(args):
    specs = runtimes(args)
    plan = comparisons()
    done = [0]

    def run_slice(key, runtime, round_index):
        pair = key[0]
        done[0] += 1
        print(f"[round {round_index + 1}/{args.rounds}, {done[0]}/{2 * len(plan) * args.rounds}] {pair} {runtime}",
              file=sys.stderr, flush=True)
        scale = SLICE_SCALE[pair]
        report = emulator_bench(args.emulator, specs[runtime](pair), APPS, EVENTS, args.invocations * scale,
                                args.warmup * scale, args.cold_starts)
        kept = flatten(report, KEEP)
        kept["first_responses"] = report.get("first_responses", [])
        return kept

    return alternate(args.rounds, plan, run_slice)


def summarize(slices):
    """{key: {metric: spread of the per-pair ratios, "mean difference": spread of the differences}}."""
    summary = {}
    for key, by_runtime in slices.items():
        first, second = by_runtime[key[1]], by_runtime[key[2]]
        row = {metric: spread(ratios(pairs(first, second, metric))) for _, metric, _ in METRICS}
        row["mean difference"] = spread(differences(pairs(first, second, "mean_us")))
        summary[key] = row
    return summary


def cell(value, unit="x", digits=2):
    if not value:
        return "-"
    to = " to " if value["q1"] < 0 else "-"
    return f"**{value['median']:.{digits}f}{unit}** ({value['q1']:.{digits}f}{to}{value['q3']:.{digits}f})"


def added_ns(routing):
    """What the table adds to a request: the environ's difference under four mounts (the route
    and the prefix's move to SCRIPT_NAME), or the route alone when noise makes that smaller."""
    return max(routing["environ difference"], routing["route-alone"])


def routing_lines(routing):
    ns = lambda key: f"{routing[key]:,.1f} ns"  # noqa: E731
    interval = lambda key: "[{:,.1f}-{:,.1f}]".format(*routing[f"{key} 95%"])  # noqa: E731
    ok = added_ns(routing) < ROUTING_GOAL_NS
    return [
        "The routing alone, on criterion's four-mount table (`/`, `/api`, `/api/v2`, `/shop`) and a REST v1 "
        f"request for `/api/v2/users/7`; DispatcherMiddleware timed in Python {sys.version.split()[0]}. "
        "The environ's difference is that of two medians of about 900 ns each, so it moves by tens of ns "
        "from run to run (criterion's 95% intervals in brackets); the route alone is steady:", "",
        "| | median per request |", "|---|---|",
        f"| ours: the route alone (criterion) | {ns('route-alone')} |",
        f"| ours: the whole environ for one app (criterion) | {ns('environ-one-app')} {interval('environ-one-app')} |",
        f"| ours: the whole environ under the four mounts (criterion) | {ns('environ-four-mounts')} "
        f"{interval('environ-four-mounts')}; difference {routing['environ difference']:+,.1f} ns |",
        f"| DispatcherMiddleware's dispatch, in Python | {ns('DispatcherMiddleware')} |",
        f"| **DispatcherMiddleware / the route alone** | **{routing['DispatcherMiddleware / route-alone']:,.0f}x** |",
        f"| DispatcherMiddleware / what the table adds (the larger of the two) "
        f"| {routing['DispatcherMiddleware / ours']:,.0f}x |", "",
        "| target | measured | goal | met |", "|---|---|---|---|",
        f"| what the table adds per request (criterion: the environ's difference, at least the route) "
        f"| {added_ns(routing):,.1f} ns | < {ROUTING_GOAL_NS:,} ns "
        f"| {'yes' if ok else 'NO'} |", ""]


def write(slices, summary, problems, routing, args, seconds):
    results = {"date": time.strftime("%Y-%m-%d"), "rounds": args.rounds, "invocations": args.invocations,
               "seconds": round(seconds), "pairs": PAIRS, "problems": problems, "routing_alone_ns": routing,
               "comparisons": {" | ".join(k): v for k, v in summary.items()},
               "slices": {" | ".join(k): {r: [{m: s.get(m) for m in KEEP} for s in reports]
                                          for r, reports in v.items()} for k, v in slices.items()},
               # What answer_problems checked, as each runtime's first slice answered the two events.
               "first_answers": {" | ".join(k): {r: reports[0].get("first_responses") if reports else None
                                                 for r, reports in v.items()} for k, v in slices.items()}}
    (BENCH / "results" / "mounts.json").write_text(json.dumps(results, indent=1) + "\n")
    lines = ["", f"Measured {results['date']} by `make bench-mounts` (part of `make bench`), {round(seconds)} s.", ""]
    lines += routing_lines(routing)
    lines += [f"End to end: {args.rounds} alternating "
             f"slice pairs per row, {args.invocations} invocations per slice (x{SLICE_SCALE['trivial pair']} for "
             f"the trivial pair) sent to `/json` and `/api/json` in turn, {args.cold_starts} cold starts per slice, "
             "release builds. Each cell: the median of the per-pair ratios (first / second) "
             "or differences (first minus second), with the quartiles.", "",
             "| pair | first | second | " + " | ".join(label for label, _, _ in METRICS)
             + " | mean difference us |",
             "|---|---|---|" + "---|" * (len(METRICS) + 1)]
    for (pair, first, second), row in summary.items():
        cells = [cell(row[m]) for _, m, _ in METRICS] + [cell(row["mean difference"], "", 1)]
        lines.append(f"| {pair} | {first} | {second} | " + " | ".join(cells) + " |")
    if problems:
        lines += ["", "**The answers were not alike; these figures do not compare like with like:**", ""]
        lines += [f"- {problem}" for problem in problems]
    print(write_section(START, END, lines + [""], "Two apps in one function: the mount table against DispatcherMiddleware"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    slice_arguments(parser)
    parser.add_argument("--python", default=sys.executable, help="the venv Python with apig-wsgi and Flask")
    parser.add_argument("--venv", default=str(ROOT / ".venv"))
    parser.add_argument("--pyo3-python", required=True, help="the Python the runtime crate is built against")
    parser.add_argument("--target-dir", required=True, help="its CARGO_TARGET_DIR (criterion writes there)")
    parser.add_argument("--cargo", default="cargo")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    started = time.monotonic()
    routing = routing_alone(args)
    slices = measure(args)
    problems = answer_problems(slices)
    write(slices, summarize(slices), problems, routing, args, time.monotonic() - started)
    if problems:
        sys.exit("the routers' answers were not alike:\n  " + "\n  ".join(problems))


if __name__ == "__main__":
    main()
