"""make bench: lambda-wsgi against the Python adapters and the floors, side by side in one run.

Every runtime is driven by the same Runtime API emulator (`lambda-wsgi-emulator bench`) with the
same events and the same apps; the in-process floor calls the app directly. Each measurement is
repeated (--repeats) and the median kept; ratios are to apig-wsgi measured in the same run.
Writes bench/results.json, bench/RESULTS.md (between the markers) and bench/chart.png.

Usage: bench/run.py --emulator PATH --bootstrap PATH --floors DIR [--repeats N] [--invocations N]
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
APPS = BENCH / "apps"
EVENTS = {
    "HTTP API v2 GET": BENCH / "events" / "http-v2-get.json",
    "REST v1 GET": BENCH / "events" / "rest-v1-get.json",
    "ALB GET": BENCH / "events" / "alb-get.json",
    "v2 POST 10 KB JSON": BENCH / "events" / "http-v2-post-10k.json",
    "v2 GET 100 KB binary": BENCH / "events" / "http-v2-get-binary.json",
}
HEADLINE_EVENT = "HTTP API v2 GET"
APPS_UNDER_TEST = {"Flask": "flask_app:app", "trivial": "trivial:app"}
BASELINE = "apig-wsgi (3.11)"


def runtimes(args):
    """name -> how the emulator starts it, for a WSGI app `app`."""
    python = str(Path(args.python).absolute())
    ric = lambda handler, execution_env: lambda app: {  # noqa: E731
        "command": [python, "-m", "awslambdaric", handler],
        "handler": handler,
        "env": {"PYTHONPATH": str(APPS), "AWS_EXECUTION_ENV": execution_env, "BENCH_WSGI_APP": app},
    }
    return {
        "lambda-wsgi": lambda app: {
            "command": [str(Path(args.bootstrap).absolute())],
            "handler": app,
            "env": {"VIRTUAL_ENV": str(Path(args.venv).absolute())},
        },
        BASELINE: ric("apig_handler.handler", "AWS_Lambda_python3.11"),
        "apig-wsgi (3.12)": ric("apig_handler.handler", "AWS_Lambda_python3.12"),
        "serverless-wsgi (3.11)": ric("sls_handler.handler", "AWS_Lambda_python3.11"),
    }


def emulator_bench(args, spec, events, cold_starts):
    command = [args.emulator, "bench", "--bootstrap", spec["command"][0], "--handler", spec["handler"],
               "--task-root", str(APPS), "--invocations", str(args.invocations), "--warmup", str(args.warmup),
               "--cold-starts", str(cold_starts)]
    for arg in spec["command"][1:]:
        command += ["--arg", arg]
    for key, value in spec["env"].items():
        command += ["--env", f"{key}={value}"]
    for event in events:
        command += ["--event", str(event)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"bench failed: {' '.join(command)}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def in_process(args, app, post):
    command = [args.python, str(APPS / "inprocess.py"), app, "--invocations", str(args.invocations),
               "--warmup", str(args.warmup)] + (["--post"] if post else [])
    done = subprocess.run(command, capture_output=True, text=True, cwd=APPS)
    if done.returncode != 0:
        sys.exit(f"in-process floor failed: {done.stderr[-3000:]}")
    return json.loads(done.stdout)


def measure(args):
    """results[app][runtime][event] = list of per-repeat reports."""
    results = {app: {} for app in APPS_UNDER_TEST}
    specs = runtimes(args)
    floors = Path(args.floors)
    for repeat in range(args.repeats):
        for app_name, app in APPS_UNDER_TEST.items():
            for name, make_spec in specs.items():
                for event_name, event in EVENTS.items():
                    print(f"[{repeat + 1}/{args.repeats}] {app_name} {name} {event_name}", file=sys.stderr, flush=True)
                    # Cold starts are timed on the headline event only: the event does not change them.
                    cold = args.cold_starts if event_name == HEADLINE_EVENT else 1
                    report = emulator_bench(args, make_spec(app), [event], cold)
                    if event_name != HEADLINE_EVENT:
                        report.pop("cold_start_ms")
                    results[app_name].setdefault(name, {}).setdefault(event_name, []).append(report)
            for event_name in (HEADLINE_EVENT, "v2 POST 10 KB JSON"):
                report = in_process(args, app, post="POST" in event_name)
                results[app_name].setdefault("in-process app (floor)", {}).setdefault(event_name, []).append(report)
        echo = {"command": [str(floors / "echo-floor")], "handler": "-", "env": {}}
        client = {"command": [str(floors / "minimal-client")], "handler": "-", "env": {}}
        for name, spec in (("Rust echo (floor)", echo), ("emulator + minimal client", client)):
            report = emulator_bench(args, spec, [EVENTS[HEADLINE_EVENT]], args.cold_starts)
            for app_name in APPS_UNDER_TEST:
                results[app_name].setdefault(name, {}).setdefault(HEADLINE_EVENT, []).append(report)
    return results


def median_of(reports, key):
    values = []
    for report in reports:
        value = report.get(key)
        if isinstance(value, list):
            values.append(statistics.median(value))
        elif value is not None:
            values.append(value)
    return statistics.median(values) if values else None


def summarize(results):
    """summary[app][runtime][event] = medians over repeats."""
    keys = ("mean_us", "p50_us", "p99_us", "per_second", "cpu_us", "peak_rss_kb", "cold_start_ms")
    return {
        app: {
            runtime: {event: {key: median_of(reports, key) for key in keys} for event, reports in by_event.items()}
            for runtime, by_event in by_runtime.items()
        }
        for app, by_runtime in results.items()
    }


def check_answers_agree(results):
    """Every runtime must have answered each event alike (status, body) or the race is unfair."""
    problems = []
    for app, by_runtime in results.items():
        for event in EVENTS:
            bodies = {}
            for runtime, by_event in by_runtime.items():
                if "floor" in runtime or "minimal client" in runtime:
                    continue  # constant answers by design
                for report in by_event.get(event, []):
                    for response in report.get("first_responses", []):
                        body = response.get("body", "")
                        if response.get("isBase64Encoded"):
                            import base64
                            body = base64.b64decode(body)
                        bodies.setdefault(runtime, body if isinstance(body, bytes) else body.encode())
            distinct = {len(body) for body in bodies.values()}
            if len(distinct) > 1:
                problems.append(f"{app} / {event}: body sizes differ: "
                                + ", ".join(f"{r}={len(b)}" for r, b in bodies.items()))
    return problems


def targets(summary):
    flask = summary["Flask"]
    ours = flask["lambda-wsgi"][HEADLINE_EVENT]
    apig = flask[BASELINE][HEADLINE_EVENT]
    echo = flask["Rust echo (floor)"][HEADLINE_EVENT]
    app_floor = flask["in-process app (floor)"][HEADLINE_EVENT]
    overhead = ours["mean_us"] - echo["mean_us"] - app_floor["mean_us"]
    return [
        ("invocations/s vs apig-wsgi", ours["per_second"] / apig["per_second"], ">= 2.0x",
         ours["per_second"] / apig["per_second"] >= 2.0),
        ("cost above the floors (us)", overhead, "<= 15 us", overhead <= 15),
        ("cold start vs apig-wsgi", ours["cold_start_ms"] / apig["cold_start_ms"], "<= 0.7x",
         ours["cold_start_ms"] / apig["cold_start_ms"] <= 0.7),
        ("peak RSS vs apig-wsgi", ours["peak_rss_kb"] / apig["peak_rss_kb"], "<= 0.95x",
         ours["peak_rss_kb"] / apig["peak_rss_kb"] <= 0.95),
    ]


def fmt(value, digits=0):
    return "-" if value is None else f"{value:,.{digits}f}"


def tables(summary, args):
    lines = []
    for app, by_runtime in summary.items():
        base = by_runtime[BASELINE][HEADLINE_EVENT]
        lines += [f"### {app} app, {HEADLINE_EVENT} (medians of {args.repeats} runs, "
                  f"{args.invocations:,} sequential invocations each)", "",
                  "| runtime | mean us | p50 us | p99 us | invocations/s | vs apig-wsgi | CPU us/inv | cold start ms "
                  "| vs apig-wsgi | peak RSS MB | vs apig-wsgi |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for runtime, by_event in by_runtime.items():
            row = by_event.get(HEADLINE_EVENT)
            if row is None:
                continue
            ratio = lambda key, better=1: (  # noqa: E731
                "-" if row[key] is None or base[key] is None else f"{row[key] / base[key]:.2f}x")
            rss = None if row["peak_rss_kb"] is None else row["peak_rss_kb"] / 1024
            lines.append(f"| {runtime} | {fmt(row['mean_us'])} | {fmt(row['p50_us'])} | {fmt(row['p99_us'])} "
                         f"| {fmt(row['per_second'])} | {ratio('per_second')} | {fmt(row['cpu_us'])} "
                         f"| {fmt(row['cold_start_ms'], 1)} | {ratio('cold_start_ms')} | {fmt(rss, 1)} "
                         f"| {ratio('peak_rss_kb')} |")
        lines += ["", f"#### {app} app, every event: invocations/s (ratio to apig-wsgi 3.11)", "",
                  "| runtime | " + " | ".join(EVENTS) + " |", "|---|" + "---:|" * len(EVENTS)]
        for runtime, by_event in by_runtime.items():
            if len(by_event) < len(EVENTS):
                continue
            cells = []
            for event in EVENTS:
                value, reference = by_event[event]["per_second"], by_runtime[BASELINE][event]["per_second"]
                cells.append(f"{fmt(value)} ({value / reference:.2f}x)")
            lines.append(f"| {runtime} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def chart(summary, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    flask = summary["Flask"]
    runtimes_shown = [r for r in flask if flask[r][HEADLINE_EVENT]["cold_start_ms"] is not None
                      or r == "in-process app (floor)"]
    figure, (warm, cold) = plt.subplots(1, 2, figsize=(12, 4.8))
    means = [flask[r][HEADLINE_EVENT]["mean_us"] for r in runtimes_shown]
    p99s = [flask[r][HEADLINE_EVENT]["p99_us"] for r in runtimes_shown]
    y = range(len(runtimes_shown))
    warm.barh([i + 0.2 for i in y], means, height=0.4, label="mean", color="#3572A5")
    warm.barh([i - 0.2 for i in y], p99s, height=0.4, label="p99", color="#9ecae1")
    warm.set_yticks(list(y), runtimes_shown)
    warm.invert_yaxis()
    warm.set_xlabel("microseconds per invocation (lower is better)")
    warm.set_title(f"Warm latency, Flask /json, {HEADLINE_EVENT}")
    warm.legend()
    cold_runtimes = [r for r in runtimes_shown if flask[r][HEADLINE_EVENT]["cold_start_ms"] is not None]
    colds = [flask[r][HEADLINE_EVENT]["cold_start_ms"] for r in cold_runtimes]
    cold.barh(range(len(cold_runtimes)), colds, color="#DEA584")
    cold.set_yticks(range(len(cold_runtimes)), cold_runtimes)
    cold.invert_yaxis()
    cold.set_xlabel("milliseconds, spawn to first response (lower is better)")
    cold.set_title("Cold start, Flask app")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return f"{os.cpu_count()} cores, {cpu}, Linux {platform.release()}, Python {platform.python_version()}"


def write_results(summary, results, args, elapsed):
    rows = targets(summary)
    problems = check_answers_agree(results)
    report = [
        "<!-- bench:start (written by bench/run.py; do not edit by hand) -->",
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}; {elapsed / 60:.1f} minutes.",
        f"Command: `make bench` (repeats={args.repeats}, invocations={args.invocations}, "
        f"warmup={args.warmup}, cold starts={args.cold_starts} per repeat).", "",
        "| target (Flask /json, HTTP API v2) | measured | target | met |", "|---|---:|---|---|",
    ]
    for name, value, goal, met in rows:
        report.append(f"| {name} | {value:.2f} | {goal} | {'yes' if met else 'NO'} |")
    report += ["", "![warm latency and cold start per runtime](chart.png)", ""]
    report += tables(summary, args)
    if problems:
        report += ["**Answers differed between runtimes:**", ""] + [f"- {p}" for p in problems] + [""]
    report.append("<!-- bench:end -->")
    results_md = BENCH / "RESULTS.md"
    text = results_md.read_text() if results_md.exists() else ""
    start, end = text.find("<!-- bench:start"), text.find("<!-- bench:end -->")
    block = "\n".join(report)
    if start != -1 and end != -1:
        text = text[:start] + block + text[end + len("<!-- bench:end -->"):]
    else:
        text = text.rstrip() + "\n\n## Benchmarks\n\n" + block + "\n"
    results_md.write_text(text)
    (BENCH / "results.json").write_text(json.dumps({"summary": summary, "targets": rows}, indent=1) + "\n")
    chart(summary, BENCH / "chart.png")
    for name, value, goal, met in rows:
        print(f"{name}: {value:.2f} (target {goal}) {'met' if met else 'NOT MET'}")
    if problems:
        print("answers differed:\n  " + "\n  ".join(problems))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--emulator", required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--floors", required=True, help="directory with echo-floor and minimal-client")
    parser.add_argument("--python", default=sys.executable, help="the venv Python with the peers installed")
    parser.add_argument("--venv", default=str(ROOT / ".venv"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--invocations", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--cold-starts", type=int, default=5)
    args = parser.parse_args()
    started = time.monotonic()
    results = measure(args)
    summary = summarize(results)
    write_results(summary, results, args, time.monotonic() - started)


if __name__ == "__main__":
    main()
