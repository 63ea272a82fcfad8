"""bench/callgrind_flask.py's app: bench/apps/flask_app.py, each call made through
`operator.call` so that callgrind can count the app call alone (`--toggle-collect=_operator_call`:
Flask never calls operator.call itself). The body is read and the iterable closed inside the
counted call, and handed back as a list, so every runtime does the same (cheap) work after it.

CG_ENVIRON_OUT=path: the first call writes the environ it was given (its str values, and the
names of the others) as JSON, so that the tight loop can call Flask with the very same environ.
"""

import json
import operator
import os

from flask_app import app as flask_app

_environ_out = os.environ.get("CG_ENVIRON_OUT")


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
    return operator.call(_call, environ, start_response)
