"""make bench: lambda-wsgi against the Python adapters and the floors, in alternating slice pairs.

Every runtime is driven by the same Runtime API emulator (`lambda-wsgi-emulator bench`) with the
same events and the same apps; the in-process floor calls the app directly. The machine's speed
drifts by up to 1.7x within a run, so runtimes are not measured in long cells one after the other:
each comparison (lambda-wsgi against one peer or floor, for one app and event) is a series of short
slice pairs, the two runtimes back to back, in the order A B in one round and B A in the next
(bench/pairing.py). Each pair gives one ratio per metric (lambda-wsgi / the other); the report is
the median ratio with its quartiles and min-max. Every slice starts a fresh process, so cold starts
are paired too. The whole measurement runs --runs times (2 by default); the targets are judged on
the first run and the report says how far each median ratio moved in the second.
Writes bench/results/results.json, bench/RESULTS.md (between the markers) and bench/results/chart.png.

Usage: bench/run.py --emulator PATH --bootstrap PATH --floors DIR [--rounds N] [--runs N] [--invocations N]
"""

import argparse
import base64
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
sys.path.insert(0, str(BENCH))
from harness import emulator_bench, slice_arguments, write_section  # noqa: E402
from pairing import alternate, differences, flatten, met, moved, pairs, ratios, spread  # noqa: E402

APPS = BENCH / "apps"
EVENTS = {
    "HTTP API v2 GET": BENCH / "events" / "http-v2-get.json",
    "REST v1 GET": BENCH / "events" / "rest-v1-get.json",
    "ALB GET": BENCH / "events" / "alb-get.json",
    "v2 POST 10 KB JSON": BENCH / "events" / "http-v2-post-10k.json",
    "v2 GET 100 KB binary": BENCH / "events" / "http-v2-get-binary.json",
}
HEADLINE_EVENT = "HTTP API v2 GET"
APPS_UNDER_TEST = {"trivial": "trivial:app", "Flask": "flask_app:app"}
# Invocations per slice: --invocations times this, so that a slice of either app lasts a similar
# time (0.2-2 s here): a trivial-app slice of 1,000 lambda-wsgi invocations is over in ~80 ms,
# short enough for one scheduler stall on a busy machine to decide its figure.
SLICE_SCALE = {"trivial": 3, "Flask": 1}
START = "<!-- bench:start (written by bench/run.py; do not edit by hand) -->"
END = "<!-- bench:end -->"
OURS = "lambda-wsgi"
BASELINE = "apig-wsgi (3.11)"
PEERS = [BASELINE, "apig-wsgi (3.12)", "serverless-wsgi (3.11)"]
ECHO, CLIENT = "Rust echo (floor)", "emulator + minimal client"
FLOORS = [ECHO, CLIENT]
IN_PROCESS = "in-process app (floor)"
# label, key in the emulator's report, which way lambda-wsgi's ratio is better
METRICS = [
    ("invocations/s", "per_second", "higher"),
    ("mean us", "mean_us", "lower"),
    ("cold start ms", "cold_start_ms", "lower"),
    ("peak RSS MB", "peak_rss_kb", "lower"),
    ("CPU us/inv", "cpu_us", "lower"),
]
KEEP = {"mean_us", "p50_us", "p99_us", "per_second", "cpu_us", "peak_rss_kb", "cold_start_ms"}
# name, comparison (app, event, other runtime), metric key or "mean difference", goal, better
TARGETS = [
    ("trivial, v2: mean minus the Rust echo floor's (us)", ("trivial", HEADLINE_EVENT, ECHO), "mean difference",
     10, "lower"),
    ("trivial, v2: invocations/s vs apig-wsgi", ("trivial", HEADLINE_EVENT, BASELINE), "per_second", 2.8, "higher"),
    ("Flask /json, v2: invocations/s vs apig-wsgi", ("Flask", HEADLINE_EVENT, BASELINE), "per_second", 1.5, "higher"),
    ("Flask /json, v2: invocations/s vs apig-wsgi (stretch)", ("Flask", HEADLINE_EVENT, BASELINE), "per_second", 2.0,
     "higher"),
    ("trivial: cold start vs apig-wsgi", ("trivial", HEADLINE_EVENT, BASELINE), "cold_start_ms", 0.5, "lower"),
    ("Flask: cold start vs apig-wsgi", ("Flask", HEADLINE_EVENT, BASELINE), "cold_start_ms", 0.85, "lower"),
    ("trivial: peak RSS vs apig-wsgi", ("trivial", HEADLINE_EVENT, BASELINE), "peak_rss_kb", 0.95, "lower"),
    ("Flask: peak RSS vs apig-wsgi", ("Flask", HEADLINE_EVENT, BASELINE), "peak_rss_kb", 0.95, "lower"),
]


