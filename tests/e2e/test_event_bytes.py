"""An event that is not UTF-8 is reported as such, not as "not valid JSON" (issue 12, fault 6):
the invocation loop refuses it before the pipeline sees it."""

import json

import pytest


@pytest.mark.parametrize("invoke_mode", ["buffered", "response_stream"])
def test_an_event_that_is_not_utf8_is_an_invocation_error_saying_so(start_emulator, invoke_mode):
    emulator = start_emulator("echo:app", env={"WSGI_INVOKE_MODE": invoke_mode})
    event = json.dumps({"rawPath": "/", "body": "caf"}).encode().replace(b"caf", b"caf\xe9")
    function_error, payload = emulator.invoke(event)
    assert function_error == "Unhandled"
    assert payload["errorType"] == "UnsupportedEvent"
    assert "the event is not UTF-8 (invalid byte at offset" in payload["errorMessage"], payload
    assert "not UTF-8" in emulator.logs()
