"""The peers' handlers, as their users write them, for `python -m awslambdaric`.

BENCH_WSGI_APP names the app (module:attribute). Each handler module imports only its own
adapter, so a cold start pays for what a user of that adapter pays for.
"""

import importlib
import os


def load_app():
    module, _, attr = os.environ.get("BENCH_WSGI_APP", "flask_app:app").partition(":")
    return getattr(importlib.import_module(module), attr)
