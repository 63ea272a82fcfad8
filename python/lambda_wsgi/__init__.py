"""lambda-wsgi: a WSGI application (Flask, Django, any PEP 3333 app) on AWS Lambda, served by a
runtime written in Rust.

Two ways to run it:

- Exec wrapper, the fast path: ``AWS_LAMBDA_EXEC_WRAPPER`` points at this package's
  ``exec-wrapper`` and ``WSGI_APP=module:attr`` names the app. The runtime's own invocation loop
  (``python -m lambda_wsgi``) serves it.
- Handler: ``Handler: lambda_wsgi.handler`` with ``WSGI_APP=module:attr``, or
  ``handler = lambda_wsgi.make_handler(app)`` in your own module.
"""

from lambda_wsgi._native import Handler, __version__

# Not `handler`: looking it up imports WSGI_APP (below), which `from lambda_wsgi import *` or a
# tool walking __all__ must not do.
__all__ = ["Handler", "make_handler", "__version__"]


def make_handler(app):
    """A Lambda handler, ``handler(event, context)``, serving the WSGI application ``app`` for
    every HTTP event source; settings (``WSGI_BASE_PATH``, ``WSGI_EVENT_HANDLER``, ...) come from
    the environment, as in every other mode."""
    return Handler(app)


_default = None


def __getattr__(name):
    """``lambda_wsgi.handler``: made when the managed runtime looks it up at init, so that the app
    is imported then (before a SnapStart snapshot or a Managed Instances fork), and a missing or
    broken ``WSGI_APP`` is an init error, not a failure of the first request."""
    global _default
    if name == "handler":
        if _default is None:
            _default = Handler()
        return _default
    raise AttributeError(f"module 'lambda_wsgi' has no attribute {name!r}")
