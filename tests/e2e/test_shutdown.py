"""Shutdown: SIGTERM to the emulator becomes Lambda's shutdown phase for the runtime (SIGTERM,
then a window): the app's atexit handlers run, output is flushed, and everything exits 0."""

import signal

from conftest import Emulator


def test_sigterm_runs_the_apps_atexit_handlers_and_exits_cleanly(tmp_path):
    marker = tmp_path / "marker"
    emulator = Emulator("atexit_app:app", env={"ATEXIT_MARKER": str(marker)}, tmp_path=tmp_path)
    try:
        status, _, body = emulator.request("GET", "/")
        assert (status, body) == (200, b"ok")
        emulator.process.send_signal(signal.SIGTERM)
        assert emulator.process.wait(timeout=15) == 0
    finally:
        emulator.stop()
    lines = marker.read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("atexit ran in "), lines
    logs = emulator.logs()
    assert "SIGTERM: running the application's atexit handlers" in logs
    assert "runtime stopped (exit status: 0)" in logs
