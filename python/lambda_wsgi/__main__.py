"""``python -m lambda_wsgi``: the runtime's own invocation loop, as the exec wrapper starts it
(the wrapper calls :func:`main` through ``-c``: ``-m`` would import runpy, importlib.util and
types before the app, at every cold start)."""

import os
import sys

from lambda_wsgi._native import serve


def main():
    """Serves until Lambda shuts the environment down, then ends the process."""
    status = serve()
    # As with `bootstrap`, the interpreter is not finalized: the app's atexit handlers ran at
    # Lambda's shutdown in the process that served (SIGTERM), and must not run again here, nor in
    # a Managed Instances supervisor, which imported the app but never served it.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    main()
