"""The deadline guard: an app still running WSGI_DEADLINE_MARGIN_MS before the invocation
deadline is interrupted, the client gets a 504 from the runtime (before Lambda would kill the
environment), the log names the request, and the same warm environment serves the next one."""

import pytest

GUARD_504 = b"Gateway Timeout: the application did not finish in time\n"


@pytest.fixture(scope="module")
def guarded(start_emulator):
    # Deadline 2 s, guard margin 500 ms: the app is interrupted after about 1.5 s.
    return start_emulator("misbehaving:app", timeout=2)


@pytest.mark.parametrize("path", ["/sleep?seconds=30", "/spin", "/sleep-catching"])
def test_a_late_app_is_interrupted_and_the_environment_stays_warm(guarded, path):
    status, _, body = guarded.request("GET", path)
    # The runtime's own 504 (the emulator's, after a kill, says "Endpoint request timed out").
    assert (status, body) == (504, GUARD_504)
    route = path.split("?")[0]
    assert f"504 for GET {route}: the application was still running 500 ms before the invocation deadline" in guarded.logs()
    status, _, body = guarded.request("GET", "/ok")
    assert (status, body) == (200, b"ok")
    assert "runtime exited" not in guarded.logs(), "the environment was restarted"
