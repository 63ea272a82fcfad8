"""examples/flask wrapped in wsgiref.validate, so a real framework proves the environ and the
runtime's start_response/iteration/close are PEP 3333 exact (warnings are errors)."""

import sys
import warnings
from pathlib import Path
from wsgiref.validate import WSGIWarning, validator

warnings.simplefilter("error", WSGIWarning)
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "flask"))

from app import app as flask_app  # noqa: E402

_validated = validator(flask_app.wsgi_app)


def app(environ, start_response):
    # wsgiref.validate predates the wsgi.input_terminated extension and asserts that read()
    # always gets a size; without the flag Werkzeug reads with one. Everything else is as served.
    environ.pop("wsgi.input_terminated", None)
    return _validated(environ, start_response)
