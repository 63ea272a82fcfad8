"""What precompiling costs and saves: cold starts of a packaged function with its .pyc, then
with every __pycache__ removed. PYTHONDONTWRITEBYTECODE=1 plays Lambda's read-only /var/task: a
module without a .pyc is compiled again at every cold start.

Usage: cold_start.py --emulator PATH --bootstrap PATH --function DIR --event FILE [--samples N]
"""

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path


def cold_starts(args, function_dir):
    done = subprocess.run(
        [args.emulator, "bench", "--bootstrap", args.bootstrap, "--handler", args.handler,
         "--task-root", str(function_dir), "--event", args.event, "--invocations", "1", "--warmup", "0",
         "--cold-starts", str(args.samples), "--env", "PYTHONDONTWRITEBYTECODE=1"],
        capture_output=True, text=True, check=True)
    return json.loads(done.stdout)["cold_start_ms"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--emulator", required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--function", required=True)
    parser.add_argument("--event", required=True)
    parser.add_argument("--handler", default="app:app")
    parser.add_argument("--samples", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        compiled = Path(scratch) / "compiled"
        shutil.copytree(args.function, compiled)
        source_only = Path(scratch) / "source-only"
        shutil.copytree(args.function, source_only, ignore=shutil.ignore_patterns("__pycache__"))
        with_pyc = cold_starts(args, compiled)
        without_pyc = cold_starts(args, source_only)
    print(f"cold start with .pyc:    median {statistics.median(with_pyc):6.1f} ms  {[round(x) for x in with_pyc]}")
    print(f"cold start without .pyc: median {statistics.median(without_pyc):6.1f} ms  {[round(x) for x in without_pyc]}")


if __name__ == "__main__":
    main()
