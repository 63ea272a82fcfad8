"""Init failures are reported to /runtime/init/error with the traceback, and the process exits."""

import json

import pytest

from conftest import run_invoke

EVENT = {
    "version": "2.0", "rawPath": "/", "rawQueryString": "", "headers": {},
    "requestContext": {"http": {"method": "GET", "path": "/", "sourceIp": "1.2.3.4"}, "stage": "$default"},
}


@pytest.mark.parametrize(
    ("handler", "error_type", "message"),
    [
        ("broken_import:app", "Runtime.ImportModuleError",
         "Unable to import module 'broken_import': ModuleNotFoundError: No module named 'a_module_that_does_not_exist'"),
        ("not_callable:app", "Runtime.HandlerNotFound", "Handler 'not_callable:app' is a str, not a WSGI application"),
        ("echo:nope", "Runtime.HandlerNotFound", "module 'echo' has no attribute 'nope'"),
        ("no such handler", "Runtime.MalformedHandlerName", "is not module:attr"),
    ],
)
def test_init_errors(handler, error_type, message):
    code, stdout, stderr = run_invoke(handler, EVENT)
    assert code == 2, (stdout, stderr)
    error = json.loads(stdout)
    assert error["errorType"] == error_type
    assert message in error["errorMessage"]
    if error_type == "Runtime.ImportModuleError":
        assert any("broken_import.py" in line for line in error["stackTrace"])
    # After reporting, bootstrap exits non-zero, as Lambda expects of a failed init.
    assert "runtime exited (exit status: 1)" in stderr, stderr


def test_invalid_setting_is_an_init_error_naming_it():
    code, stdout, _ = run_invoke("echo:app", EVENT, env={"WSGI_ERROR_MODE": "sometimes"})
    assert code == 2
    error = json.loads(stdout)
    assert error["errorType"] == "Runtime.InvalidConfiguration"
    assert "WSGI_ERROR_MODE=sometimes" in error["errorMessage"]


def test_invoke_mode_prints_the_response():
    code, stdout, stderr = run_invoke("echo:app", EVENT)
    assert code == 0, stderr
    assert json.loads(stdout)["statusCode"] == 200


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "AWS_LAMBDA_RUNTIME_API is not set"),
        ("localhost", "AWS_LAMBDA_RUNTIME_API=localhost is not host:port"),
    ],
)
def test_without_a_runtime_api_address_bootstrap_says_so_and_exits_without_a_panic(value, message):
    import os
    import subprocess

    from conftest import APPS, BOOTSTRAP

    env = {"PATH": os.environ["PATH"], "WSGI_APP": "echo:app", "LAMBDA_TASK_ROOT": str(APPS)}
    if value is not None:
        env["AWS_LAMBDA_RUNTIME_API"] = value
    done = subprocess.run([str(BOOTSTRAP)], env=env, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    output = (done.stdout + done.stderr).decode()
    assert done.returncode == 1, output
    assert message in output
    assert "panicked" not in output


@pytest.mark.parametrize(
    ("name", "value"),
    [("AWS_LAMBDA_MAX_CONCURRENCY", "many"), ("AWS_LAMBDA_INITIALIZATION_TYPE", "frozen"),
     ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1GB")],
)
def test_a_bad_lambda_variable_is_an_init_error_naming_it(name, value):
    code, stdout, _ = run_invoke("echo:app", EVENT, env={name: value})
    assert code == 2
    error = json.loads(stdout)
    assert error["errorType"] == "Runtime.InvalidConfiguration"
    assert f"{name}={value}" in error["errorMessage"]
