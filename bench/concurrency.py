"""make bench-concurrency: Lambda Managed Instances, lambda-wsgi against awslambdaric's own
multi-concurrent mode, side by side in one run.

Both serve the same Flask app (bench/apps/flask_app.py): lambda-wsgi directly, awslambdaric
4.2.2 through apig-wsgi (`python -m awslambdaric apig_handler.handler`), both started by
`lambda-wsgi-emulator bench --max-concurrency N`, which sets AWS_LAMBDA_MAX_CONCURRENCY=N and
accepts N concurrent `/next` long polls. awslambdaric reads that variable itself (lambda_config.py)
and forks N workers with multiprocessing, each importing the handler (lambda_multi_concurrent_utils.py);
lambda-wsgi imports the app once and forks N workers from it.

Per N (2 and 8), in short slices alternating the two runtimes (A B, then B A, ...), the emulator
reports:
- ready: ms from spawning the runtime until N `/next` polls are parked at once (N workers waiting
  for work), the median of --cold-starts spawns;
- memory: the sum of Pss (/proc/PID/smaps_rollup) over the runtime process and all its
  descendants, read when N are ready (before any invocation) and after the load;
- throughput: invocations/s of N clients inside the emulator, each sending its next invocation as
  soon as its previous one is answered, for --invocations in all (after --warmup);
- CPU per invocation of the whole process group, and of the emulator itself (the emulator is one
  thread: 1e6 / its CPU us per invocation is the most it could drive).
Each slice pair gives one ratio per metric (lambda-wsgi / awslambdaric); the table reports the
median ratio and its spread (min-max) over --repeats pairs, and the medians of the raw values.

Usage: bench/concurrency.py --emulator PATH --bootstrap PATH [--repeats N] [--invocations N]
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from harness import emulator_bench, write_section, slice_arguments  # noqa: E402
from pairing import alternate, flatten, pairs, ratios, spread  # noqa: E402

ROOT = BENCH.parent
APPS = BENCH / "apps"
EVENT = BENCH / "events" / "http-v2-get.json"
OURS, PEER = "lambda-wsgi", "awslambdaric 4.2.2 + apig-wsgi"
CONCURRENCY = (2, 8)
# name, key in the emulator's report, how the ratio is good, the target (issue 16; memory at N = 8
# only, judged both when the N workers are ready and after the load)
METRICS = [
    ("invocations/s", "per_second", "higher", 1.3),
    ("ready ms", "ready_ms", "lower", 0.3),
    ("PSS at ready MB", "pss_ready_kb", "lower", 0.4),
    ("PSS after load MB", "pss_after_kb", "lower", 0.4),
    ("CPU us/inv (group)", "group_cpu_us", "lower", None),
    ("p99 us", "p99_us", "lower", None),
    ("emulator CPU us/inv", "emulator_cpu_us", "lower", None),
]
# One block per Python (the runtimes are measured with the Python running this script).
PY = "py{}.{}".format(*sys.version_info[:2])
START = f"<!-- concurrency-{PY}:start (written by bench/concurrency.py; do not edit by hand) -->"
END = f"<!-- concurrency-{PY}:end -->"


def runtimes(args):
    python = str(Path(args.python).absolute())
    return {
        OURS: {"command": [str(Path(args.bootstrap).absolute())], "handler": "flask_app:app",
               "env": {"VIRTUAL_ENV": str(Path(args.venv).absolute()),
                       **({"WSGI_WARMUP_PATH": args.warmup_path} if args.warmup_path else {})}},
        # By default the python3.11 execution environment, as `make bench`'s baseline: awslambdaric
        # then polls /next on the main thread. With python3.12+ (what Lambda sets on Managed
        # Instances, which need 3.13+) it polls from a new thread per invocation, a little slower.
        # No _LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET: without it the workers keep the stdout and
        # stderr they inherit instead of connecting to Lambda's log socket.
        PEER: {"command": [python, "-m", "awslambdaric", "apig_handler.handler"], "handler": "apig_handler.handler",
               "env": {"PYTHONPATH": str(APPS), "AWS_EXECUTION_ENV": args.peer_execution_env,
                       "BENCH_WSGI_APP": "flask_app:app"}},
    }


def slice_run(args, spec, concurrency):
    report = emulator_bench(args.emulator, spec, APPS, [EVENT], args.invocations, args.warmup, args.cold_starts,
                            extra=["--max-concurrency", str(concurrency)])
    return flatten(report, {k for _, k, _, _ in METRICS} | {"failures", "processes", "rss_after_kb"})


def measure(args):
    """results[N][runtime] = list of per-slice reports, the two runtimes alternating (bench/pairing.py)."""
    specs = runtimes(args)

    def run_slice(n, name, round_index):
        print(f"[{round_index + 1}/{args.repeats}] N={n} {name}", file=sys.stderr, flush=True)
        return slice_run(args, specs[name], n)

    return alternate(args.repeats, [(n, OURS, PEER) for n in CONCURRENCY], run_slice)


def summarize(results):
    """summary[N][metric] = {ours, peer (medians), ratio (median, min, max over slice pairs)}."""
    summary = {}
    for n, by_runtime in results.items():
        summary[n] = {}
        for label, key, _, _ in METRICS:
            ours = [r[key] for r in by_runtime[OURS] if r.get(key) is not None]
            peer = [r[key] for r in by_runtime[PEER] if r.get(key) is not None]
            ratio = spread(ratios(pairs(by_runtime[OURS], by_runtime[PEER], key)))
            summary[n][label] = {
                "ours": statistics.median(ours) if ours else None,
                "peer": statistics.median(peer) if peer else None,
                "ratio": None if ratio is None else (ratio["median"], ratio["min"], ratio["max"]),
            }
        summary[n]["processes"] = {name: statistics.median(r["processes"] for r in reports)
                                   for name, reports in by_runtime.items()}
    return summary


def verdicts(summary):
    rows = []
    for n in CONCURRENCY:
        for label, _, better, goal in METRICS:
            if goal is None or (label.startswith("PSS") and n != 8):
                continue
            ratio = summary[n][label]["ratio"]
            if ratio is None:
                continue
            met = ratio[0] >= goal if better == "higher" else ratio[0] <= goal
            rows.append((f"{label}, N = {n}", ratio, f"{'>=' if better == 'higher' else '<='} {goal}x", met))
    return rows


def value(label, raw):
    if raw is None:
        return "-"
    if "MB" in label:
        return f"{raw / 1024:,.1f}"
    return f"{raw:,.0f}" if raw >= 100 else f"{raw:,.1f}"


def report(summary, args, elapsed, machine):
    lines = [f"Measured {time.strftime('%Y-%m-%d')} on {machine}; {elapsed / 60:.1f} minutes.",
             f"Command: `make bench-concurrency` (repeats={args.repeats} alternating slice pairs per N, "
             f"awslambdaric with AWS_EXECUTION_ENV={args.peer_execution_env}, "
             f"invocations={args.invocations} and warmup={args.warmup} per slice, "
             f"{args.cold_starts} spawns per slice for the ready time).", "",
             "| target (lambda-wsgi / awslambdaric, median of slice pairs) | measured (min-max) | target | met |",
             "|---|---|---|---|"]
    for name, (median, low, high), goal, met in verdicts(summary):
        lines.append(f"| {name} | {median:.2f}x ({low:.2f}-{high:.2f}) | {goal} | {'yes' if met else 'NO'} |")
    lines.append("")
    for n in CONCURRENCY:
        processes = summary[n]["processes"]
        lines += [f"#### N = {n} (processes: lambda-wsgi {processes[OURS]:.0f}, awslambdaric {processes[PEER]:.0f})", "",
                  f"| metric | {OURS} | {PEER} | ratio (min-max) |", "|---|---:|---:|---|"]
        for label, _, _, _ in METRICS:
            row = summary[n][label]
            ratio = "-" if row["ratio"] is None else \
                f"{row['ratio'][0]:.2f}x ({row['ratio'][1]:.2f}-{row['ratio'][2]:.2f})"
            lines.append(f"| {label} | {value(label, row['ours'])} | {value(label, row['peer'])} | {ratio} |")
        lines.append("")
    return lines


def write(lines, summary, results):
    write_section(START, END, lines, f"Managed Instances (concurrency), {PY}")
    (BENCH / "results" / f"concurrency-{PY.split(',')[0]}{'-warmup' if ',' in PY else ''}.json").write_text(json.dumps({"summary": summary, "slices": results}, indent=1) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    slice_arguments(parser, invocations=3000, warmup=300)
    parser.add_argument("--python", default=sys.executable, help="the venv Python with awslambdaric installed")
    parser.add_argument("--venv", default=str(ROOT / ".venv"))
    parser.add_argument("--peer-execution-env", default="AWS_Lambda_python3.11",
                        help="AWS_EXECUTION_ENV for awslambdaric (decides how it polls /next)")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--warmup-path", help="WSGI_WARMUP_PATH for lambda-wsgi (its own block in RESULTS.md)")
    args = parser.parse_args()
    if args.warmup_path:
        # A variant of ours, reported in a block of its own.
        global PY, START, END
        PY = f"{PY}, WSGI_WARMUP_PATH={args.warmup_path}"
        START = f"<!-- concurrency-{PY}:start (written by bench/concurrency.py; do not edit by hand) -->"
        END = f"<!-- concurrency-{PY}:end -->"
    from run import machine

    started = time.monotonic()
    results = measure(args)
    summary = summarize(results)
    write(report(summary, args, time.monotonic() - started, machine()), summary, results)
    for name, (median, low, high), goal, met in verdicts(summary):
        print(f"{name}: {median:.2f}x ({low:.2f}-{high:.2f}) (target {goal}) {'met' if met else 'NOT MET'}")


if __name__ == "__main__":
    main()
