"""Handler mode (`Handler: lambda_wsgi.handler`): the managed runtime's own client, awslambdaric,
runs the loop against the emulator's Runtime API and calls the pip package's handler with the
event it decoded. Every golden fixture is held to the bootstrap's expected outputs by
test_fixtures.py under the same host; here, what is particular to the mode: its init errors, its
invocation errors, and that the environment keeps serving after each.

The launcher (`make test-wheel` writes it) starts `python -m awslambdaric lambda_wsgi.handler`
with WSGI_APP set from the emulator's --handler when it is a `module:attr`; a dotted handler
(`made_handler.handler`, `lambda_wsgi.handler` alone) is passed to awslambdaric as it is.
"""

import json

import pytest

from conftest import run_invoke

pytestmark = pytest.mark.hosts("handler")

EVENT = {
    "version": "2.0", "rawPath": "/", "rawQueryString": "", "headers": {"host": "example.com"},
    "requestContext": {"http": {"method": "GET", "path": "/", "sourceIp": "1.2.3.4"}, "stage": "$default"},
}


def test_a_missing_wsgi_app_is_an_init_error_naming_the_variable():
    code, stdout, stderr = run_invoke("lambda_wsgi.handler", EVENT)
    assert code == 2, (stdout, stderr)
    error = json.loads(stdout)
    assert error["errorType"] == "Runtime.MalformedHandlerName", error
    assert "set WSGI_APP=module:attr" in error["errorMessage"]


@pytest.mark.parametrize(
    ("handler", "error_type", "message"),
    [
        ("broken_import:app", "Runtime.ImportModuleError",
         "Unable to import module 'broken_import': ModuleNotFoundError: No module named 'a_module_that_does_not_exist'"),
        ("echo:nope", "Runtime.HandlerNotFound", "module 'echo' has no attribute 'nope'"),
    ],
)
def test_an_app_that_cannot_be_imported_is_an_init_error(handler, error_type, message):
    code, stdout, stderr = run_invoke(handler, EVENT)
    assert code == 2, (stdout, stderr)
    error = json.loads(stdout)
    assert error["errorType"] == error_type and message in error["errorMessage"], error
    # The app's traceback is in the log, where the managed runtime writes it.
    if handler == "broken_import:app":
        assert "broken_import.py" in stderr + stdout


def test_make_handler_serves_the_app_it_was_given(start_emulator):
    emulator = start_emulator("made_handler.handler")
    status, headers, body = emulator.request("GET", "/made?x=1")
    assert status == 200
    seen = json.loads(body)
    assert seen["PATH_INFO"] == "/made" and seen["QUERY_STRING"] == "x=1"
    assert [v for k, v in headers if k.lower() == "x-echo"] == ["one, two"] or \
        [v for k, v in headers if k.lower() == "x-echo"] == ["one", "two"]


def test_a_non_http_event_without_an_event_handler_is_an_invocation_error_and_serving_goes_on(echo):
    function_error, payload = echo.invoke({"Records": [{"eventSource": "aws:sqs"}]})
    assert function_error == "Unhandled"
    assert payload["errorType"] == "UnsupportedEvent"
    assert "not an HTTP event" in payload["errorMessage"] and "Records" in payload["errorMessage"]
    function_error, payload = echo.invoke(EVENT)
    assert function_error is None and payload["statusCode"] == 200


def test_an_app_that_raises_is_a_500_and_serving_goes_on(misbehaving, echo):
    status, _, body = misbehaving.request("GET", "/raise")
    assert status == 500 and b"Traceback" not in body
    assert echo.invoke(EVENT)[1]["statusCode"] == 200


def test_the_event_handler_takes_non_http_events(start_emulator):
    emulator = start_emulator("jobs:app", env={"WSGI_EVENT_HANDLER": "jobs:on_event"})
    function_error, payload = emulator.invoke({"Records": [{"eventSource": "aws:sqs", "body": "b1"}]})
    assert function_error is None, payload
    assert payload["kind"] == "sqs" and payload["detail"] == ["b1"], payload
    function_error, payload = emulator.invoke({"explode": True})
    assert function_error == "Unhandled" and "the job failed" in payload["errorMessage"], payload
    status, _, body = emulator.request("GET", "/handled")
    assert status == 200 and json.loads(body) == {"handled": 2}


def test_streaming_needs_the_exec_wrapper_and_says_so_at_init():
    code, stdout, stderr = run_invoke("echo:app", EVENT, env={"WSGI_INVOKE_MODE": "response_stream"})
    assert code == 2, (stdout, stderr)
    error = json.loads(stdout)
    assert error["errorType"] == "Runtime.InvalidConfiguration", error
    assert "WSGI_INVOKE_MODE=response_stream needs the exec wrapper" in error["errorMessage"]


def test_there_is_no_deadline_guard_the_managed_runtime_runs_the_app_to_its_end(start_emulator):
    # The same settings under which the exec wrapper and bootstrap answer 504 after ~1.5 s
    # (test_deadline.py): in handler mode the app is not interrupted (Lambda's own timeout is
    # what would stop it there), so a 1.7 s request inside a 2 s timeout completes.
    emulator = start_emulator("misbehaving:app", timeout=2)
    status, _, body = emulator.request("GET", "/sleep?seconds=1.7")
    assert status == 200, (status, body)


@pytest.mark.parametrize(("handler", "app", "at_import"), [
    ("lambda_wsgi.handler", "settings_app:app", "from the helper"),
    # make_handler(app) runs once the module imported the app: what the helper loads lands
    # after that import, in time for every request.
    ("made_settings_handler.handler", None, None),
])
def test_remote_configuration_is_loaded_in_handler_mode(start_emulator, tmp_path, handler, app, at_import):
    helper = tmp_path / "lambda-wsgi-remote-config"
    helper.write_text("#!/bin/sh\necho '{\"FROM_REMOTE\": \"from the helper\"}'\n")
    helper.chmod(0o755)
    env = {"WSGI_CONFIG_SSM_PATH": "/app/prod", "WSGI_REMOTE_CONFIG_HELPER": str(helper)}
    emulator = start_emulator(app or handler, env=env)
    status, _, body = emulator.request("GET", "/?name=FROM_REMOTE")
    assert status == 200, emulator.logs()
    assert json.loads(body) == {"FROM_REMOTE": {"at_import": at_import, "now": "from the helper"}}


def test_a_mount_table_routes_in_handler_mode_with_its_middleware(start_emulator):
    emulator = start_emulator("lambda_wsgi.handler", env={
        "WSGI_MOUNTS": "/ = mounted:site; /api = mounted:api + mounted:inner", "WSGI_MIDDLEWARE": "mounted:outer"})
    status, _, body = emulator.request("GET", "/api/users")
    assert status == 200, emulator.logs()
    seen = json.loads(body)
    assert (seen["app"], seen["SCRIPT_NAME"], seen["PATH_INFO"]) == ("api", "/api", "/users")
    # outer ran for both mounts, inner for /api: each factory once per mount, at init.
    assert seen["tags"] == ["outer#3", "inner#3"]
    status, _, body = emulator.request("GET", "/apis")
    assert json.loads(body)["app"] == "site"


def test_without_a_root_mount_handler_mode_answers_404_and_keeps_serving(start_emulator):
    emulator = start_emulator("lambda_wsgi.handler", env={"WSGI_MOUNTS": "/api = mounted:api"})
    status, _, body = emulator.request("GET", "/elsewhere")
    assert (status, body) == (404, b"Not Found\n")
    status, _, body = emulator.request("GET", "/api/x")
    assert status == 200 and json.loads(body)["calls"] == ["/x"]
