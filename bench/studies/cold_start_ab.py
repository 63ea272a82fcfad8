"""Cold start, paired: two bootstraps (before/after a change) and apig-wsgi, alternating.

Cold start as bench/run.py takes it: `lambda-wsgi-emulator bench` from spawning the runtime to
its first response (HTTP API v2 GET). Each round starts every runtime `--spawns` times, one runtime
after the other, with the order rotating from round to round; each round gives one ratio per pair
(median of that round's spawns), and the table gives the median ratio over the rounds with its
spread, so that the machine's drift (up to 1.7x here) does not decide.

Usage: cold_start_ab.py --emulator PATH --before PATH --after PATH [--app trivial:app] [--rounds 9]
"""

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]  # bench/ (this study is in bench/studies/)
ROOT = BENCH.parent
APPS = BENCH / "apps"
EVENT = BENCH / "events" / "http-v2-get.json"


def cold_starts(args, command, handler, env):
    bench = [args.emulator, "bench", "--bootstrap", command[0], "--handler", handler, "--task-root", str(APPS),
             "--invocations", "1", "--warmup", "0", "--cold-starts", str(args.spawns), "--event", str(EVENT)]
    for arg in command[1:]:
        bench += ["--arg", arg]
    for key, value in env.items():
        bench += ["--env", f"{key}={value}"]
    done = subprocess.run(bench, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(bench)}\n{done.stderr[-3000:]}")
    return statistics.median(json.loads(done.stdout)["cold_start_ms"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--emulator", required=True)
    parser.add_argument("--before", required=True, help="the bootstrap before the change")
    parser.add_argument("--after", required=True, help="the bootstrap after the change")
    parser.add_argument("--app", default="trivial:app")
    parser.add_argument("--python", default=str(ROOT / ".venv" / "bin" / "python"),
                        help="the Python with awslambdaric and apig-wsgi")
    parser.add_argument("--app-venv", default=str(ROOT / ".venv-3.11"))
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--spawns", type=int, default=3)
    args = parser.parse_args()
    venv = {"VIRTUAL_ENV": str(Path(args.app_venv).absolute())}
    runtimes = {
        "before": ([str(Path(args.before).absolute())], args.app, venv),
        "after": ([str(Path(args.after).absolute())], args.app, venv),
        "apig-wsgi": ([str(Path(args.python).absolute()), "-m", "awslambdaric", "apig_handler.handler"],
                      "apig_handler.handler",
                      {"PYTHONPATH": str(APPS), "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11", "BENCH_WSGI_APP": args.app}),
    }
    names = list(runtimes)
    rounds = []
    for number in range(args.rounds):
        order = names[number % len(names):] + names[:number % len(names)]
        measured = {}
        for name in order:
            measured[name] = cold_starts(args, *runtimes[name])
        print(f"round {number + 1}: " + ", ".join(f"{n} {measured[n]:.1f} ms" for n in names), file=sys.stderr)
        rounds.append(measured)
    pairs = [("after", "before"), ("before", "apig-wsgi"), ("after", "apig-wsgi")]
    print(f"{args.app}, {args.rounds} rounds x {args.spawns} spawns")
    print("| runtime | cold start ms (median of rounds) |")
    print("|---|---:|")
    for name in names:
        print(f"| {name} | {statistics.median(r[name] for r in rounds):.1f} |")
    print("| ratio | median (min-max) |")
    print("|---|---|")
    for a, b in pairs:
        ratios = [r[a] / r[b] for r in rounds]
        print(f"| {a} / {b} | {statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) |")


if __name__ == "__main__":
    main()