def runtimes(args):
    """name -> how the emulator starts it, for a WSGI app `app` (the floors ignore the app)."""
    python = str(Path(args.python).absolute())
    floors = Path(args.floors).absolute()
    ric = lambda handler, execution_env: lambda app: {  # noqa: E731
        "command": [python, "-m", "awslambdaric", handler],
        "handler": handler,
        "env": {"PYTHONPATH": str(APPS), "AWS_EXECUTION_ENV": execution_env, "BENCH_WSGI_APP": app},
    }
    return {
        OURS: lambda app: {
            "command": [str(Path(args.bootstrap).absolute())],
            "handler": app,
            "env": {"VIRTUAL_ENV": str(Path(args.venv).absolute())},
        },
        BASELINE: ric("apig_handler.handler", "AWS_Lambda_python3.11"),
        "apig-wsgi (3.12)": ric("apig_handler.handler", "AWS_Lambda_python3.12"),
        "serverless-wsgi (3.11)": ric("sls_handler.handler", "AWS_Lambda_python3.11"),
        ECHO: lambda app: {"command": [str(floors / "echo-floor")], "handler": "-", "env": {}},
        CLIENT: lambda app: {"command": [str(floors / "minimal-client")], "handler": "-", "env": {}},
    }


def comparisons(every_peer=False):
    """(key, lambda-wsgi, the other) per comparison; key = (app, event, the other runtime). On the
    headline event every peer, and the floors (which answer a constant, whatever the app) next to
    the trivial app; on the other events apig-wsgi (3.11), or every peer with `every_peer`."""
    found = []
    for app in APPS_UNDER_TEST:
        for event in EVENTS:
            if event == HEADLINE_EVENT:
                others = PEERS + (FLOORS if app == "trivial" else [])
            else:
                others = PEERS if every_peer else [BASELINE]
            found += [((app, event, other), OURS, other) for other in others]
    return found


def in_process(args, app, post):
    command = [args.python, str(APPS / "inprocess.py"), app, "--invocations", str(args.invocations),
               "--warmup", str(args.warmup)] + (["--post"] if post else [])
    done = subprocess.run(command, capture_output=True, text=True, cwd=APPS)
    if done.returncode != 0:
        sys.exit(f"in-process floor failed: {done.stderr[-3000:]}")
    return flatten(json.loads(done.stdout), KEEP)


def load_average():
    return float(Path("/proc/loadavg").read_text().split()[0])


def measure(args, run_index):
    """One run: {"slices": {key: {runtime: [slice per round]}}, "in_process": {app: {event: [...]}},
    "load": [1-minute load average at the start and after each round]}."""
    specs = runtimes(args)
    plan = comparisons(args.every_peer)
    load = [load_average()]
    done_slices = [0]

    def run_slice(key, runtime, round_index):
        app, event, _ = key
        done_slices[0] += 1
        print(f"[run {run_index + 1}/{args.runs}, round {round_index + 1}/{args.rounds}, "
              f"{done_slices[0]}/{2 * len(plan) * args.rounds}] {app} {event} {runtime}", file=sys.stderr, flush=True)
        # Cold starts are taken on the headline event's slices (the event does not change them).
        headline = event == HEADLINE_EVENT
        scale = SLICE_SCALE[app]
        report = emulator_bench(args.emulator, specs[runtime](APPS_UNDER_TEST[app]), APPS, [EVENTS[event]],
                                args.invocations * scale, args.warmup * scale, args.cold_starts if headline else 1)
        kept = flatten(report, KEEP)
        if not headline:
            kept.pop("cold_start_ms", None)
        kept["first_responses"] = report.get("first_responses", [])
        if done_slices[0] % (2 * len(plan)) == 0:
            load.append(load_average())
        return kept

    slices = alternate(args.rounds, plan, run_slice)
    floor = {app: {event: [in_process(args, module, post="POST" in event) for _ in range(min(args.rounds, 3))]
                   for event in (HEADLINE_EVENT, "v2 POST 10 KB JSON")}
             for app, module in APPS_UNDER_TEST.items()}
    return {"slices": slices, "in_process": floor, "load": load}


