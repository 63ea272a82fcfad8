"""Events that are not HTTP requests: the WSGI_EVENT_HANDLER (SQS, S3, schedules, direct
invocations), warm-up pings, management commands, and the app's logging as Lambda writes it."""

import json

import pytest

from conftest import FIXTURES, app_venv

HANDLER = {"WSGI_EVENT_HANDLER": "jobs:on_event"}


def flask_env(**settings):
    """The jobs app is a Flask app: it imports Flask from the bootstrap's Python's app venv."""
    return {"VIRTUAL_ENV": str(app_venv("flask")), **settings}


def fixture(name):
    return json.loads((FIXTURES / "unsupported" / f"{name}.json").read_text())


def nested(depth):
    value = "bottom"
    for level in range(depth):
        value = {"level": level, "next": [value]}
    return value


# A direct invocation's JSON, each part a different path through handler mode's re-encoding of
# awslambdaric's objects (python/src/event_json.rs): escapes, non-ASCII, numbers at the edges of
# 64 bits and of floats, an int past 64 bits (left to the json module), nesting.
AWKWARD = {
    "text": "quote \" backslash \\ newline \n tab \t bell \u0007 e-acute \u00e9 euro \u20ac \U0001f600 \u2028",
    "numbers": [0, -1, 2**63 - 1, -2**63, 2**64 - 1, 1.5, -0.25, 1e300, 5e-324],
    "big": 2**70,
    "flags": [True, False, None],
    "empty": [{}, [], ""],
    "deep": nested(60),
}


@pytest.fixture(scope="module")
def jobs(start_emulator):
    return start_emulator("jobs:app", env=flask_env(**HANDLER, WSGI_MANAGE_COMMANDS="true"))


@pytest.mark.parametrize("name, kind", [("sqs", "sqs"), ("s3-put", "s3"), ("sns", "sns"),
                                        ("eventbridge-scheduled", "schedule"), ("direct-invoke-custom", "direct")])
def test_non_http_events_go_to_the_event_handler_with_a_context(jobs, name, kind):
    function_error, payload = jobs.invoke(fixture(name))
    assert function_error is None, payload
    assert payload["kind"] == kind
    assert payload["functionName"] == "lambda-wsgi-local" and payload["hasTime"] is True
    assert payload["requestId"]


def test_a_direct_event_reaches_the_handler_as_it_was_sent(jobs):
    function_error, payload = jobs.invoke(AWKWARD)
    assert function_error is None, payload
    assert payload["kind"] == "direct" and payload["detail"] == AWKWARD


def test_each_invocation_has_its_own_trace_id_in_os_environ(jobs):
    first, second = (jobs.invoke(fixture("sqs"))[1]["traceId"] for _ in range(2))
    assert first.startswith("Root=1-") and second.startswith("Root=1-") and first != second


def test_the_web_app_still_answers_http_beside_the_handler(jobs):
    status, _, body = jobs.request("GET", "/handled")
    assert status == 200 and json.loads(body)["handled"] >= 0


def test_a_handler_exception_is_an_invocation_error_naming_the_exception(jobs):
    function_error, payload = jobs.invoke({"explode": True})
    assert function_error == "Unhandled"
    assert payload["errorType"] == "RuntimeError"
    assert "the job failed" in payload["errorMessage"]
    assert "Traceback" in jobs.logs() and "the job failed" in jobs.logs()


@pytest.mark.parametrize("ping", [
    {"source": "serverless-plugin-warmup"},
    {"warmer": True, "concurrency": 2},
])
def test_warm_up_pings_are_answered_without_the_app(jobs, ping):
    before = json.loads(jobs.request("GET", "/handled")[2])["handled"]
    assert jobs.invoke(ping) == (None, {"warmed": True})
    assert json.loads(jobs.request("GET", "/handled")[2])["handled"] == before


def test_without_a_handler_non_http_events_stay_unsupported(echo):
    function_error, payload = echo.invoke(fixture("sqs"))
    assert function_error == "Unhandled" and payload["errorType"] == "UnsupportedEvent"


