"""The emulator's own promises, with the real runtime: a runtime that dies is restarted and
says so, a missed deadline is a 504 then a fresh runtime, and the deadline reaches the app."""

from test_app_errors import http_v2


def test_a_crashed_runtime_is_restarted(start_emulator):
    emulator = start_emulator("misbehaving:app")
    status, _, _ = emulator.request("GET", "/exit")
    assert status == 502
    emulator.wait_for("runtime ready")
    status, _, body = emulator.request("GET", "/ok")
    assert (status, body) == (200, b"ok")
    assert "runtime exited (exit status: 3); restarting" in emulator.logs()


def test_a_missed_deadline_is_a_504_and_the_next_request_works(start_emulator):
    # With the runtime's own deadline guard off, the emulator's timeout is what answers.
    emulator = start_emulator("misbehaving:app", timeout=1, event_format="rest", env={"WSGI_DEADLINE_MARGIN_MS": "0"})
    status, _, body = emulator.request("GET", "/sleep?seconds=5")
    assert status == 504, body
    emulator.wait_for("runtime ready")
    status, _, body = emulator.request("GET", "/ok")
    assert (status, body) == (200, b"ok")
    assert "timed out; killing the runtime" in emulator.logs()


def test_direct_invoke_of_a_dying_runtime_names_what_happened(start_emulator):
    emulator = start_emulator("misbehaving:app")
    try:
        emulator.invoke(http_v2("/exit"))
    except Exception as error:  # urllib raises HTTPError for the 502
        assert error.code == 502
        assert b"Runtime.ExitError" in error.read()
    else:
        raise AssertionError("a dying runtime must not look like a response")
    emulator.wait_for("runtime ready")
    _, payload = emulator.invoke(http_v2("/ok"))
    assert payload["statusCode"] == 200
