"""The layer on a managed python3.x runtime, played locally.

A temporary root stands in for Lambda's: the layer zip unpacked in opt/ (Lambda unpacks layers
in /opt), the function code in var/task, and var/lang holding the runtime's Python (bin/python3.X
and lib/, where libpython lives; the bootstrap's rpath names /var/lang/lib, and LD_LIBRARY_PATH
points the loader at our stand-in for it). Lambda starts the exec wrapper with the runtime's own
command line, `/var/lang/bin/python3.X /var/runtime/bootstrap.py`; so does this test, through the
emulator.

The layers come from `make layer` (both zips, in LAMBDA_WSGI_LAYER_DIR); `make test-layer` builds
them and runs this. Here: what every ELF file in both zips needs from the system, and the x86_64
bootstraps of the Pythons pyenv has, each run as its managed runtime would run it. The arm64
bootstraps and Python 3.14 run in roots made of Debian's packages (test_layer_roots.py).
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

from conftest import APPS, EMULATOR, Emulator, ROOT, interpreter_info

LAYER_DIR = os.environ.get("LAMBDA_WSGI_LAYER_DIR")
LAYER = LAYER_DIR and str(Path(LAYER_DIR) / "lambda-wsgi-layer-x86_64.zip")
PYENV = Path.home() / ".pyenv" / "versions"
pytestmark = pytest.mark.skipif(not LAYER_DIR, reason="LAMBDA_WSGI_LAYER_DIR is not set: run `make test-layer`")
# Every managed Python the layers serve, and the glibc of the OS its runtime runs on: Amazon Linux 2
# for python3.10 and 3.11, Amazon Linux 2023 for 3.12 and later (AWS's runtime table).
GLIBC_OF = {"3.10": (2, 26), "3.11": (2, 26), "3.12": (2, 34), "3.13": (2, 34), "3.14": (2, 34)}
# Lambda's architecture name -> what `readelf -h` calls its CPU, and what `uname -m` says on it.
ARCHES = {"x86_64": ("Advanced Micro Devices X86-64", "x86_64"), "arm64": ("AArch64", "aarch64")}
# What a Lambda environment has for a program to link against, besides the runtime's libpython:
# glibc's own libraries and the GCC runtime (on Amazon Linux 2 and 2023 alike).
SYSTEM_LIBRARIES = {"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libgcc_s.so.1",
                    "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"}
# The pyenv Pythons run here as x86_64 managed runtimes; 3.14 and arm64 run in Debian roots.
PYENV_PYTHONS = ["3.10", "3.11", "3.12", "3.13"]


def python_install(version):
    """The pyenv install of `version` (e.g. 3.12): what /var/lang is on Lambda."""
    found = sorted(PYENV.glob(f"{version}.*"))
    if not found:
        pytest.fail(f"Python {version} is not installed under {PYENV}")
    return found[-1]


def layer_zip(arch):
    return Path(LAYER_DIR) / f"lambda-wsgi-layer-{arch}.zip"


def bootstraps(arch):
    """{python version: file name} of the bootstraps in that architecture's zip."""
    with zipfile.ZipFile(layer_zip(arch)) as layer:
        return {found.group(1): name for name in layer.namelist()
                if (found := re.fullmatch(r"lambda-wsgi-bin/bootstrap-py(3\.\d+)-(\w+)", name))}


def elf(binary):
    """(CPU, {GLIBC_ versions}, [NEEDED], [RPATH and RUNPATH]) of an ELF file, as readelf and objdump tell."""
    header = subprocess.run(["readelf", "-h", str(binary)], capture_output=True, text=True, check=True).stdout
    machine = re.search(r"Machine:\s+(.+)", header).group(1).strip()
    dynamic = subprocess.run(["readelf", "-d", str(binary)], capture_output=True, text=True, check=True).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", dynamic)
    paths = re.findall(r"\((?:RPATH|RUNPATH)\)\s+Library r(?:un)?path: \[(.+?)\]", dynamic)
    symbols = subprocess.run(["objdump", "-T", str(binary)], capture_output=True, text=True, check=True).stdout
    glibc = {tuple(map(int, v.split("."))) for v in re.findall(r"GLIBC_([0-9.]+)", symbols)}
    return machine, glibc, needed, paths


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


