"""The one slice both benchmark scripts run: `lambda-wsgi-emulator bench` on one runtime."""

import json
import subprocess
import sys
from pathlib import Path


def emulator_bench(emulator, spec, task_root, events, invocations, warmup, cold_starts, extra=()):
    """Runs the emulator's bench on the runtime `spec` ({command, handler, env}) and returns its
    JSON report; exits with the command and its stderr when it fails or an invocation failed."""
    command = [str(emulator), "bench", "--bootstrap", spec["command"][0], "--handler", spec["handler"],
               "--task-root", str(task_root), "--invocations", str(invocations), "--warmup", str(warmup),
               "--cold-starts", str(cold_starts), *extra]
    for arg in spec["command"][1:]:
        command += ["--arg", arg]
    for key, value in spec["env"].items():
        command += ["--env", f"{key}={value}"]
    for event in events:
        command += ["--event", str(event)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"bench failed: {' '.join(command)}\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout)
    if report.get("failures"):
        sys.exit(f"{' '.join(command)}: {report['failures']} invocations failed")
    return report


RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(start, end, lines, heading, results_md=RESULTS_MD):
    """Puts `lines` between the markers `start` and `end` in bench/RESULTS.md, in place of what
    was there, or under a new `## heading` at the end when the markers are not there yet; returns
    the block written, markers included. A start marker is matched up to its " (" so that its
    comment can change."""
    block = "\n".join([start, *lines, end])
    text = results_md.read_text() if results_md.exists() else ""
    found = text.find(start.split(" (")[0])
    ends = text.find(end, found) if found != -1 else -1
    if found != -1 and ends > found:
        text = text[:found] + block + text[ends + len(end):]
    else:
        text = text.rstrip("\n") + f"\n\n## {heading}\n\n" + block + "\n"
    results_md.write_text(text)
    return block


def slice_arguments(parser, invocations=1000, warmup=100, cold_starts_help="spawns per slice (their median)"):
    """The arguments every harness takes for emulator_bench: the emulator and bootstrap built by
    make, and each slice's invocations, warm-up and cold starts."""
    parser.add_argument("--emulator", required=True, help="lambda-wsgi-emulator (release)")
    parser.add_argument("--bootstrap", required=True, help="lambda-wsgi's bootstrap (release)")
    parser.add_argument("--invocations", type=int, default=invocations, help="timed invocations per slice")
    parser.add_argument("--warmup", type=int, default=warmup, help="untimed invocations per slice first")
    parser.add_argument("--cold-starts", type=int, default=3, help=cold_starts_help)
