"""bench/studies/callgrind_flask.py's app: bench/apps/flask_app.py, each call made through
`operator.call` so that callgrind can count the app call alone (`--toggle-collect=_operator_call`:
Flask never calls operator.call itself). The body is read and the iterable closed inside the
counted call, and handed back as a list, so every runtime does the same (cheap) work after it.

CG_ENVIRON_OUT=path: the first call writes the environ it was given (its str values, and the
names of the others) as JSON, so that the tight loop can call Flask with the very same environ.
CG_TIMES_OUT=path: each call is also timed (wall clock, the counted call only), and every 100th
call rewrites `path` with the times so far in microseconds (bench/studies/flask_between_calls.py --inside).
"""

import json
import operator
import os
import time

from flask_app import app as flask_app

_environ_out = os.environ.get("CG_ENVIRON_OUT")
_times_out = os.environ.get("CG_TIMES_OUT")
_times = []


def _call(environ, start_response):
    result = flask_app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return [body]


def app(environ, start_response):
    global _environ_out
    if _environ_out:
        with open(_environ_out, "w") as out:
            json.dump({
                "str": {k: v for k, v in environ.items() if isinstance(v, str)},
                "other": sorted(k for k, v in environ.items() if not isinstance(v, str)),
            }, out, indent=1, sort_keys=True)
        _environ_out = None
    if not _times_out:
        return operator.call(_call, environ, start_response)
    before = time.perf_counter_ns()
    body = operator.call(_call, environ, start_response)
    _times.append((time.perf_counter_ns() - before) / 1e3)
    if len(_times) % 100 == 0:
        with open(_times_out, "w") as out:
            json.dump(_times, out)
    return body
