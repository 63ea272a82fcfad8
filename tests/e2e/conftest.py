"""End-to-end harness: the real `bootstrap`, started by the real emulator, as Lambda would.

Binaries come from LAMBDA_WSGI_BOOTSTRAP / LAMBDA_WSGI_EMULATOR (the Makefile sets them per
Python version); the Python that built bootstrap is LAMBDA_WSGI_PYTHON, and the virtualenv with
the examples' dependencies for that Python is LAMBDA_WSGI_APP_VENV (see app_venv). No sleeps:
every wait is for a line the emulator prints, bounded by a timeout.
"""

import functools
import json
import os
import queue
import re
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "tests" / "apps"
FIXTURES = ROOT / "runtime" / "tests" / "fixtures"
BOOTSTRAP = Path(os.environ.get("LAMBDA_WSGI_BOOTSTRAP", ROOT / "target" / "debug" / "bootstrap"))
EMULATOR = Path(os.environ.get("LAMBDA_WSGI_EMULATOR", ROOT / "target" / "debug" / "lambda-wsgi-emulator"))
READY_TIMEOUT = 30
# Who runs the pipeline behind LAMBDA_WSGI_BOOTSTRAP: `bootstrap` (the binary), `wrapper` (the pip
# package's exec wrapper: the managed runtime's Python runs the Rust loop) or `handler` (handler
# mode: awslambdaric calls lambda_wsgi.handler). A test for some hosts only is marked
# `@pytest.mark.hosts(...)` and deselected under the others, where it shows as deselected.
HOST = os.environ.get("LAMBDA_WSGI_HOST", "bootstrap")


@functools.cache
def build_python():
    """[version, LIBDIR] of the Python that built bootstrap (LAMBDA_WSGI_PYTHON)."""
    python = os.environ.get("LAMBDA_WSGI_PYTHON", "python3")
    script = "import json, sys, sysconfig; print(json.dumps([list(sys.version_info[:3]), sysconfig.get_config_var('LIBDIR')]))"
    version, libdir = json.loads(subprocess.check_output([python, "-c", script]))
    return version, libdir


def venv_python_version(venv):
    """(major, minor) from pyvenv.cfg, or None when it is not a virtualenv."""
    try:
        text = (venv / "pyvenv.cfg").read_text()
    except OSError:
        return None
    match = re.search(r"^\s*version(?:_info)?\s*=\s*(\d+)\.(\d+)", text, re.MULTILINE)
    return (int(match[1]), int(match[2])) if match else None


def app_venv(*packages):
    """The virtualenv holding the examples' dependencies (requirements-apps.txt) for the
    bootstrap's Python, passed to the runtime as VIRTUAL_ENV.

    A bootstrap can import only packages installed for its own Python, so each Python has its own
    (`make test-python` and `make run` create .venv-3.X with that Python): LAMBDA_WSGI_APP_VENV,
    else .venv-<the bootstrap's Python>. A missing or mismatched one fails the test with what to
    run; it never skips (a skip here once hid 70 tests on three Pythons)."""
    built = tuple(build_python()[0][:2])
    name = f".venv-{built[0]}.{built[1]}"
    venv = Path(os.environ.get("LAMBDA_WSGI_APP_VENV") or ROOT / name).absolute()
    version = venv_python_version(venv)
    if version is None:
        pytest.fail(f"{venv} is not a virtualenv: run `make {name}/.installed` (or set LAMBDA_WSGI_APP_VENV)")
    if version != built:
        pytest.fail(f"{venv} is Python {version[0]}.{version[1]} but this bootstrap is Python {built[0]}.{built[1]}: "
                    f"its packages cannot be imported; point LAMBDA_WSGI_APP_VENV at {name}")
    missing = [p for p in packages if not list(venv.glob(f"lib/python*/site-packages/{p}/__init__.py"))]
    if missing:
        pytest.fail(f"{venv} lacks {', '.join(missing)}: run `make {name}/.installed` "
                    "(requirements-apps.txt)")
    return venv


