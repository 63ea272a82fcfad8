"""`serve --reload` (what `make run` uses): editing a .py file of the app restarts the runtime,
and the next request runs the new code through the same bootstrap."""

import os
import time

from conftest import Emulator

APP = '''
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"{version}"]
'''


def test_editing_the_app_restarts_the_runtime_with_the_new_code(tmp_path):
    task_root = tmp_path / "task"
    task_root.mkdir()
    module = task_root / "reloaded.py"
    module.write_text(APP.format(version="first"))
    emulator = Emulator("reloaded:app", task_root=task_root, tmp_path=tmp_path, serve_args=["--reload"])
    try:
        assert emulator.request("GET", "/")[2] == b"first"
        module.write_text(APP.format(version="second"))
        # A later mtime even on filesystems with coarse timestamps.
        later = time.time() + 2
        os.utime(module, (later, later))
        emulator.wait_for("reloaded.py changed; restarting the runtime")
        emulator.wait_for("runtime ready")
        assert emulator.request("GET", "/")[2] == b"second"
    finally:
        emulator.stop()