def median_of(reports, key):
    values = [report[key] for report in reports if report.get(key) is not None]
    return statistics.median(values) if values else None


def summarize(run):
    """{"comparisons": {key: {metric key: spread of the ratios, "mean difference": spread}},
        "raw": {app: {event: {runtime: {metric key: median over its slices}}}}}."""
    compared, raw_reports = {}, {}
    for key, by_runtime in run["slices"].items():
        app, event, other = key
        ours, theirs = by_runtime[OURS], by_runtime[other]
        row = {metric: spread(ratios(pairs(ours, theirs, metric))) for _, metric, _ in METRICS}
        row["mean difference"] = spread(differences(pairs(ours, theirs, "mean_us")))
        compared[key] = row
        for runtime, reports in by_runtime.items():
            raw_reports.setdefault(app, {}).setdefault(event, {}).setdefault(runtime, []).extend(reports)
    for app, by_event in run["in_process"].items():
        for event, reports in by_event.items():
            raw_reports[app][event][IN_PROCESS] = reports
    raw = {app: {event: {runtime: {key: median_of(reports, key) for key in KEEP}
                         for runtime, reports in by_runtime.items()}
                 for event, by_runtime in by_event.items()}
           for app, by_event in raw_reports.items()}
    return {"comparisons": compared, "raw": raw}


def judge(summary):
    """[(name, spread, goal text, met)] for the issue's targets."""
    rows = []
    for name, key, metric, goal, better in TARGETS:
        value = summary["comparisons"][key][metric]
        goal_text = f"{'>=' if better == 'higher' else '<='} {goal}{' us' if metric == 'mean difference' else 'x'}"
        rows.append((name, value, goal_text, met(value and value["median"], goal, better)))
    return rows


def check_answers_agree(run):
    """Every runtime must have answered each event alike (body length) or the race is unfair."""
    problems = []
    bodies = {}
    for (app, event, _), by_runtime in run["slices"].items():
        for runtime, reports in by_runtime.items():
            if runtime in FLOORS:
                continue  # constant answers by design
            for report in reports:
                for response in report.get("first_responses", []):
                    body = response.get("body", "")
                    body = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
                    bodies.setdefault((app, event), {}).setdefault(runtime, body)
    for (app, event), by_runtime in bodies.items():
        if len({len(body) for body in by_runtime.values()}) > 1:
            problems.append(f"{app} / {event}: body sizes differ: "
                            + ", ".join(f"{r}={len(b)}" for r, b in by_runtime.items()))
    return problems


def fmt(value, digits=0):
    return "-" if value is None else f"{value:,.{digits}f}"


def ratio_text(value, unit="x", digits=2):
    """median (q1-q3; min-max)."""
    if value is None:
        return "-"
    f = lambda v: f"{v:,.{digits}f}"  # noqa: E731
    to = " to " if value["min"] < 0 else "-"
    return (f"{f(value['median'])}{unit} ({f(value['q1'])}{to}{f(value['q3'])}; "
            f"{f(value['min'])}{to}{f(value['max'])})")


def scaled(key, value):
    return None if value is None else value / 1024 if key == "peak_rss_kb" else value


def targets_table(runs):
    first = judge(runs[0])
    later = [judge(summary) for summary in runs[1:]]
    header = "| target (paired ratios, lambda-wsgi / the other) | run 1: median (IQR; min-max) | goal | met |"
    rule = "|---|---|---|---|"
    for index in range(len(later)):
        header += f" run {index + 2}: median | met |"
        rule += "---:|---|"
    lines = [header, rule]
    for row_index, (name, value, goal, ok) in enumerate(first):
        unit = " us" if TARGETS[row_index][2] == "mean difference" else "x"
        digits = 1 if unit == " us" else 2
        line = f"| {name} | {ratio_text(value, unit, digits)} | {goal} | {'yes' if ok else 'NO'} |"
        for rows in later:
            _, again, _, ok_again = rows[row_index]
            line += f" {fmt(again and again['median'], digits)}{unit} | {'yes' if ok_again else 'NO'} |"
        lines.append(line)
    return lines


