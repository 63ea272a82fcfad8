"""What the runtime's init imported before this app: the modules in sys.modules when this module
starts (GET /), logging set up by the runtime when the app first imports it at request time
(GET /log), and the SnapStart hooks module as an import finds it (GET /snapshot-hooks)."""

import sys

BEFORE_APP = sorted(sys.modules)
# Whether the runtime had compiled the rarely needed half of its helpers (support_later.py) yet.
LATER_HELPERS_BEFORE_APP = "_configure_logging" in vars(sys.modules["lambda_wsgi_support"])
# Whether the build's bytecode of them (build.rs) was for this interpreter, so that no cold start
# compiles them.
HELPERS_PRECOMPILED = isinstance(vars(sys.modules["lambda_wsgi_support"]).get("_LATER_BYTECODE"), bytes)


def app(environ, start_response):
    import json

    path = environ["PATH_INFO"]
    if path == "/log":
        import logging

        logging.getLogger("lean").warning("logged on the first import of logging")
        body = {"later_helpers": "_configure_logging" in vars(sys.modules["lambda_wsgi_support"])}
    elif path == "/snapshot-hooks":
        import snapshot_restore_py

        snapshot_restore_py.register_before_snapshot(print)
        body = {"doc": snapshot_restore_py.__doc__, "registered": len(snapshot_restore_py.get_before_snapshot())}
    else:
        body = {"before_app": BEFORE_APP, "later_helpers_before_app": LATER_HELPERS_BEFORE_APP,
                "helpers_precompiled": HELPERS_PRECOMPILED}
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]
