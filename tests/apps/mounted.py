"""Apps and middleware for the mount table's end-to-end tests (test_mounts.py).

`where` says which app answered and what it was handed (SCRIPT_NAME, PATH_INFO); `tagged` is a
middleware factory that counts its own calls, so a test can see it ran once per mount at init,
not per request; `imports` records the order the apps were imported in, `calls` each app's requests so far (in
this process).
"""

import json

IMPORTS = []
FACTORY_CALLS = []


def _where(name):
    IMPORTS.append(name)
    calls = []

    def app(environ, start_response):
        calls.append(environ["PATH_INFO"])
        if environ["PATH_INFO"] == "/raise":
            raise RuntimeError(f"{name} raised on purpose")
        body = json.dumps({
            "app": name,
            "SCRIPT_NAME": environ["SCRIPT_NAME"],
            "PATH_INFO": environ["PATH_INFO"],
            "imports": IMPORTS,
            "calls": calls,
            "tags": environ.get("mounted.tags", []),
        }).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    return app


_APPS = {}


def __getattr__(name):
    # The apps are looked up, not defined: IMPORTS is the order the runtime asked for them in,
    # the mount table's, not this file's.
    if name not in ("site", "api", "v2"):
        raise AttributeError(f"module 'mounted' has no attribute {name!r}")
    if name not in _APPS:
        _APPS[name] = _where(name)
    return _APPS[name]


def tagged(label):
    def factory(app):
        FACTORY_CALLS.append(label)

        def wrapped(environ, start_response):
            environ["mounted.tags"] = environ.get("mounted.tags", []) + [f"{label}#{len(FACTORY_CALLS)}"]
            return app(environ, start_response)

        return wrapped

    return factory


inner = tagged("inner")
outer = tagged("outer")


def raising_factory(app):
    raise ValueError("this middleware refuses the app")


def returns_none(app):
    return None
