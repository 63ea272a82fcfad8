"""An event that is not UTF-8 is reported as such, not as "not valid JSON" (issue 12, fault 6).

Needs serve.rs to hand the event bytes to invoke::handle_raw / handle_streaming_raw as the
Runtime API delivered them (it decoded them itself, into "" when they were not UTF-8)."""

import json

import pytest


@pytest.mark.parametrize("invoke_mode", ["buffered", "response_stream"])
def test_an_event_that_is_not_utf8_is_an_invocation_error_saying_so(start_emulator, invoke_mode):
    emulator = start_emulator("echo:app", env={"WSGI_INVOKE_MODE": invoke_mode})
    event = json.dumps({"rawPath": "/", "body": "caf"}).encode().replace(b"caf", b"caf\xe9")
    function_error, payload = emulator.invoke(event)
    assert function_error == "Unhandled"
    assert payload["errorType"] == "UnsupportedEvent"
    assert "the event is not UTF-8 (invalid byte at offset" in payload["errorMessage"], (
        f"{payload}: does serve.rs pass the raw event bytes to invoke::handle_raw?")
    assert "not UTF-8" in emulator.logs()
