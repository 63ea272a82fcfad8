"""Apps that raise or break PEP 3333 each get a defined response; the environment stays warm,
close() always runs, and no exception text reaches the client."""

import base64
import json

import pytest


def http_v2(path, method="GET"):
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "abc123.execute-api.us-east-1.amazonaws.com", "x-forwarded-proto": "https"},
        "requestContext": {
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9"},
            "requestId": "e2e",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }


def body_of(payload):
    body = payload["body"]
    return base64.b64decode(body) if payload["isBase64Encoded"] else body.encode()


def closed_count(emulator):
    _, payload = emulator.invoke(http_v2("/closed-count"))
    return json.loads(payload["body"])["count"]


# path -> (status, body, close() calls the path makes). Where start_response raises, the app
# never returns an iterable, so there is nothing to close.
CASES = {
    "/raise": (500, b"Internal Server Error\n", 0),
    "/no-start-response": (500, b"Internal Server Error\n", 1),
    "/bad-status": (500, b"Internal Server Error\n", 0),
    "/crlf-header": (500, b"Internal Server Error\n", 0),
    "/non-latin1-header": (500, b"Internal Server Error\n", 0),
    "/iterator-raises": (500, b"Internal Server Error\n", 1),
    "/close-raises": (500, b"Internal Server Error\n", 1),
    "/returns-none": (500, b"Internal Server Error\n", 0),
    "/str-body": (500, b"Internal Server Error\n", 1),
    "/start-twice": (500, b"Internal Server Error\n", 0),
    "/write": (200, b"hello world", 1),
    "/exc-info-before-body": (503, b"replaced", 1),
    "/exc-info-after-body": (500, b"Internal Server Error\n", 0),
    "/file-wrapper": (200, bytes(range(256)) * 4, 0),
}


@pytest.mark.parametrize("path", CASES)
def test_misbehaving_app_gets_a_defined_response_and_the_next_request_works(misbehaving, path):
    status, body, closes = CASES[path]
    before = closed_count(misbehaving)
    function_error, payload = misbehaving.invoke(http_v2(path))
    assert function_error is None, payload
    assert payload["statusCode"] == status, payload
    assert body_of(payload) == body
    assert b"secret" not in body_of(payload) and b"Traceback" not in body_of(payload)
    assert closed_count(misbehaving) - before == closes
    _, after = misbehaving.invoke(http_v2("/ok"))
    assert (after["statusCode"], after["body"]) == (200, "ok")


def test_injected_header_never_reaches_the_response(misbehaving):
    _, payload = misbehaving.invoke(http_v2("/crlf-header"))
    assert "pwned" not in json.dumps(payload)
    assert "x-evil" not in payload.get("headers", {})


def test_failures_are_logged_with_request_id_and_reason(misbehaving):
    misbehaving.invoke(http_v2("/raise"))
    misbehaving.invoke(http_v2("/crlf-header"))
    logs = misbehaving.logs()
    assert "ZeroDivisionError: secret detail" in logs and "Traceback (most recent call last)" in logs
    assert "response header X-Evil has a forbidden character '\\r'" in logs
    assert "500 for GET /crlf-header" in logs


def test_body_encoding(misbehaving):
    _, payload = misbehaving.invoke(http_v2("/binary"))
    assert payload["isBase64Encoded"] and body_of(payload) == b"\x89PNG\r\n\x1a\n\x00\xff"
    _, payload = misbehaving.invoke(http_v2("/latin1-text"))
    assert payload["isBase64Encoded"] and body_of(payload) == b"caf\xe9"
    _, payload = misbehaving.invoke(http_v2("/ok", method="HEAD"))
    assert (payload["statusCode"], payload["body"]) == (200, "")


def test_context_event_and_trace_id_reach_the_app_and_process_env_does_not(misbehaving):
    _, payload = misbehaving.invoke(http_v2("/context"))
    seen = json.loads(payload["body"])
    assert seen["function_name"] == "lambda-wsgi-local"
    assert seen["function_version"] == "$LATEST"
    assert seen["invoked_function_arn"].startswith("arn:aws:lambda:")
    assert seen["memory_limit_in_mb"] == 512
    assert seen["log_group_name"] == "/aws/lambda/lambda-wsgi-local"
    assert 0 < seen["remaining_ms"] <= 30_000
    assert len(seen["aws_request_id"]) > 8
    assert seen["event_route_key"] == "$default"
    assert seen["trace_id"].startswith("Root=1-")
    assert seen["process_env_in_environ"] == []
    assert seen["credential_in_environ"] is False


def test_raise_mode_reports_an_invocation_error(start_emulator):
    emulator = start_emulator("misbehaving:app", env={"WSGI_ERROR_MODE": "raise"})
    function_error, payload = emulator.invoke(http_v2("/raise"))
    assert function_error == "Unhandled"
    assert payload["errorType"] == "ZeroDivisionError"
    # Protocol errors stay 500 responses: there is no exception of the app's to report.
    function_error, payload = emulator.invoke(http_v2("/bad-status"))
    assert (function_error, payload["statusCode"]) == (None, 500)
    _, payload = emulator.invoke(http_v2("/ok"))
    assert payload["statusCode"] == 200


@pytest.mark.parametrize(("size", "limit"), [(7_000_000, 6_291_556), (10_000_000, 6_291_556)])
def test_a_response_over_lambdas_limit_is_a_500_that_says_why(misbehaving, size, limit):
    event = http_v2("/big")
    event["rawQueryString"] = f"bytes={size}"
    function_error, payload = misbehaving.invoke(event)
    assert function_error is None
    assert (payload["statusCode"], body_of(payload)) == (500, b"Internal Server Error: the response is too large\n")
    assert f"over the {limit}-byte limit for HTTP API (payload 2.0)" in misbehaving.logs()
    _, after = misbehaving.invoke(http_v2("/ok"))
    assert after["statusCode"] == 200


def test_alb_has_its_own_1_mb_limit(start_emulator):
    emulator = start_emulator("misbehaving:app", event_format="alb")
    status, _, body = emulator.request("GET", "/big?bytes=2000000")
    assert (status, body) == (500, b"Internal Server Error: the response is too large\n")
    status, _, body = emulator.request("GET", "/big?bytes=500000")
    assert (status, len(body)) == (200, 500_000)
    assert "over the 1048576-byte limit for ALB" in emulator.logs()
