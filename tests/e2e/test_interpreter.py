"""The binary runs the Python it was built against (rpath), with the managed runtime's sys.path."""

import json
from pathlib import Path

from conftest import APPS, build_python, run_invoke

EVENT = {
    "version": "2.0", "rawPath": "/", "rawQueryString": "", "headers": {},
    "requestContext": {"http": {"method": "GET", "path": "/", "sourceIp": "1.2.3.4"}, "stage": "$default"},
}


def test_runs_the_build_python_and_its_libpython():
    code, stdout, stderr = run_invoke("interpreter_info:app", EVENT)
    assert code == 0, stderr
    seen = json.loads(json.loads(stdout)["body"])
    version, libdir = build_python()
    assert seen["version"] == version
    assert Path(seen["libpython"]).parent == Path(libdir)


def test_task_root_comes_first_on_sys_path():
    code, stdout, stderr = run_invoke("interpreter_info:app", EVENT)
    assert code == 0, stderr
    seen = json.loads(json.loads(stdout)["body"])
    assert seen["sys_path"][0] == str(APPS)
