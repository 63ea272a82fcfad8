"""Python-side helpers of the lambda-wsgi runtime, loaded once at init.

Only what must be Python lives here: sys.path handling that honours .pth files, the lazily
parsed event mapping, and traceback formatting. Everything per request is driven from wsgi.rs.

Loading this module imports nothing the interpreter has not already imported at its start: every
cold start pays for what is imported here, and an app that needs none of json, logging, re,
enum, typing or traceback (which cost ~60% of a trivial app's init, callgrind, bench/RESULTS.md)
must not pay for them. Each is imported where it is used.
"""

import _signal  # the C module: `signal` imports enum (and with it functools, collections, ...)
import os
import sys
from _collections_abc import Mapping  # what collections.abc re-exports, without importing collections

# Importing `signal` (here `_signal`, which does it) installed Python's SIGINT handler, which
# raises KeyboardInterrupt at the next bytecode: CPython does that on the module's first import
# even when embedded without signal handlers. SIGINT is the runtime's business (bootstrap shuts
# down on it as on SIGTERM), and a Ctrl-C on `make run` reaches the runtime too (one process
# group): the Python handler then raised inside the atexit handlers that shutdown runs. The
# default action is restored before the runtime installs its own handler, which would otherwise
# call Python's as well.
if _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:
    _signal.signal(_signal.SIGINT, _signal.SIG_DFL)

_TRACE_ID_KEY = os.environ.encodekey("_X_AMZN_TRACE_ID")


_request_id = ""


def begin_invocation(request_id, trace_id):
    """Per invocation: the request id for log records, and os.environ["_X_AMZN_TRACE_ID"] for
    X-Ray SDKs, set without C setenv(): glibc never frees a replaced value, so a new trace id
    per invocation leaked about 140 bytes each time (11 MB over 80,000 invocations in the soak).
    Python code (os.environ, os.getenv) sees it; a subprocess the app starts does not inherit it.
    An invocation without a trace id has none: the previous invocation's must not show through."""
    global _request_id
    _request_id = request_id
    if trace_id is not None:
        os.environ._data[_TRACE_ID_KEY] = os.environ.encodevalue(trace_id)
    else:
        os.environ._data.pop(_TRACE_ID_KEY, None)


class _AfterImport:
    """A meta path finder that finds nothing itself: when `name` is imported for the first time,
    whoever imports it, `then()` runs as soon as the module has executed, before the importer
    gets it back."""

    def __init__(self, name, then):
        self.name = name
        self.then = then

    def find_spec(self, name, path=None, target=None):
        if name != self.name:
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            find_spec = getattr(finder, "find_spec", None)
            spec = find_spec(name, path, target) if find_spec else None
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _ThenRun(spec.loader, self._done)
        return spec

    def _done(self):
        # The import is over (this finder is not being iterated any more): out of the way of
        # every later import, then the work.
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        self.then()


class _ThenRun:
    """The module's own loader, and `then()` after it executed the module."""

    def __init__(self, loader, then):
        self.loader = loader
        self.then = then

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        # The module keeps its own loader (inspect, linecache and pkgutil ask it for the source).
        module.__loader__ = module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        self.then()


def setup_logging(log_format, log_level):
    """The root logger as the managed Python runtime sets it up: records go to stdout as JSON
    lines (AWS_LAMBDA_LOG_FORMAT=JSON) or as `[LEVEL]\ttimestamp\trequestId\tmessage` lines,
    at AWS_LAMBDA_LOG_LEVEL if set. Done when `logging` is first imported (by the app, a library
    or the runtime itself), before the importer gets the module: an app that calls
    logging.basicConfig() at import keeps these, as on the managed runtime, and an app that never
    logs does not pay for importing logging (with re, enum, string and traceback) at init."""
    if "logging" in sys.modules:
        _configure_logging(log_format, log_level)
    else:
        sys.meta_path.insert(0, _AfterImport("logging", lambda: _configure_logging(log_format, log_level)))


