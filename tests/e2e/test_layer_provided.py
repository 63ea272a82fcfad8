"""The provided.al2023 route, played locally: the layer's package with a Python the function
brings, on the OS-only runtime.

provided.al2023 has no Python: Lambda runs /var/task/bootstrap (or /opt/bootstrap) with the
environment of its base image (public.ecr.aws/lambda/provided:al2023), whose PATH is
/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin and whose LD_LIBRARY_PATH is
/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib
(aws/aws-lambda-base-images, Dockerfile.provided.al2023). A temporary root stands in for Lambda's,
with those two variables rooted in it:

- opt/: the x86_64 layer zip unpacked (lambda-wsgi, python/lambda_wsgi), and a second layer with
  the Python: bin/python3.X, lib/libpython3.X.so.1.0 and lib/python3.X/ (pyenv's 3.X stands in);
- var/task: the app and the `bootstrap` script the guide shows, which hands the layer's wrapper
  the Python to run: `exec /opt/lambda-wsgi /opt/bin/python3.X`;
- PYTHONHOME=<root>/opt, as the guide says to set.

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
# The bootstrap script a function brings (the guide shows it for python3.12).
BOOTSTRAP = "#!/bin/sh\nexec /opt/lambda-wsgi /opt/bin/python3.12\n"
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
    # The Python layer: the interpreter on PATH (/opt/bin), libpython where the loader looks
    # (/opt/lib), its standard library beside it.
    install = python_install(version)
    (opt / "bin").mkdir()
    (opt / "bin" / f"python{version}").symlink_to(install / "bin" / f"python{version}")
    (opt / "lib").mkdir()
    shutil.copy2(install / "lib" / f"libpython{version}.so.1.0", opt / "lib" / f"libpython{version}.so.1.0")
    (opt / "lib" / f"python{version}").symlink_to(install / "lib" / f"python{version}")
    task = root / "var" / "task"
    task.mkdir(parents=True)
    shutil.copy(APPS / "interpreter_info.py", task / "interpreter_info.py")
    # The guide's bootstrap, with /opt moved into the stand-in root.
    bootstrap = task / "bootstrap"
    bootstrap.write_text(BOOTSTRAP.replace("/opt/", f"{opt}/").replace("3.12", version))
    bootstrap.chmod(0o755)
    return root


def environment(root, **extra):
    return {"PATH": PATH.format(root=root), "LD_LIBRARY_PATH": LD_LIBRARY_PATH.format(root=root),
            "PYTHONHOME": str(root / "opt"), **extra}


@pytest.mark.parametrize("version", PYTHONS)
def test_the_layers_package_serves_with_a_python_brought_in_opt(version, tmp_path):
    root = provided_root(tmp_path, version)
    emulator = Emulator("interpreter_info.app", task_root=root / "var" / "task", tmp_path=tmp_path,
                        env=environment(root), bootstrap=root / "var" / "task" / "bootstrap")
    info = interpreter_info(emulator)
    assert ".".join(map(str, info["version"][:2])) == version
    # The standard library from PYTHONHOME, not from the prefix pyenv's Python was configured
    # with, and the extension from the lambda-wsgi layer.
    assert info["prefix"] == str(root / "opt")
    assert str(root / "opt" / "lib" / f"python{version}") in info["sys_path"]
    assert info["native"] == str(root / "opt" / "python" / "lambda_wsgi" / "_native.abi3.so")
    assert info["sys_path"][0] == str(root / "var" / "task")


def test_the_guide_shows_this_route():
    """What this test plays is what the guide (or the README) tells a user to do."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    text = "\n".join(page.read_text() for page in pages if page.exists())
    for line in BOOTSTRAP.splitlines()[1:]:
        assert line in text, f"no page shows {line!r}"
    assert "PYTHONHOME=/opt" in text
    assert "lib/libpython3.12.so.1.0" in text
