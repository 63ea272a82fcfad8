"""An app for the Managed Instances tests: requests that prove they ran at the same time.

`/meet?dir=D&n=N&token=T` leaves a file in D and waits (at most 20 s) until N files are there: N
requests can all finish only if N of them are in flight at once. `/die` kills the worker that
serves it, mid-request. Every answer names the worker (pid) and the invocation (request id) and
echoes the token, so a test can see that each answer went to its own request. The request is
logged too, with the token, so a test can check the log line's request id.
"""

import json
import logging
import os
import signal
import time
from urllib.parse import parse_qs

log = logging.getLogger("concurrent_app")


def app(environ, start_response):
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    path = environ["PATH_INFO"]
    token = query.get("token", "")
    log.warning("handling token %s", token)
    if path == "/die":
        os.kill(os.getpid(), signal.SIGKILL)
    met = None
    if path == "/meet":
        directory, count = query["dir"], int(query["n"])
        open(os.path.join(directory, token), "w").close()
        until = time.monotonic() + 20
        while len(os.listdir(directory)) < count and time.monotonic() < until:
            time.sleep(0.01)
        met = len(os.listdir(directory)) >= count
    body = {
        "pid": os.getpid(),
        "parent": os.getppid(),
        "request_id": environ["lambda.context"].aws_request_id,
        "token": token,
        "met": met,
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]
