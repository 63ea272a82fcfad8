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

    def __getattr__(self, name):
        # Everything else a loader offers (get_data, get_source, get_resource_reader, ...), for a
        # caller that got this spec from importlib.util.find_spec("logging") before the import.
        return getattr(self.loader, name)


def setup_logging(log_format, log_level):
    """The root logger as the managed Python runtime sets it up: records go to stdout as JSON
    lines (AWS_LAMBDA_LOG_FORMAT=JSON) or as `[LEVEL]\ttimestamp\trequestId\tmessage` lines,
    at AWS_LAMBDA_LOG_LEVEL if set. Done when `logging` is first imported (by the app, a library
    or the runtime itself), before the importer gets the module: an app that calls
    logging.basicConfig() at import keeps these, as on the managed runtime, and an app that never
    logs does not pay for importing logging (with re, enum, string and traceback) at init."""
    global _logging_settings
    _logging_settings = (log_format, log_level)
    if "logging" in sys.modules:
        _configure_logging_once()
    else:
        sys.meta_path.insert(0, _AfterImport("logging", _configure_logging_once))


_logging_settings = None
_logging_configured = False


def _configure_logging_once():
    global _logging_configured
    if _logging_settings is not None and not _logging_configured:
        _logging_configured = True
        _later()["_configure_logging"](*_logging_settings)


def after_app_import():
    """Called once the app is imported: if logging was imported without the finder seeing it (an
    import hook of the app's placed before it, that loads logging itself), it is set up now, as
    it was before the import of logging became lazy."""
    if "logging" in sys.modules:
        _configure_logging_once()
        sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, _AfterImport)]


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


def shutdown():
    """SIGTERM (Lambda's shutdown phase): run the app's atexit handlers, which an embedded
    interpreter that is never finalized would otherwise skip, and flush what it printed."""
    import atexit

    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()


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
        _later()
        _fill_snapshot_stand_in(module)


# What is needed only sometimes (logging once it is imported, error tracebacks, remote
# configuration, direct invocations, SnapStart, Managed Instances, shutdown) lives in
# support_later.py, whose source the runtime sets here as _LATER_SOURCE: compiled into this
# module on first use, not at every cold start (compiling support.py whole was 31% of a trivial
# app's init, callgrind).
_LATER_SOURCE = None
# ... and its bytecode, when the build's Python compiled it for this interpreter (build.rs).
_LATER_BYTECODE = None


def _later():
    """This module's globals, with support_later.py's functions compiled into them."""
    names = globals()
    if "_configure_logging" not in names:
        if _LATER_BYTECODE is not None:
            import marshal

            code = marshal.loads(_LATER_BYTECODE)
        else:
            code = compile(_LATER_SOURCE, "lambda_wsgi_support_later.py", "exec")
        exec(code, names)
    return names


def __getattr__(name):
    """PEP 562: the runtime asking for a function of support_later.py gets it, compiled."""
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        return _later()[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