class Emulator:
    """`lambda-wsgi-emulator serve` running `bootstrap` with one app."""

    def __init__(self, handler, *, event_format="http-v2", timeout=30, env=None, tmp_path=None, task_root=APPS,
                 bootstrap=BOOTSTRAP, runtime_args=(), serve_args=()):
        self.handler = handler
        args = [
            str(EMULATOR), "serve",
            "--bootstrap", str(bootstrap),
            "--handler", handler,
            "--task-root", str(task_root),
            "--port", "0",
            "--runtime-api-port", "0",
            "--event-format", event_format,
            "--timeout", str(timeout),
        ]
        for key, value in (env or {}).items():
            args += ["--env", f"{key}={value}"]
        for arg in runtime_args:
            args += ["--arg", str(arg)]
        args += list(serve_args)
        self.log_path = Path(tmp_path or "/tmp") / f"emulator-{handler.replace(':', '_')}-{event_format}.log"
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL)
        self.lines = queue.Queue()
        self.seen = []  # every stdout line so far, in order
        self.api_port = self.front_port = None
        threading.Thread(target=self._read_stdout, daemon=True).start()
        self.wait_for("runtime ready")

    def _read_stdout(self):
        for raw in self.process.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            if "runtime API on 127.0.0.1:" in line:
                self.api_port = int(line.rsplit(":", 1)[1])
            if "serving http://127.0.0.1:" in line:
                self.front_port = int(line.split("serving http://127.0.0.1:", 1)[1].split()[0].rstrip("/"))
            self.seen.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, text, timeout=READY_TIMEOUT):
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"emulator did not print {text!r} within {timeout}s; log:\n{self.logs()}")
            if line is None:
                raise AssertionError(f"emulator exited before printing {text!r}; log:\n{self.logs()}")
            if text in line:
                return line

    def logs(self):
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def invoke(self, event):
        """Direct invoke: returns (function_error, parsed JSON payload)."""
        data = event if isinstance(event, bytes) else json.dumps(event).encode()
        url = f"http://127.0.0.1:{self.api_port}/2015-03-31/functions/function/invocations"
        request = urllib.request.Request(url, data=data, method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.headers.get("X-Amz-Function-Error"), json.loads(response.read())

    def request(self, method, path, *, headers=None, body=None):
        """A real HTTP request to the front door: returns (status, headers as list, body bytes)."""
        url = f"http://127.0.0.1:{self.front_port}{path}"
        request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(request, timeout=60) as response:
                return response.status, response.headers.items(), response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers.items(), error.read()

    def stop(self):
        if self.log.closed:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def interpreter_info(emulator):
    """GET / from tests/apps/interpreter_info.py through `emulator`, which is then stopped: what the
    runtime's interpreter says about itself (version, libpython, sys.path, machine, ...)."""
    try:
        status, _, body = emulator.request("GET", "/")
    finally:
        emulator.stop()
    assert status == 200, emulator.logs()
    return json.loads(body)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def pytest_configure(config):
    config.addinivalue_line("markers", "hosts(*names): run only under these LAMBDA_WSGI_HOST values")


def pytest_collection_modifyitems(config, items):
    kept, deselected = [], []
    for item in items:
        marker = item.get_closest_marker("hosts")
        (kept if marker is None or HOST in marker.args else deselected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under `make test` (LAMBDA_WSGI_NO_SKIP=1) a skip is a failure: the Makefile installs
    everything these tests need, so a skip there can only hide a test that did not run. A test
    that must not run somewhere is deselected by the Makefile (as test_layer.py is from
    test-python, which `make test-layer` runs), where it is visible."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and os.environ.get("LAMBDA_WSGI_NO_SKIP") == "1":
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under make test (LAMBDA_WSGI_NO_SKIP=1), where nothing may skip: {reason}"


@pytest.fixture(scope="session")
def start_emulator(tmp_path_factory):
    started = []

    def start(handler, **kwargs):
        emulator = Emulator(handler, tmp_path=tmp_path_factory.mktemp("emulator"), **kwargs)
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server for the session (pg_server.py): Debian's binaries on a temporary
    directory and a free port, stopped at the end. make test-python installs the package."""
    from pg_server import PostgresServer, find_bindir

    bindir = find_bindir()
    if bindir is None:
        pytest.fail("no /usr/lib/postgresql/*/bin/initdb: `make install-postgresql` (apt-get install postgresql)")
    server = PostgresServer(bindir)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def echo(start_emulator):
    return start_emulator("echo:app")


@pytest.fixture(scope="session")
def misbehaving(start_emulator):
    return start_emulator("misbehaving:app")


def run_invoke(handler, event, *, env=None, task_root=APPS, extra_args=()):
    """`lambda-wsgi-emulator invoke`: returns (exit code, stdout, stderr)."""
    args = [str(EMULATOR), "invoke", "--bootstrap", str(BOOTSTRAP), "--handler", handler,
            "--task-root", str(task_root), "--timeout", "30", *extra_args, "-"]
    for key, value in (env or {}).items():
        args[2:2] = ["--env", f"{key}={value}"]
    done = subprocess.run(args, input=json.dumps(event).encode(), capture_output=True, timeout=120)
    return done.returncode, done.stdout.decode(), done.stderr.decode()
