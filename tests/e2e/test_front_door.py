"""Real HTTP requests through the emulator's front door, for each event format: the same app
sees the same request, and the response comes back as real HTTP (cookies, repeats, base64)."""

import json

import pytest

FORMATS = ["http-v2", "http-v1", "rest", "alb", "alb-multi-value", "function-url"]


@pytest.fixture(scope="module", params=FORMATS)
def front(request, start_emulator):
    return request.param, start_emulator("echo:app", event_format=request.param)


def test_request_round_trip(front):
    event_format, emulator = front
    status, headers, body = emulator.request(
        "POST",
        "/caf%C3%A9/a%20b?x=1&x=2&plus=a%2Bb",
        headers={"Cookie": "session=abc; theme=dark", "X-Multi": "one", "Content-Type": "application/json"},
        body=b'{"hello": "world"}',
    )
    assert status == 200, body
    seen = json.loads(body)
    assert seen["REQUEST_METHOD"] == "POST"
    assert seen["PATH_INFO"] == "/caf\u00c3\u00a9/a b"
    # ALB single-value mode keeps only the last value of a repeated key.
    assert seen["QUERY_STRING"] == ("x=2&plus=a%2Bb" if event_format == "alb" else "x=1&x=2&plus=a%2Bb")
    assert seen["HTTP_COOKIE"] == "session=abc; theme=dark"
    assert seen["CONTENT_TYPE"] == "application/json"
    assert seen["wsgi.input"] == '{"hello": "world"}'
    assert seen["REMOTE_ADDR"] == "127.0.0.1"
    set_cookies = [v for k, v in headers if k.lower() == "set-cookie"]
    echo_values = ", ".join(v for k, v in headers if k.lower() == "x-echo")
    if event_format == "alb":
        # Single-value ALB responses carry one Set-Cookie; the runtime keeps the last.
        assert set_cookies == ["b=2; Path=/"]
    else:
        assert set_cookies == ["a=1; Path=/", "b=2; Path=/"]
    assert echo_values == "one, two"


def test_head_has_no_body(front):
    _, emulator = front
    status, _, body = emulator.request("HEAD", "/anything")
    assert (status, body) == (200, b"")