def stability_table(runs):
    """How far each median ratio moved from run 1 to run 2 (in % of run 1's)."""
    shown = [(label, key) for label, key, _ in METRICS if key != "cpu_us"]
    lines = ["| app | event | lambda-wsgi vs | " + " | ".join(f"{label}: run 1 -> run 2" for label, _ in shown)
             + " | mean difference us: run 1 -> run 2 |",
             "|---|---|---|" + "---|" * (len(shown) + 1)]
    for key, row in runs[0]["comparisons"].items():
        again = runs[1]["comparisons"].get(key, {})
        cells = []
        for _, metric in shown + [(None, "mean difference")]:
            one, two = row.get(metric), again.get(metric)
            if one is None or two is None:
                cells.append("-")
                continue
            change = moved(one["median"], two["median"])
            if metric == "mean difference":
                cells.append(f"{one['median']:.0f} -> {two['median']:.0f}")
            else:
                cells.append(f"{one['median']:.2f} -> {two['median']:.2f} ({change * 100:+.0f}%)")
        lines.append(f"| {key[0]} | {key[1]} | {key[2]} | " + " | ".join(cells) + " |")
    return lines


def detail_tables(summary, args):
    lines = []
    for app in APPS_UNDER_TEST:
        raw = summary["raw"][app][HEADLINE_EVENT]
        lines += [f"### {app} app, {HEADLINE_EVENT} (run 1)", "",
                  f"Medians over each runtime's slices ({args.invocations * SLICE_SCALE[app]:,} sequential "
                  "invocations per slice):", "",
                  "| runtime | mean us | p50 us | p99 us | invocations/s | CPU us/inv | cold start ms | peak RSS MB |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for runtime, row in raw.items():
            lines.append(f"| {runtime} | {fmt(row['mean_us'])} | {fmt(row['p50_us'])} | {fmt(row['p99_us'])} "
                         f"| {fmt(row['per_second'])} | {fmt(row['cpu_us'])} | {fmt(row['cold_start_ms'], 1)} "
                         f"| {fmt(scaled('peak_rss_kb', row['peak_rss_kb']), 1)} |")
        lines += ["", f"Paired ratios, lambda-wsgi / the other: median (IQR; min-max) over {args.rounds} slice pairs:", "",
                  "| lambda-wsgi vs | " + " | ".join(label for label, _, _ in METRICS)
                  + " | mean difference us |",
                  "|---|" + "---|" * (len(METRICS) + 1)]
        for (key_app, event, other), row in summary["comparisons"].items():
            if key_app != app or event != HEADLINE_EVENT:
                continue
            cells = [ratio_text(row[metric]) for _, metric, _ in METRICS]
            cells.append(ratio_text(row["mean difference"], "", 0))
            lines.append(f"| {other} | " + " | ".join(cells) + " |")
        lines += ["", f"#### {app} app, every event: invocations/s, lambda-wsgi / the other (median of pairs, IQR)",
                  "", "| lambda-wsgi vs | " + " | ".join(EVENTS) + " |", "|---|" + "---:|" * len(EVENTS)]
        for other in PEERS:
            cells = []
            for event in EVENTS:
                value = summary["comparisons"].get((app, event, other), {}).get("per_second")
                cells.append("-" if value is None else
                             f"{value['median']:.2f}x ({value['q1']:.2f}-{value['q3']:.2f})")
            lines.append(f"| {other} | " + " | ".join(cells) + " |")
        lines += ["", f"#### {app} app, every event: invocations/s (median over each runtime's slices)", "",
                  "| runtime | " + " | ".join(EVENTS) + " |", "|---|" + "---:|" * len(EVENTS)]
        for runtime in [OURS] + PEERS:
            lines.append(f"| {runtime} | " + " | ".join(
                fmt(summary["raw"][app][event].get(runtime, {}).get("per_second")) for event in EVENTS) + " |")
        lines.append("")
    return lines


def chart(summary, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    flask = dict(summary["raw"]["Flask"][HEADLINE_EVENT])
    for floor in FLOORS:  # app-independent: measured next to the trivial app
        flask[floor] = summary["raw"]["trivial"][HEADLINE_EVENT][floor]
    runtimes_shown = [OURS] + PEERS + [IN_PROCESS] + FLOORS
    figure, (warm, cold) = plt.subplots(1, 2, figsize=(12, 4.8))
    means = [flask[r]["mean_us"] for r in runtimes_shown]
    p50s = [flask[r]["p50_us"] for r in runtimes_shown]
    y = range(len(runtimes_shown))
    warm.barh([i + 0.2 for i in y], means, height=0.4, label="mean", color="#3572A5")
    # The median, not p99: on this shared machine p99 is other processes' stalls (ms), whoever runs.
    warm.barh([i - 0.2 for i in y], p50s, height=0.4, label="median (p50)", color="#9ecae1")
    warm.set_yticks(list(y), runtimes_shown)
    warm.invert_yaxis()
    warm.set_xlabel("microseconds per invocation (lower is better)")
    warm.set_title(f"Warm latency, Flask /json, {HEADLINE_EVENT}")
    warm.legend()
    cold_runtimes = [r for r in runtimes_shown if flask[r]["cold_start_ms"] is not None]
    colds = [flask[r]["cold_start_ms"] for r in cold_runtimes]
    cold.barh(range(len(cold_runtimes)), colds, color="#DEA584")
    cold.set_yticks(range(len(cold_runtimes)), cold_runtimes)
    cold.invert_yaxis()
    cold.set_xlabel("milliseconds, spawn to first response (lower is better)")
    cold.set_title("Cold start, Flask app (median over slices)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return f"{os.cpu_count()} cores, {cpu}, Linux {platform.release()}, Python {platform.python_version()}"


def key_text(key):
    return " | ".join(key)


def write_results(runs, summaries, args, elapsed):
    problems = [problem for run in runs for problem in check_answers_agree(run)]
    loads = [f"{min(run['load']):.1f}-{max(run['load']):.1f}" for run in runs]
    report = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}; {elapsed / 60:.1f} minutes "
        f"for {args.runs} run(s).",
        f"Command: `make bench` (runs={args.runs}, rounds={args.rounds} slice pairs per comparison, "
        f"invocations={args.invocations} and warmup={args.warmup} per slice, times "
        + " and ".join(f"{scale} for the {app} app" for app, scale in SLICE_SCALE.items())
        + f", cold starts={args.cold_starts} per headline-event slice"
        + ("; every peer on every event" if args.every_peer else "") + "). "
        "1-minute load average during each run (sampled after every round): "
        + ", ".join(f"run {i + 1}: {load}" for i, load in enumerate(loads)) + ".", "",
    ]
    report += targets_table(summaries)
    if len(summaries) > 1:
        report += ["", "#### Stability: each median ratio in run 1 and run 2 (change in % of run 1's)", ""]
        report += stability_table(summaries)
    report += ["", "![warm latency and cold start per runtime](results/chart.png)", ""]
    report += detail_tables(summaries[0], args)
    if problems:
        report += ["**Answers differed between runtimes:**", ""] + [f"- {p}" for p in sorted(set(problems))] + [""]
    write_section(START, END, report, "Performance against the peers")
    serializable = [{"comparisons": {key_text(k): v for k, v in s["comparisons"].items()}, "raw": s["raw"],
                     "targets": judge(s), "load": run["load"]} for s, run in zip(summaries, runs)]
    (BENCH / "results" / "results.json").write_text(json.dumps({"args": vars(args), "runs": serializable}, indent=1) + "\n")
    chart(summaries[0], BENCH / "results" / "chart.png")
    for index, summary in enumerate(summaries):
        for name, value, goal, ok in judge(summary):
            print(f"run {index + 1}: {name}: {ratio_text(value, '', 2)} (target {goal}) "
                  f"{'met' if ok else 'NOT MET'}")
    if problems:
        print("answers differed:\n  " + "\n  ".join(sorted(set(problems))))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    slice_arguments(parser, cold_starts_help="spawns per headline-event slice (their median)")
    parser.add_argument("--floors", required=True, help="directory with echo-floor and minimal-client")
    parser.add_argument("--python", default=sys.executable, help="the venv Python with the peers installed")
    parser.add_argument("--venv", default=str(ROOT / ".venv"))
    parser.add_argument("--runs", type=int, default=2,
                        help="whole measurements; the later ones say how stable each median ratio is")
    parser.add_argument("--rounds", type=int, default=9, help="slice pairs per comparison, order alternating")
    parser.add_argument("--every-peer", action="store_true",
                        help="every peer on every event (by default apig-wsgi 3.11 only, off the headline event)")
    args = parser.parse_args()
    started = time.monotonic()
    runs = [measure(args, index) for index in range(args.runs)]
    summaries = [summarize(run) for run in runs]
    write_results(runs, summaries, args, time.monotonic() - started)


if __name__ == "__main__":
    main()
