"""An app with an atexit handler that leaves a marker file (path from ATEXIT_MARKER), for the
shutdown test: SIGTERM must run it."""

import atexit
import os


def _goodbye():
    with open(os.environ["ATEXIT_MARKER"], "w") as marker:
        marker.write("atexit ran")


atexit.register(_goodbye)


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
