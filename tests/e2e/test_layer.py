"""The layer on a managed python3.x runtime, played locally.

A temporary root stands in for Lambda's: the layer zip unpacked in opt/ (Lambda unpacks layers
in /opt), the function code in var/task, and var/lang holding the runtime's Python (bin/python3.X
and lib/, where libpython lives; the bootstrap's rpath names /var/lang/lib, and LD_LIBRARY_PATH
points the loader at our stand-in for it). Lambda starts the exec wrapper with the runtime's own
command line, `/var/lang/bin/python3.X /var/runtime/bootstrap.py`; so does this test, through the
emulator.

The layer comes from `make layer` (LAMBDA_WSGI_LAYER); `make test-layer` builds it and runs this.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import APPS, EMULATOR, ROOT, Emulator

LAYER = os.environ.get("LAMBDA_WSGI_LAYER")
PYENV = Path.home() / ".pyenv" / "versions"
pytestmark = pytest.mark.skipif(not LAYER, reason="LAMBDA_WSGI_LAYER is not set: run `make test-layer`")
MAX_GLIBC = (2, 34)


def python_install(version):
    """The pyenv install of `version` (e.g. 3.12): what /var/lang is on Lambda."""
    found = sorted(PYENV.glob(f"{version}.*"))
    if not found:
        pytest.fail(f"Python {version} is not installed under {PYENV}")
    return found[-1]


def layer_versions():
    with zipfile.ZipFile(LAYER) as layer:
        return sorted(re.findall(r"bootstrap-py(3\.\d+)$", name)[0] for name in layer.namelist()
                      if "bootstrap-py" in name)


@pytest.fixture(scope="module")
def lambda_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("lambda-root")
    opt = root / "opt"
    with zipfile.ZipFile(LAYER) as layer:
        layer.extractall(opt)
        for info in layer.infolist():
            (opt / info.filename).chmod(info.external_attr >> 16 & 0o777)
    task = root / "var" / "task"
    task.mkdir(parents=True)
    shutil.copy(ROOT / "examples" / "flask" / "app.py", task / "app.py")
    shutil.copy(APPS / "interpreter_info.py", task / "interpreter_info.py")
    runtime = root / "var" / "runtime"
    runtime.mkdir()
    # The managed runtime's own bootstrap, for when the wrapper hands over: it reports itself.
    (runtime / "bootstrap.py").write_text(
        "import json, os, urllib.request\n"
        "url = f\"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime/init/error\"\n"
        "body = json.dumps({'errorType': 'Fake.ManagedRuntime', 'errorMessage': 'the managed runtime ran'})\n"
        "urllib.request.urlopen(urllib.request.Request(url, data=body.encode(), method='POST'))\n")
    return root


def lang_for(root, version):
    """var/lang-<version>: bin/python3.X and lib/ of that Python, as the python3.X runtime has."""
    lang = root / "var" / f"lang-{version}"
    if not lang.exists():
        install = python_install(version)
        (lang / "bin").mkdir(parents=True)
        (lang / "bin" / f"python{version}").symlink_to(install / "bin" / f"python{version}")
        (lang / "lib").symlink_to(install / "lib")
    return lang


def start(root, version, handler, tmp_path, *, execution_env=None, env=None):
    lang = lang_for(root, version)
    environment = {
        "AWS_EXECUTION_ENV": execution_env or f"AWS_Lambda_python{version}",
        "LD_LIBRARY_PATH": str(lang / "lib"),
        **(env or {}),
    }
    return Emulator(handler, task_root=root / "var" / "task", tmp_path=tmp_path, env=environment,
                    bootstrap=root / "opt" / "lambda-wsgi",
                    runtime_args=[lang / "bin" / f"python{version}", root / "var" / "runtime" / "bootstrap.py"])


def test_the_layer_holds_the_wrapper_and_a_bootstrap_per_python():
    with zipfile.ZipFile(LAYER) as layer:
        names = set(layer.namelist())
        modes = {info.filename: info.external_attr >> 16 for info in layer.infolist()}
    assert "lambda-wsgi" in names
    assert "lambda-wsgi-bin/lambda-wsgi-remote-config" in names
    assert layer_versions() == ["3.11", "3.12", "3.13"]
    assert all(mode & 0o111 for mode in modes.values()), "every file in the layer must be executable"


def test_no_binary_needs_a_glibc_newer_than_amazon_linux_2023(tmp_path):
    with zipfile.ZipFile(LAYER) as layer:
        layer.extractall(tmp_path)
    for binary in sorted(tmp_path.glob("lambda-wsgi-bin/bootstrap-*")):
        dump = subprocess.run(["objdump", "-T", str(binary)], capture_output=True, text=True, check=True).stdout
        versions = {tuple(map(int, v.split("."))) for v in re.findall(r"GLIBC_([0-9.]+)", dump)}
        assert versions, f"{binary.name}: no glibc symbols found (not a dynamic binary?)"
        assert max(versions) <= MAX_GLIBC, f"{binary.name} needs GLIBC_{'.'.join(map(str, max(versions)))}"
        rpath = subprocess.run(["readelf", "-d", str(binary)], capture_output=True, text=True, check=True).stdout
        assert "[/var/lang/lib]" in rpath, f"{binary.name}: the rpath must be /var/lang/lib only:\n{rpath}"
    helper = tmp_path / "lambda-wsgi-bin" / "lambda-wsgi-remote-config"
    dump = subprocess.run(["objdump", "-T", str(helper)], capture_output=True, text=True, check=True).stdout
    versions = {tuple(map(int, v.split("."))) for v in re.findall(r"GLIBC_([0-9.]+)", dump)}
    assert versions and max(versions) <= MAX_GLIBC, f"the remote-config helper needs GLIBC_{max(versions)}"


@pytest.mark.parametrize("version", ["3.11", "3.12", "3.13"])
def test_the_wrapper_runs_the_bootstrap_for_the_runtimes_python(lambda_root, version, tmp_path):
    emulator = start(lambda_root, version, "interpreter_info.app", tmp_path)
    try:
        status, _, body = emulator.request("GET", "/")
    finally:
        emulator.stop()
    assert status == 200, emulator.logs()
    info = json.loads(body)
    assert ".".join(map(str, info["version"][:2])) == version
    # The libpython of "/var/lang/lib", i.e. the runtime's, not one from the build machine.
    assert info["libpython"].startswith(str(python_install(version) / "lib")), info["libpython"]
    assert info["sys_path"][0] == str(lambda_root / "var" / "task")


def test_the_flask_example_serves_through_the_layer(lambda_root, tmp_path):
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    site_packages = next(Path(sys.prefix).glob("lib/python*/site-packages"))
    # Flask from the test venv stands in for /opt/python (a dependencies layer) on PYTHONPATH.
    emulator = start(lambda_root, version, "app.app", tmp_path, env={"PYTHONPATH": str(site_packages)})
    try:
        status, _, body = emulator.request("GET", "/search?tag=a&tag=b")
    finally:
        emulator.stop()
    assert status == 200, emulator.logs()
    assert b"a" in body and b"b" in body


def test_the_bootstrap_finds_the_remote_config_helper_beside_it(lambda_root, tmp_path):
    lang = lang_for(lambda_root, "3.11")
    done = subprocess.run(
        [str(EMULATOR), "invoke", "--bootstrap", str(lambda_root / "opt" / "lambda-wsgi"),
         "--arg", str(lang / "bin" / "python3.11"), "--handler", "interpreter_info.app",
         "--task-root", str(lambda_root / "var" / "task"),
         "--env", "AWS_EXECUTION_ENV=AWS_Lambda_python3.11", "--env", f"LD_LIBRARY_PATH={lang / 'lib'}",
         # Nothing listens there: the helper runs, fails, and the init error names the setting.
         "--env", "WSGI_CONFIG_SSM_PATH=/app/prod", "--env", "AWS_ENDPOINT_URL=http://127.0.0.1:9",
         "--env", "AWS_MAX_ATTEMPTS=1", "-"],
        input=b"{}", capture_output=True, timeout=120)
    assert done.returncode == 2, done.stderr.decode()
    error = json.loads(done.stdout)
    assert error["errorType"] == "Runtime.RemoteConfigError"
    assert "WSGI_CONFIG_SSM_PATH=/app/prod" in error["errorMessage"]


def test_a_python_without_a_bootstrap_starts_the_managed_runtime(lambda_root, tmp_path):
    lang = lang_for(lambda_root, "3.11")
    done = subprocess.run(
        [str(EMULATOR), "invoke", "--bootstrap", str(lambda_root / "opt" / "lambda-wsgi"),
         "--arg", str(lang / "bin" / "python3.11"), "--arg", str(lambda_root / "var" / "runtime" / "bootstrap.py"),
         "--handler", "app.app", "--task-root", str(lambda_root / "var" / "task"),
         "--env", "AWS_EXECUTION_ENV=AWS_Lambda_python3.9", "--env", f"LD_LIBRARY_PATH={lang / 'lib'}", "-"],
        input=b"{}", capture_output=True, timeout=60)
    assert done.returncode == 2, done.stderr.decode()
    assert json.loads(done.stdout)["errorType"] == "Fake.ManagedRuntime"
    assert b"no bootstrap for Python '3.9'" in done.stderr
