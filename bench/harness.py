"""The one slice both benchmark scripts run: `lambda-wsgi-emulator bench` on one runtime."""

import json
import subprocess
import sys


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
