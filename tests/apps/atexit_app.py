"""An app with an atexit handler that adds a line to a marker file (path from ATEXIT_MARKER),
for the shutdown tests: SIGTERM must run it, once per process that served (one line each)."""

import atexit
import os


def _goodbye():
    with open(os.environ["ATEXIT_MARKER"], "a") as marker:
        marker.write(f"atexit ran in {os.getpid()}\n")


atexit.register(_goodbye)


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