def test_a_flask_cli_command_runs_by_direct_invocation(jobs):
    assert jobs.invoke({"manage": ["greet"]}) == (None, {"exitCode": 0, "output": "hello from the CLI\n"})
    function_error, payload = jobs.invoke({"manage": ["fail"]})
    assert (function_error, payload["exitCode"]) == (None, 3)
    function_error, payload = jobs.invoke({"manage": ["exit-code"]})
    assert (function_error, payload["exitCode"]) == (None, 4)
    function_error, payload = jobs.invoke({"manage": ["routes"]})
    assert payload["exitCode"] == 0 and "/handled" in payload["output"], payload
    function_error, payload = jobs.invoke({"manage": ["no-such-command"]})
    assert payload["exitCode"] == 2 and "No such command" in payload["output"], payload


def test_management_commands_are_refused_unless_enabled(start_emulator):
    refusing = start_emulator("jobs:app", env=flask_env())
    function_error, payload = refusing.invoke({"manage": ["greet"]})
    assert function_error == "Unhandled"
    assert payload["errorType"] == "Runtime.ManageCommandsDisabled"
    assert "WSGI_MANAGE_COMMANDS=true" in payload["errorMessage"]
    assert "hello from the CLI" not in refusing.logs()
    # With an event handler, a disabled "manage" event is the handler's business, never a command.
    with_handler = start_emulator("jobs:app", env=flask_env(**HANDLER))
    function_error, payload = with_handler.invoke({"manage": ["greet"]})
    assert (function_error, payload["kind"]) == (None, "direct")
    assert "hello from the CLI" not in with_handler.logs()


def test_a_manage_body_over_http_is_just_a_request(jobs):
    # The manage form is a direct invocation only: an HTTP request carrying it is a request.
    status, _, _ = jobs.request("POST", "/handled", body=b'{"manage": ["greet"]}',
                                headers={"Content-Type": "application/json"})
    assert status == 405
    assert "hello from the CLI" not in jobs.logs()


def log_lines(emulator, marker):
    return [line for line in emulator.logs().splitlines() if marker in line]


# In handler mode the managed runtime writes the logs (awslambdaric's own formats).
@pytest.mark.hosts("bootstrap", "wrapper")
def test_json_logs_are_written_as_the_managed_runtime_writes_them(start_emulator):
    emulator = start_emulator("jobs:app", env=flask_env(AWS_LAMBDA_LOG_FORMAT="JSON", AWS_LAMBDA_LOG_LEVEL="INFO"))
    assert emulator.request("GET", "/log")[0] == 200
    records = [json.loads(line) for line in emulator.logs().splitlines()
               if line.startswith("{") and '"logger": "jobs"' in line]
    info, error = records
    assert info["level"] == "INFO" and info["message"] == "hello from /log" and info["orderId"] == 42
    assert info["logger"] == "jobs" and info["requestId"] and info["timestamp"].endswith("Z")
    assert error["level"] == "ERROR" and error["errorType"] == "ValueError" and error["errorMessage"] == "bad order"
    assert any("raise ValueError" in frame for frame in error["stackTrace"])
    assert error["requestId"] == info["requestId"]
    assert not log_lines(emulator, "debug detail"), "AWS_LAMBDA_LOG_LEVEL=INFO filters DEBUG out"
    # The runtime's own lines are JSON too.
    [serving] = log_lines(emulator, "serving WSGI application")
    assert json.loads(serving)["level"] == "INFO"


@pytest.mark.hosts("bootstrap", "wrapper")
def test_text_logs_carry_level_timestamp_and_request_id(start_emulator):
    emulator = start_emulator("jobs:app", env=flask_env(AWS_LAMBDA_LOG_LEVEL="DEBUG"))
    assert emulator.request("GET", "/log")[0] == 200
    [line] = log_lines(emulator, "hello from /log")
    level, timestamp, request_id, message = line.split("\t")
    assert level == "[INFO]" and timestamp.endswith("Z") and len(request_id) == 36 and message == "hello from /log"
    assert log_lines(emulator, "debug detail"), "AWS_LAMBDA_LOG_LEVEL=DEBUG keeps DEBUG"
