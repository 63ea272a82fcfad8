"""Hostile and malformed invocations through the real bootstrap: each gets a defined outcome
(an invocation error with a stable errorType, or a response) and the environment keeps serving."""

import base64
import json

import pytest

from test_app_errors import http_v2


@pytest.fixture(scope="module")
def hello(start_emulator):
    return start_emulator("hello:app")


def with_overrides(**overrides):
    event = http_v2("/")
    event.update(overrides)
    return event


HOSTILE = {
    "not JSON": (b"GET / HTTP/1.1", "error"),
    "a JSON array": (b"[1, 2]", "UnsupportedEvent"),
    "an SQS batch": ({"Records": [{"eventSource": "aws:sqs", "body": "x"}]}, "UnsupportedEvent"),
    "missing method": (with_overrides(requestContext={"http": {}}), "InvalidEvent"),
    "headers is a string": (with_overrides(headers="host: x"), "InvalidEvent"),
    "invalid base64": (with_overrides(body="!!!", isBase64Encoded=True), 400),
    "10,000 headers": (with_overrides(headers={f"x-h{i}": "v" for i in range(10_000)}), 200),
    "1 MB header value": (with_overrides(headers={"x-big": "v" * (1 << 20)}), 200),
    "64 KB path": (with_overrides(rawPath="/" + "a" * (64 << 10)), 200),
    "header names with spaces and non-ASCII": (with_overrides(headers={"bad name": "1", "naïve": "2"}), 200),
    "unknown method": (with_overrides(requestContext={"http": {"method": "BREW", "sourceIp": "1.2.3.4"}}), 200),
    "4.5 MB binary body": (with_overrides(body=base64.b64encode(b"\x00\xff" * (9 << 18)).decode(), isBase64Encoded=True), 200),
    # Lambda caps the whole invoke payload at 6 MB; a text body fills it.
    "6 MB text body": (with_overrides(body="x" * 6_000_000, headers={"content-type": "text/plain"}), 200),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_invocation_then_a_normal_one(hello, name):
    event, expected = HOSTILE[name]
    payload = event if isinstance(event, bytes) else json.dumps(event).encode()
    function_error, answer = hello.invoke(payload)
    if isinstance(expected, int):
        assert function_error is None, answer
        assert answer["statusCode"] == expected, answer
    else:
        assert function_error == "Unhandled", answer
        if expected != "error":
            assert answer["errorType"] == expected, answer
        assert answer["errorMessage"], answer
    _, after = hello.invoke(http_v2("/"))
    assert (after["statusCode"], after["body"]) == (200, "hello GET 0")


def test_large_body_arrives_whole(hello):
    body = b"\x00\xff" * (9 << 18)
    _, answer = hello.invoke(with_overrides(body=base64.b64encode(body).decode(), isBase64Encoded=True))
    assert answer["body"] == f"hello GET {len(body)}"
