"""Init imports only what the app needs (issue 15, cold start): the runtime's own Python helpers
(support.py) import nothing beyond what the interpreter imported at its start, while logging is
still set up as the managed runtime sets it up, and the SnapStart hooks module is still there."""

import json
import os
import re
import subprocess

import pytest

from conftest import app_venv, build_python

# Each of these cost a trivial app's cold start milliseconds when support.py imported them at
# init (PYTHONPROFILEIMPORTTIME=1: json with re and enum 6.9 ms, logging with string, threading
# and traceback 10.4 ms, snapshot_restore_py with typing 2.4 ms); an app that needs one imports it.
NOT_BEFORE_THE_APP = {
    "json", "re", "enum", "functools", "collections", "logging", "string", "threading", "traceback",
    "typing", "signal", "snapshot_restore_py", "importlib.util", "types",
}
STAND_IN_DOC = "SnapStart runtime hooks (lambda-wsgi's stand-in)."
# The runtime's text format: [LEVEL]\ttimestamp\trequest id\tmessage.
TEXT_LINE = re.compile(r"^\[(?P<level>[A-Z]+)\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t(?P<request_id>[0-9a-f-]{36})\t")


def test_the_runtime_imports_nothing_before_the_app_that_the_app_did_not_ask_for(start_emulator):
    emulator = start_emulator("lean_init:app", env={"VIRTUAL_ENV": str(app_venv())})
    status, _, body = emulator.request("GET", "/")
    assert status == 200
    before_app = set(json.loads(body)["before_app"])
    assert "lambda_wsgi_support" in before_app  # the runtime's helpers did load
    assert before_app & NOT_BEFORE_THE_APP == set()


def test_the_helpers_come_precompiled_by_the_build(start_emulator):
    # Compiling support.py at each start was 7.4 M of a trivial app's 41 M instructions of init:
    # build.rs compiles it with the build's Python, the same interpreter as at run time here.
    emulator = start_emulator("lean_init:app", env={"VIRTUAL_ENV": str(app_venv())})
    status, _, body = emulator.request("GET", "/")
    assert status == 200 and json.loads(body)["helpers_precompiled"] is True


def test_the_rarely_needed_helpers_are_compiled_only_once_needed(start_emulator):
    # support_later.py (logging set-up, tracebacks, SnapStart, manage, shutdown): compiling it
    # with the rest was 8 M of a trivial app's 47 M instructions of init (callgrind).
    emulator = start_emulator("lean_init:app", env={"VIRTUAL_ENV": str(app_venv())})
    status, _, body = emulator.request("GET", "/")
    assert status == 200 and json.loads(body)["later_helpers_before_app"] is False
    status, _, body = emulator.request("GET", "/log")  # logging's first import needs them
    assert status == 200 and json.loads(body)["later_helpers"] is True


def test_logging_first_imported_at_request_time_writes_the_runtimes_lines(start_emulator):
    emulator = start_emulator("lean_init:app", env={"VIRTUAL_ENV": str(app_venv())})
    assert emulator.request("GET", "/log")[0] == 200
    [line] = [line for line in emulator.logs().splitlines() if "logged on the first import of logging" in line]
    match = TEXT_LINE.match(line)
    assert match, line
    assert match["level"] == "WARNING"
    assert line.endswith("\tlogged on the first import of logging")


def test_an_apps_basic_config_at_import_keeps_the_runtimes_handler(start_emulator):
    emulator = start_emulator("basic_config:app", env={"VIRTUAL_ENV": str(app_venv())})
    assert emulator.request("GET", "/")[0] == 200
    lines = [line for line in emulator.logs().splitlines() if "logged by an app that called basicConfig" in line]
    assert len(lines) == 1, lines  # one handler: the runtime's, not the app's as well
    assert TEXT_LINE.match(lines[0]), lines[0]
    assert "APP FORMAT" not in emulator.logs()


def test_logging_loaded_by_an_apps_own_import_hook_is_still_set_up(start_emulator):
    emulator = start_emulator("own_finder:app", env={"VIRTUAL_ENV": str(app_venv())})
    assert emulator.request("GET", "/")[0] == 200
    [line] = [line for line in emulator.logs().splitlines() if "logged through an app's own import hook" in line]
    assert TEXT_LINE.match(line), line


def test_json_logs_when_the_app_first_imports_logging_at_request_time(start_emulator):
    emulator = start_emulator("lean_init:app", env={"VIRTUAL_ENV": str(app_venv()), "AWS_LAMBDA_LOG_FORMAT": "JSON"})
    assert emulator.request("GET", "/log")[0] == 200
    [record] = [json.loads(line) for line in emulator.logs().splitlines()
                if line.startswith("{") and "logged on the first import of logging" in line]
    assert record["level"] == "WARNING" and record["logger"] == "lean"
    assert len(record["requestId"]) == 36 and record["timestamp"].endswith("Z")


def test_snapshot_hooks_come_from_the_real_module_where_it_is_installed(start_emulator):
    # The app venv has snapshot-restore-py (requirements-apps.txt), as the managed runtime does.
    emulator = start_emulator("lean_init:app", env={"VIRTUAL_ENV": str(app_venv())})
    status, _, body = emulator.request("GET", "/snapshot-hooks")
    assert status == 200
    seen = json.loads(body)
    assert seen["doc"] != STAND_IN_DOC and seen["registered"] == 1


# The exec wrapper's interpreter is the app venv's own, which has snapshot-restore-py: an empty
# VIRTUAL_ENV cannot take it away there.
@pytest.mark.hosts("bootstrap")
def test_snapshot_hooks_come_from_the_stand_in_where_nothing_else_has_them(start_emulator, tmp_path):
    venv = tmp_path / "empty-venv"
    build_python()  # fails the test with the reason when LAMBDA_WSGI_PYTHON is not usable
    python = os.environ.get("LAMBDA_WSGI_PYTHON", "python3")
    subprocess.run([python, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    emulator = start_emulator("lean_init:app", env={"VIRTUAL_ENV": str(venv)})
    status, _, body = emulator.request("GET", "/snapshot-hooks")
    assert status == 200
    seen = json.loads(body)
    assert seen == {"doc": STAND_IN_DOC, "registered": 1}

