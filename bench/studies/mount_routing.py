"""The mount table's routing cost against werkzeug's DispatcherMiddleware doing the same.

Ours: criterion's `mounts` group (runtime/benches/pipeline.rs): the environ of one request
built under a four-mount table minus the same environ built for one app; the difference is the
routing and the prefix's move to SCRIPT_NAME. Theirs: DispatcherMiddleware over the same table
(`/api`, `/api/v2`, `/shop`, and the root app), called with the same request's environ, minus
the root app called directly: its dispatch loop and the SCRIPT_NAME/PATH_INFO rewrite, in
Python. Both are medians of repeated runs on this machine in one sitting.

    .venv-3.11/bin/python bench/studies/mount_routing.py   (werkzeug from requirements-apps.txt)

Writes bench/results/mount-routing.json and prints the ratio.
"""

import json
import os
import statistics
import subprocess
import sys
import timeit
from datetime import date
from pathlib import Path

from werkzeug.middleware.dispatcher import DispatcherMiddleware

ROOT = Path(__file__).resolve().parents[2]
TARGET = ROOT / "target" / f"py{sys.version_info.major}.{sys.version_info.minor}"


def app(environ, start_response):
    return environ


def start_response(status, headers):
    pass


def environ():
    return {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/api/v2/users/7", "QUERY_STRING": "",
        "SERVER_NAME": "example.com", "SERVER_PORT": "443", "wsgi.url_scheme": "https",
    }


def python_cost(rounds=15, number=200_000):
    dispatcher = DispatcherMiddleware(app, {"/api": app, "/api/v2": app, "/shop": app})
    routed = dispatcher(environ(), start_response)
    assert (routed["SCRIPT_NAME"], routed["PATH_INFO"]) == ("/api/v2", "/users/7"), routed
    # Each call gets a fresh environ, as a server would make; its making is in both timings.
    direct = timeit.repeat(lambda: app(environ(), start_response), repeat=rounds, number=number)
    through = timeit.repeat(lambda: dispatcher(environ(), start_response), repeat=rounds, number=number)
    return (statistics.median(through) - statistics.median(direct)) / number * 1e9


def rust_cost():
    subprocess.run(
        ["cargo", "bench", "-q", "-p", "lambda-wsgi", "--bench", "pipeline", "--", "^mounts/"],
        cwd=ROOT, check=True, env={**os.environ, "PYO3_PYTHON": sys.executable, "CARGO_TARGET_DIR": str(TARGET)},
    )

    def median_ns(name):
        estimates = json.loads((TARGET / "criterion" / "mounts" / name / "new" / "estimates.json").read_text())
        return estimates["median"]["point_estimate"]

    return {name: median_ns(name) for name in ("environ-one-app", "environ-four-mounts", "route-alone")}


def main():
    rust = rust_cost()
    # The environ's difference is within criterion's noise (the moved prefix shortens PATH_INFO
    # as much as the routing adds): the route alone, measured by itself, is the floor taken.
    ours = max(rust["environ-four-mounts"] - rust["environ-one-app"], rust["route-alone"])
    theirs = python_cost()
    result = {
        "date": date.today().isoformat(),
        "python": sys.version.split()[0],
        "ours_ns": {**rust, "environ difference": rust["environ-four-mounts"] - rust["environ-one-app"],
                    "taken": ours},
        "dispatcher_middleware_ns": theirs,
        "ratio_dispatcher_over_ours": theirs / ours,
    }
    out = ROOT / "bench" / "results" / "mount-routing.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
