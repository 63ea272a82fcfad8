"""The README's provided.al2023 route, played locally: the layer's bootstrap with a Python the
function brings, on the OS-only runtime.

provided.al2023 has no Python: Lambda runs /var/task/bootstrap (or /opt/bootstrap) with the
environment of its base image (public.ecr.aws/lambda/provided:al2023), whose PATH is
/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin and whose LD_LIBRARY_PATH is
/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib
(aws/aws-lambda-base-images, Dockerfile.provided.al2023). A temporary root stands in for Lambda's,
with those two variables rooted in it:

- opt/: the x86_64 layer zip unpacked (lambda-wsgi-bin/bootstrap-py3.X-x86_64), and a second layer
  with the Python: lib/libpython3.X.so.1.0 and lib/python3.X/ (pyenv's 3.X stands in for it);
- var/task: the app and the `bootstrap` script the README shows, which execs the layer's bootstrap;
- PYTHONHOME=<root>/opt, as the README says to set.

The layers come from `make layer` (LAMBDA_WSGI_LAYER_DIR); `make test-layer` runs this.
"""

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from conftest import APPS, Emulator, ROOT, interpreter_info

LAYER_DIR = os.environ.get("LAMBDA_WSGI_LAYER_DIR")
PYENV = Path.home() / ".pyenv" / "versions"
pytestmark = pytest.mark.skipif(not LAYER_DIR, reason="LAMBDA_WSGI_LAYER_DIR is not set: run `make test-layer`")
# The Pythons of Amazon Linux 2023's managed runtimes that pyenv has here; any of them can be
# brought to provided.al2023 (glibc 2.34, which their bootstraps are linked for).
PYTHONS = ["3.12", "3.13"]
# provided.al2023's PATH and LD_LIBRARY_PATH (its base image's Dockerfile); {root} is our stand-in for /.
PATH = "{root}/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:{root}/opt/bin"
LD_LIBRARY_PATH = ("{root}/var/lang/lib:/lib64:/usr/lib64:{root}/var/runtime:{root}/var/runtime/lib:"
                   "{root}/var/task:{root}/var/task/lib:{root}/opt/lib")


def python_install(version):
    found = sorted(PYENV.glob(f"{version}.*"))
    if not found:
        pytest.fail(f"Python {version} is not installed under {PYENV}")
    return found[-1]


def provided_root(base, version):
    """A stand-in for a provided.al2023 environment with the lambda-wsgi layer and a Python layer."""
    root = base / f"root-{version}"
    opt = root / "opt"
    with zipfile.ZipFile(Path(LAYER_DIR) / "lambda-wsgi-layer-x86_64.zip") as layer:
        layer.extractall(opt)
        for info in layer.infolist():
            (opt / info.filename).chmod(info.external_attr >> 16 & 0o777)
    # The Python layer: libpython where the loader looks (/opt/lib), its standard library beside it.
    (opt / "lib").mkdir()
    install = python_install(version)
    shutil.copy2(install / "lib" / f"libpython{version}.so.1.0", opt / "lib" / f"libpython{version}.so.1.0")
    (opt / "lib" / f"python{version}").symlink_to(install / "lib" / f"python{version}")
    task = root / "var" / "task"
    task.mkdir(parents=True)
    shutil.copy(APPS / "interpreter_info.py", task / "interpreter_info.py")
    # The README's bootstrap, with /opt moved into the stand-in root.
    bootstrap = task / "bootstrap"
    bootstrap.write_text(f'#!/bin/sh\nexec {opt}/lambda-wsgi-bin/bootstrap-py{version}-$(uname -m)\n')
    bootstrap.chmod(0o755)
    return root


def environment(root, **extra):
    return {"PATH": PATH.format(root=root), "LD_LIBRARY_PATH": LD_LIBRARY_PATH.format(root=root),
            "PYTHONHOME": str(root / "opt"), **extra}


@pytest.mark.parametrize("version", PYTHONS)
def test_the_layers_bootstrap_serves_with_a_python_brought_in_opt(version, tmp_path):
    root = provided_root(tmp_path, version)
    emulator = Emulator("interpreter_info.app", task_root=root / "var" / "task", tmp_path=tmp_path,
                        env=environment(root), bootstrap=root / "var" / "task" / "bootstrap")
    info = interpreter_info(emulator)
    assert ".".join(map(str, info["version"][:2])) == version
    # libpython from /opt/lib (LD_LIBRARY_PATH: the bootstrap's own library path, /var/lang/lib, is
    # empty on provided.al2023), and the standard library from PYTHONHOME, not from the prefix
    # pyenv's Python was configured with.
    assert info["libpython"] == str(root / "opt" / "lib" / f"libpython{version}.so.1.0")
    assert info["prefix"] == str(root / "opt")
    assert info["sys_path"][0] == str(root / "var" / "task")
    assert str(root / "opt" / "lib" / f"python{version}") in info["sys_path"]


def test_without_opt_lib_on_the_library_path_the_bootstrap_cannot_start(tmp_path):
    """The control: libpython must be where provided.al2023's LD_LIBRARY_PATH looks (/opt/lib or
    /var/task/lib); the bootstrap's RUNPATH names only /var/lang/lib."""
    version = PYTHONS[0]
    root = provided_root(tmp_path, version)
    env = environment(root, LD_LIBRARY_PATH="/lib64:/usr/lib64")
    done = subprocess.run([str(root / "var" / "task" / "bootstrap")], env=env, capture_output=True, timeout=60)
    assert done.returncode == 127, done.stderr.decode()
    assert f"libpython{version}.so.1.0: cannot open shared object file".encode() in done.stderr


def test_the_readme_shows_this_route():
    """What this test plays is what the README tells a user to do."""
    readme = (ROOT / "README.md").read_text()
    assert "exec /opt/lambda-wsgi-bin/bootstrap-py3.12-$(uname -m)" in readme
    assert "PYTHONHOME=/opt" in readme
    assert "lib/libpython3.12.so.1.0" in readme