def managed_runtime_started(root, opt, execution_env):
    """Runs the wrapper in `opt` as python3.11's runtime would, with AWS_EXECUTION_ENV as given, and
    checks that it handed over to the managed runtime (which reports itself); returns the stderr."""
    lang = lang_for(root, "3.11")
    done = subprocess.run(
        [str(EMULATOR), "invoke", "--bootstrap", str(opt / "lambda-wsgi"),
         "--arg", str(lang / "bin" / "python3.11"), "--arg", str(root / "var" / "runtime" / "bootstrap.py"),
         "--handler", "app.app", "--task-root", str(root / "var" / "task"),
         "--env", f"AWS_EXECUTION_ENV={execution_env}", "--env", f"LD_LIBRARY_PATH={lang / 'lib'}", "-"],
        input=b"{}", capture_output=True, timeout=60)
    assert done.returncode == 2, done.stderr.decode()
    assert json.loads(done.stdout)["errorType"] == "Fake.ManagedRuntime"
    return done.stderr


@pytest.mark.parametrize("arch", sorted(ARCHES))
def test_each_layer_holds_the_wrapper_a_bootstrap_per_python_and_the_helper(arch):
    with zipfile.ZipFile(layer_zip(arch)) as layer:
        names = set(layer.namelist())
        modes = {info.filename: info.external_attr >> 16 for info in layer.infolist()}
    machine = ARCHES[arch][1]
    assert "lambda-wsgi" in names
    assert "lambda-wsgi-bin/lambda-wsgi-remote-config" in names
    assert bootstraps(arch) == {v: f"lambda-wsgi-bin/bootstrap-py{v}-{machine}" for v in GLIBC_OF}
    assert all(mode & 0o111 for mode in modes.values()), "every file in the layer must be executable"


@pytest.mark.parametrize("arch", sorted(ARCHES))
def test_every_elf_file_runs_on_the_os_of_its_python(arch, tmp_path):
    """CPU, glibc, libraries and library path of every binary: what the loader checks at a cold start."""
    with zipfile.ZipFile(layer_zip(arch)) as layer:
        layer.extractall(tmp_path)
    cpu = ARCHES[arch][0]
    for version, name in bootstraps(arch).items():
        machine, glibc, needed, paths = elf(tmp_path / name)
        assert machine == cpu, f"{name} is for {machine}"
        assert glibc, f"{name}: no glibc symbols found (not a dynamic binary?)"
        assert max(glibc) <= GLIBC_OF[version], f"{name} needs GLIBC_{max(glibc)}, more than python{version}'s OS"
        # The runtime's libpython by its SONAME, found in /var/lang/lib and nowhere else.
        assert f"libpython{version}.so.1.0" in needed, needed
        assert set(needed) - {f"libpython{version}.so.1.0"} <= SYSTEM_LIBRARIES, needed
        assert paths == ["/var/lang/lib"], f"{name}: library paths {paths}"
    helper = tmp_path / "lambda-wsgi-bin" / "lambda-wsgi-remote-config"
    machine, glibc, needed, paths = elf(helper)
    assert machine == cpu
    # One helper serves every Python of the layer: it must load on the oldest OS (Amazon Linux 2).
    assert glibc and max(glibc) <= min(GLIBC_OF.values()), f"the helper needs GLIBC_{max(glibc)}"
    assert set(needed) <= SYSTEM_LIBRARIES, needed
    assert paths == []


def test_the_layer_of_the_other_architecture_starts_the_managed_runtime(lambda_root, tmp_path):
    """The arm64 layer on an x86_64 function: no bootstrap for this CPU, so the wrapper steps aside."""
    opt = tmp_path / "opt"
    with zipfile.ZipFile(layer_zip("arm64")) as layer:
        layer.extractall(opt)
    (opt / "lambda-wsgi").chmod(0o755)
    stderr = managed_runtime_started(lambda_root, opt, "AWS_Lambda_python3.11")
    assert b"no bootstrap for Python '3.11' on x86_64" in stderr
    assert b"3.11-aarch64" in stderr  # the log line says what the layer has


@pytest.mark.parametrize("version", PYENV_PYTHONS)
def test_the_wrapper_runs_the_bootstrap_for_the_runtimes_python(lambda_root, version, tmp_path):
    emulator = start(lambda_root, version, "interpreter_info.app", tmp_path)
    info = interpreter_info(emulator)
    assert ".".join(map(str, info["version"][:2])) == version
    # The libpython of "/var/lang/lib", i.e. the runtime's, not one from the build machine.
    assert info["libpython"].startswith(str(python_install(version) / "lib")), info["libpython"]
    assert info["sys_path"][0] == str(lambda_root / "var" / "task")
    # Built with a local python3.X, the bootstrap carries its helpers as bytecode (no compile at init).
    assert info["helpers_precompiled"] is True


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
    stderr = managed_runtime_started(lambda_root, lambda_root / "opt", "AWS_Lambda_python3.9")
    assert b"no bootstrap for Python '3.9' on x86_64" in stderr
