# The rarely needed half of the runtime's Python helpers (see the end of support.py): compiled
# into support.py's module on first use (`_later()`), so these functions share its globals
# (`sys`, `os`, `_request_id`, ...). No docstring here: it would replace support.py's.


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


def format_exception(exc, tb):
    """The traceback of `exc` as a list of lines (`tb` is passed because the runtime holds it
    apart from the exception object)."""
    import traceback

    return "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__)).splitlines()


def _fill_snapshot_stand_in(module):
    """The stand-in snapshot_restore_py's contents (_SnapshotHooksStandIn in support.py)."""
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
