"""Shutdown: SIGTERM to the emulator becomes Lambda's shutdown phase for the runtime (SIGTERM,
then a window): the app's atexit handlers run, output is flushed, and everything exits 0."""

import os
import signal
from pathlib import Path

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


def children(pid):
    """The child process ids of `pid` (Linux /proc)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def test_ctrl_c_runs_the_atexit_handlers_without_a_keyboard_interrupt(tmp_path):
    """Ctrl-C on `make run`: the terminal sends SIGINT to the emulator and the runtime alike (one
    process group); the runtime shuts down as for SIGTERM, and the app sees no KeyboardInterrupt."""
    marker = tmp_path / "marker"
    emulator = Emulator("atexit_app:app", env={"ATEXIT_MARKER": str(marker)}, tmp_path=tmp_path)
    try:
        assert emulator.request("GET", "/")[0] == 200
        [bootstrap] = children(emulator.process.pid)
        os.kill(bootstrap, signal.SIGINT)
        emulator.process.send_signal(signal.SIGINT)
        assert emulator.process.wait(timeout=15) == 0
    finally:
        emulator.stop()
    logs = emulator.logs()
    assert "KeyboardInterrupt" not in logs and "atexit handler failed" not in logs, logs
    lines = marker.read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("atexit ran in "), lines