def _configure_logging(log_format, log_level):
    import logging
    import time

    class _RequestId(logging.Filter):
        def filter(self, record):
            record.aws_request_id = _request_id
            return True

    logging.Formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stdout)
    if log_format == "json":
        handler.setFormatter(_json_log_formatter(logging)())
    else:
        handler.setFormatter(logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s", "%Y-%m-%dT%H:%M:%S"))
    handler.addFilter(_RequestId())
    root = logging.getLogger()
    root.addHandler(handler)
    if isinstance(logging.getLevelName(log_level or ""), int):
        root.setLevel(log_level)


def _json_log_formatter(logging):
    """The JSON formatter class (made once logging is imported)."""
    import json
    import traceback

    # LogRecord attributes that are not extra fields of the JSON line.
    record_fields = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"aws_request_id", "message"}

    class JsonLogFormatter(logging.Formatter):
        """One JSON object per record, with the managed Python runtime's fields: timestamp, level,
        message (a dict logged with no arguments stays an object), logger, requestId, and for
        exceptions errorType, errorMessage, stackTrace and location; `extra` fields are kept."""

        def __init__(self):
            super().__init__(datefmt="%Y-%m-%dT%H:%M:%SZ")

        def format(self, record):
            level = min(50, max(0, record.levelno)) // 10 * 10
            exc_info = record.exc_info
            line = {
                "timestamp": self.formatTime(record, self.datefmt),
                "level": logging.getLevelName(level),
                "message": record.msg if isinstance(record.msg, dict) and not record.args else record.getMessage(),
                "logger": record.name,
                "requestId": getattr(record, "aws_request_id", None) or None,
            }
            if exc_info and exc_info[0] is not None:
                line["errorType"] = exc_info[0].__name__
                line["errorMessage"] = str(exc_info[1])
                line["stackTrace"] = traceback.format_tb(exc_info[2])
                line["location"] = f"{record.pathname}:{record.funcName}:{record.lineno}"
            for key, value in vars(record).items():
                if key not in record_fields and key not in line:
                    line[key] = value
            return json.dumps({k: v for k, v in line.items() if v is not None}, ensure_ascii=False, default=str)

    return JsonLogFormatter


def apply_environment(pairs):
    """Remote configuration (SSM, Secrets Manager) into os.environ before the app is imported.
    The function's own variables win: one function can override a shared value without
    touching the store. Names are logged, values never."""
    import logging

    kept = []
    for name, value in pairs:
        if name in os.environ:
            kept.append(name)
        else:
            os.environ[name] = value
    if kept:
        logging.getLogger("lambda_wsgi").warning(
            "remote configuration: kept the function's own value of %s", ", ".join(sorted(kept)))


def call_event_handler(handler, raw_event, context):
    """WSGI_EVENT_HANDLER: called as the managed runtime calls a handler, with the parsed event
    and the context object; its return value goes back to Lambda as JSON."""
    import json

    return json.dumps(handler(json.loads(raw_event), context))


def run_manage(app, args):
    """A Django management command or a Flask CLI command, by the app's framework; returns
    {"exitCode", "output"} with stdout and stderr together, as a terminal would show them."""
    import contextlib
    import io
    import json
    import traceback

    output = io.StringIO()
    code = 0
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        try:
            code = _manage(app, list(args))
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
            if isinstance(stop.code, str):
                print(stop.code)
        except Exception as error:  # a failed command is an answer, not a crash
            click = sys.modules.get("click")
            if click is not None and isinstance(error, click.ClickException):
                error.show()
                code = error.exit_code
            else:
                traceback.print_exc()
                code = 1
    return json.dumps({"exitCode": code, "output": output.getvalue()})


