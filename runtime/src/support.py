"""Python-side helpers of the lambda-wsgi runtime, loaded once at init.

Only what must be Python lives here: sys.path handling that honours .pth files, the lazily
parsed event mapping, and traceback formatting. Everything per request is driven from wsgi.rs.
"""

import json
import os
import signal
import site
import sys
import threading
import traceback
from collections.abc import Mapping

# The signal the deadline guard sends to the thread running the app (rarely used by apps;
# SIGALRM and SIGUSR1 are).
DEADLINE_SIGNAL = signal.SIGUSR2


_TRACE_ID_KEY = os.environ.encodekey("_X_AMZN_TRACE_ID")


def set_trace_id(value):
    """os.environ["_X_AMZN_TRACE_ID"] = value, for X-Ray SDKs, without C setenv(): glibc never
    frees a replaced value, so a new trace id per invocation leaked about 140 bytes each time
    (11 MB over 80,000 invocations in the soak). Python code (os.environ, os.getenv) sees it;
    a subprocess the app starts does not inherit it."""
    os.environ._data[_TRACE_ID_KEY] = os.environ.encodevalue(value)


def setup_sys_path(front, site_dirs):
    """Order sys.path as the managed Python runtime does: the task root first, then each site
    directory (with its .pth files, so namespace packages and editable installs work), then
    whatever the interpreter had (PYTHONPATH, the standard library)."""
    before = list(sys.path)
    for directory in site_dirs:
        site.addsitedir(directory)
    added = [p for p in sys.path if p not in before]
    ordered = [*front, *added]
    sys.path[:] = ordered + [p for p in before if p not in ordered]
    # Line-buffer stdout so print() lines reach CloudWatch when they happen, not at exit.
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)


class LambdaEvent(Mapping):
    """The raw Lambda event (environ["lambda.event"]), parsed from JSON on first use so that
    requests that never look at it do not pay for it."""

    __slots__ = ("_raw", "_data")

    def __init__(self, raw):
        self._raw = raw
        self._data = None

    def _load(self):
        if self._data is None:
            self._data = json.loads(self._raw)
        return self._data

    def __getitem__(self, key):
        return self._load()[key]

    def __iter__(self):
        return iter(self._load())

    def __len__(self):
        return len(self._load())

    def __repr__(self):
        return f"LambdaEvent({self._load()!r})"


class DeadlineExceeded(BaseException):
    """Raised inside the app when its Lambda deadline is near (WSGI_DEADLINE_MARGIN_MS). A
    BaseException, like KeyboardInterrupt, so the app's `except Exception` does not swallow it."""


def _on_deadline(signum, frame):
    raise DeadlineExceeded("the Lambda invocation deadline is near")


def install_deadline_handler():
    """Installs the handler; called once at init on the main thread, which runs the app.
    Returns that thread's id for interrupt()."""
    signal.signal(DEADLINE_SIGNAL, _on_deadline)
    return threading.main_thread().ident


def interrupt(thread_id):
    """Delivers the deadline signal to the app's thread: a blocking call there (sleep, socket
    read) returns EINTR and the handler raises DeadlineExceeded at the next bytecode."""
    signal.pthread_kill(thread_id, DEADLINE_SIGNAL)


def shutdown():
    """SIGTERM (Lambda's shutdown phase): run the app's atexit handlers, which an embedded
    interpreter that is never finalized would otherwise skip, and flush what it printed."""
    import atexit

    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()


def format_exception(exc, tb):
    """The traceback of `exc` as a list of lines (`tb` is passed because the runtime holds it
    apart from the exception object)."""
    return "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__)).splitlines()
