"""PEP 3333 cases found correct by the peers' suites (apig-wsgi, serverless-wsgi), kept so here
(issue 12, item 11): exc_info on the first start_response call, empty byte strings in the body
(buffered and streamed), wsgi.errors output in the function's log, and an app that sets several
cookies behind a single-value ALB, end to end through the emulator's front door."""

import json

import pytest

STREAM = {"WSGI_INVOKE_MODE": "response_stream"}


@pytest.fixture(scope="module")
def buffered(start_emulator):
    return start_emulator("protocol_cases:app", event_format="http-v2")


@pytest.fixture(scope="module")
def streamed(start_emulator):
    return start_emulator("protocol_cases:app", event_format="function-url", env=STREAM)


def header(headers, name):
    values = [value for key, value in headers if key.lower() == name.lower()]
    assert len(values) <= 1, (name, values)
    return values[0] if values else None


def closed_count(emulator):
    status, _, body = emulator.request("GET", "/closed-count")
    assert status == 200
    return json.loads(body)["count"]


@pytest.mark.parametrize("mode", ["buffered", "streamed"])
def test_exc_info_on_the_first_start_response_call_sets_the_response(request, mode):
    # PEP 3333: exc_info with nothing sent yet replaces nothing and raises nothing; the status
    # and headers given are the response's.
    emulator = request.getfixturevalue(mode)
    before = closed_count(emulator)
    status, headers, body = emulator.request("GET", "/exc-info-first")
    assert (status, body) == (404, b"handled: no such record")
    assert header(headers, "X-Handled") == "yes"
    assert header(headers, "Content-Type") == "text/plain"
    assert closed_count(emulator) - before == 1
    assert "KeyError" not in emulator.logs()


@pytest.mark.parametrize("mode", ["buffered", "streamed"])
def test_empty_byte_strings_are_no_body(request, mode):
    emulator = request.getfixturevalue(mode)
    before = closed_count(emulator)
    assert emulator.request("GET", "/empty-chunks")[::2] == (200, b"ab")
    status, headers, body = emulator.request("GET", "/only-empty-chunks")
    assert (status, body) == (200, b"")
    assert header(headers, "X-Empty") == "yes"
    assert closed_count(emulator) - before == 2


@pytest.mark.parametrize("mode", ["buffered", "streamed"])
def test_exc_info_after_only_empty_byte_strings_still_replaces_the_status(request, mode):
    # An empty byte string is not a body byte: the head is still unsent (PEP 3333: headers go
    # out with the first non-empty chunk), so exc_info replaces it instead of re-raising.
    emulator = request.getfixturevalue(mode)
    status, _, body = emulator.request("GET", "/exc-info-after-empty-chunks")
    assert (status, body) == (500, b"error page")
    assert emulator.request("GET", "/empty-chunks")[::2] == (200, b"ab")


def test_wsgi_errors_output_reaches_the_log(buffered):
    status, _, body = buffered.request("GET", "/errors-stream")
    assert (status, body) == (200, b"logged")
    logs = buffered.logs()
    for line in ("a line written to wsgi.errors", "writelines one", "writelines two"):
        assert f"protocol-cases: {line}" in logs, logs


@pytest.mark.parametrize("event_format", ["alb", "alb-multi-value"])
def test_several_cookies_behind_an_alb(start_emulator, event_format):
    emulator = start_emulator("protocol_cases:app", event_format=event_format)
    status, headers, body = emulator.request("GET", "/cookies")
    assert (status, body) == (200, b"three cookies")
    set_cookies = [value for key, value in headers if key.lower() == "set-cookie"]
    assert header(headers, "X-Other") == "kept"
    if event_format == "alb":
        # A single-value response has one Set-Cookie: the last is kept (as Powertools does),
        # never a comma-joined line (a cookie's Expires has a comma), and the loss is logged.
        assert set_cookies == ["third=3; Path=/; Secure"]
        assert "kept the last of 3" in emulator.logs()
    else:
        assert set_cookies == ["first=1; Path=/", "second=2; Path=/; HttpOnly", "third=3; Path=/; Secure"]
        assert "kept the last of" not in emulator.logs()
    # The environment is still serving.
    assert emulator.request("GET", "/empty-chunks")[::2] == (200, b"ab")
