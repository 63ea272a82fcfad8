"""The emulator does not drop its own write failures (issue 12, fault 6)."""

import json
import subprocess

from conftest import APPS, BOOTSTRAP, EMULATOR
from test_init import EVENT


def test_invoke_fails_when_it_cannot_write_the_response():
    """/dev/full refuses every write (ENOSPC): the response is lost, and the command says so."""
    args = [str(EMULATOR), "invoke", "--bootstrap", str(BOOTSTRAP), "--handler", "echo:app",
            "--task-root", str(APPS), "--timeout", "30", "-"]
    with open("/dev/full", "wb") as full:
        done = subprocess.run(args, input=json.dumps(EVENT).encode(), stdout=full, stderr=subprocess.PIPE,
                              timeout=120)
    stderr = done.stderr.decode()
    assert done.returncode == 1, stderr
    assert "cannot write the response to standard output: No space left on device" in stderr
