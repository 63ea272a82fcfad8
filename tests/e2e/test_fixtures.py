"""Every event fixture through the emulator to the real bootstrap and the echo app (checked by
wsgiref.validate), compared with the same golden files the plain-Rust tests check."""

import json
import re

import pytest

from conftest import FIXTURES, HOST

EVENTS = sorted(p for p in FIXTURES.glob("*/*.json") if p.name.count(".") == 1)


# Not HTTP, but answered by the runtime itself (tests/e2e/test_direct.py).
WARMUPS = {"warmup-plugin.json"}


@pytest.mark.parametrize("fixture", EVENTS, ids=[f"{p.parent.name}/{p.stem}" for p in EVENTS])
def test_fixture_end_to_end(echo, fixture):
    function_error, payload = echo.invoke(fixture.read_bytes())
    if fixture.name in WARMUPS:
        assert (function_error, payload) == (None, {"warmed": True})
        return
    error_golden = fixture.with_suffix(".error.json")
    if error_golden.exists():
        assert function_error == "Unhandled", payload
        if HOST == "handler":
            # awslambdaric adds the request id and the Python stack it saw to every error it
            # reports; the error itself is held to the same golden.
            payload = {key: value for key, value in payload.items() if key not in ("requestId", "stackTrace")}
        expected = json.loads(error_golden.read_text())
        if HOST == "handler":
            # A JSON parse error's line and column point into the event text; in handler mode that
            # text is the runtime's re-encoding of awslambdaric's dict, so the position is left out.
            expected["errorMessage"] = re.sub(r" at line \d+ column \d+$", "", expected["errorMessage"])
        assert payload == expected
        return
    assert function_error is None, payload
    # The echo app dumps its whole environ: the runtime's AWS credentials must not be in it.
    assert "emulator-fake" not in json.dumps(payload) and "ASIAEMULATORFAKEKEY" not in json.dumps(payload)
    assert payload == json.loads(fixture.with_suffix(".response.json").read_text())
    environ_golden = fixture.with_suffix(".environ.json")
    if environ_golden.exists() and payload["statusCode"] == 200 and payload["body"]:
        # The same comparison again, as data: the app saw exactly the golden environ.
        assert json.loads(payload["body"]) == json.loads(environ_golden.read_text())


def test_corpus_is_large_enough():
    sources = {p.parent.name for p in EVENTS}
    assert len(EVENTS) >= 60, len(EVENTS)
    assert {"rest", "http-v1", "http-v2", "function-url", "alb", "lattice-v1", "lattice-v2", "unsupported"} <= sources
