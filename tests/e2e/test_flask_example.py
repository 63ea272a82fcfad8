"""examples/flask through the emulator, as `make run` serves it."""

import json
import sys

import pytest

from conftest import ROOT
from test_interpreter import build_python

VENV = ROOT / ".venv"


@pytest.fixture(scope="module", params=["app:app", "validated_flask:app"], ids=["as-deployed", "under-wsgiref-validate"])
def flask_app(request, start_emulator):
    # The example's dependencies live in .venv, built for one Python; another Python's
    # bootstrap cannot import them.
    if build_python()[0][:2] != list(sys.version_info[:2]):
        pytest.skip(f".venv is Python {sys.version_info[0]}.{sys.version_info[1]}; this bootstrap is another Python")
    if request.param == "app:app":
        return start_emulator("app:app", task_root=ROOT / "examples" / "flask", env={"VIRTUAL_ENV": str(VENV)})
    return start_emulator("validated_flask:app", env={"VIRTUAL_ENV": str(VENV)})


def test_json_route_with_a_non_ascii_path(flask_app):
    status, _, body = flask_app.request("GET", "/hello/w%C3%B6rld")
    assert status == 200
    assert json.loads(body) == {"message": "Hello, wörld!", "path": "/hello/wörld", "script_root": ""}


def test_repeated_query_keys(flask_app):
    status, _, body = flask_app.request("GET", "/echo?tag=a&tag=b")
    assert (status, json.loads(body)["args"]) == (200, {"tag": ["a", "b"]})


def test_form_post_redirects(flask_app):
    status, headers, _ = flask_app.request(
        "POST", "/form", headers={"Content-Type": "application/x-www-form-urlencoded"}, body=b"name=ann"
    )
    assert status == 303
    assert dict((k.lower(), v) for k, v in headers)["location"] == "/hello/ann"