def _manage(app, args):
    """Runs the command; returns its exit code (a SystemExit may also carry it)."""
    flask = sys.modules.get("flask")
    if flask is not None and isinstance(app, flask.Flask):
        from flask.cli import FlaskGroup
        # FlaskGroup marks the process as run from the CLI; the web app keeps serving after.
        before = os.environ.get("FLASK_RUN_FROM_CLI")
        try:
            # Without standalone mode, click returns ctx.exit()'s code instead of raising.
            result = FlaskGroup(create_app=lambda: app, load_dotenv=False).main(
                args=args, prog_name="flask", standalone_mode=False)
        finally:
            if before is None:
                os.environ.pop("FLASK_RUN_FROM_CLI", None)
            else:
                os.environ["FLASK_RUN_FROM_CLI"] = before
        return result if isinstance(result, int) else 0
    if "django" in sys.modules:
        from django.core.management import ManagementUtility
        ManagementUtility(["manage.py", *args]).execute()
        return 0
    raise RuntimeError(f"{type(app).__name__} is neither a Flask nor a Django application: no commands to run")


def setup_sys_path(front, site_dirs):
    """Order sys.path as the managed Python runtime does: the task root first, then each site
    directory (with its .pth files, so namespace packages and editable installs work), then
    whatever the interpreter had (PYTHONPATH, the standard library)."""
    import site

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
            import json

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


def install_deadline_handler(handler, signum):
    """Installs the deadline guard's handler (a Rust function that raises DeadlineExceeded only
    for the invocation that was signalled); called on the thread that runs the app, which is the
    main thread in every worker."""
    _signal.signal(signum, handler)


def install_snapshot_hooks_module():
    """SnapStart's runtime hooks API: the managed runtime ships `snapshot_restore_py` (PyPI
    snapshot-restore-py). Where it is not importable (a local run, or a path the embedded
    interpreter does not see), a stand-in with the same functions takes its place, so an app
    that registers hooks imports everywhere. Called after sys.path is set up and before the app
    is imported. Nothing is imported now (the real module imports typing): a finder placed last
    on sys.meta_path supplies the stand-in when an import of the name finds nothing else."""
    sys.meta_path.append(_SnapshotHooksStandIn())


class _SnapshotHooksStandIn:
    """The stand-in `snapshot_restore_py`, for the import that no other finder could satisfy."""

    NAME = "snapshot_restore_py"

    def find_spec(self, name, path=None, target=None):
        if name != self.NAME:
            return None
        from importlib.machinery import ModuleSpec

        return ModuleSpec(name, self)

    def create_module(self, spec):
        return None  # the default module object

    def exec_module(self, module):
        module.__doc__ = "SnapStart runtime hooks (lambda-wsgi's stand-in)."
        before, after = [], []

        def register_before_snapshot(func, *args, **kwargs):
            before.append((func, args, kwargs))
            return func

        def register_after_restore(func, *args, **kwargs):
            after.append((func, args, kwargs))
            return func

        module.register_before_snapshot = register_before_snapshot
        module.register_after_restore = register_after_restore
        module.get_before_snapshot = lambda: before
        module.get_after_restore = lambda: after
        module.__all__ = ["register_before_snapshot", "register_after_restore"]


def run_before_snapshot():
    """SnapStart: the before-snapshot hooks, last registered first (as the managed runtime)."""
    from snapshot_restore_py import get_before_snapshot

    hooks = get_before_snapshot()
    while hooks:
        func, args, kwargs = hooks.pop()
        func(*args, **kwargs)


def run_after_restore():
    """SnapStart, after the restore: every restored copy of the snapshot starts with the same
    random state, so `random` is seeded anew from the kernel first; then the after-restore hooks
    in the order they were registered."""
    import random

    random.seed()
    from snapshot_restore_py import get_after_restore

    for func, args, kwargs in get_after_restore():
        func(*args, **kwargs)


def fork_worker():
    """Managed Instances: a worker process that shares the imported app copy-on-write. The
    collector is frozen first (in the parent, once per fork: cheap when nothing is new) so that
    collections in the workers do not write to, and so copy, every page of the shared heap."""
    import gc

    gc.freeze()
    return os.fork()


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
    import traceback

    return "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__)).splitlines()
