"""The layer on a managed python3.x runtime, played locally.

A temporary root stands in for Lambda's: the layer zip unpacked in opt/ (Lambda unpacks layers
in /opt), the function code in var/task, and var/lang holding the runtime's Python (bin/python3.X
and lib/). Lambda starts the exec wrapper with the runtime's own command line,
`/var/lang/bin/python3.X /var/runtime/bootstrap.py`; so does this test, through the emulator.

The layer is the pip package's wheel as `pip install --target` lays it out in python/, the
wrapper users point at (/opt/lambda-wsgi) and the remote-config helper (layer/build.py). The
layers come from `make layer` (both zips, in LAMBDA_WSGI_LAYER_DIR); `make test-layer` builds
them and runs this. Here: what every file in both zips is, what every ELF file needs from the
system, and the x86_64 layer on the Pythons pyenv has. The arm64 layer and Python 3.14 run in
roots made of Debian's packages (test_layer_roots.py).
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
# The oldest OS of a python3.x runtime: Amazon Linux 2 (python3.10 and 3.11), glibc 2.26; the
# extension is a manylinux2014 wheel's (glibc 2.17). Amazon Linux 2023 (3.12+) has 2.34.
AMAZON_LINUX_2 = (2, 26)
MANYLINUX2014 = (2, 17)
# Lambda's architecture name -> what `readelf -h` calls its CPU, `uname -m` on it, the wheel's CPU.
ARCHES = {"x86_64": ("Advanced Micro Devices X86-64", "x86_64", "x86_64"),
          "arm64": ("AArch64", "aarch64", "aarch64")}
# What a Lambda environment has for a program to link against: glibc's own libraries and the GCC
# runtime (on Amazon Linux 2 and 2023 alike). Never libpython: the extension takes the symbols
# of the interpreter that loads it.
SYSTEM_LIBRARIES = {"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libgcc_s.so.1",
                    "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"}
# The pyenv Pythons run here as x86_64 managed runtimes; 3.14 and arm64 run in Debian roots.
PYENV_PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
WHEELS = os.environ.get("LAMBDA_WSGI_WHEELS", "").split()


def python_install(version):
    """The pyenv install of `version` (e.g. 3.12): what /var/lang is on Lambda."""
    found = sorted(PYENV.glob(f"{version}.*"))
    if not found:
        pytest.fail(f"Python {version} is not installed under {PYENV}")
    return found[-1]


def layer_zip(arch):
    return Path(LAYER_DIR) / f"lambda-wsgi-layer-{arch}.zip"


def wheel_for(arch):
    cpu = ARCHES[arch][2]
    found = [w for w in WHEELS if w.endswith(f"_{cpu}.whl")]
    if len(found) != 1:
        pytest.fail(f"LAMBDA_WSGI_WHEELS must name one {cpu} wheel (make test-layer sets it): {WHEELS}")
    return Path(found[0])


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


def unpack(zip_path, into):
    """Unzips as Lambda does, with the modes the zip records."""
    with zipfile.ZipFile(zip_path) as layer:
        layer.extractall(into)
        for info in layer.infolist():
            (into / info.filename).chmod(info.external_attr >> 16 & 0o777)


@pytest.fixture(scope="module")
def lambda_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("lambda-root")
    unpack(LAYER, root / "opt")
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


def lang_for(root, version, name=None):
    """var/lang-<version>: bin/python3.X and lib/ of that Python, as the python3.X runtime has
    (`name`: what the interpreter is called, when a test needs another name for it)."""
    lang = root / "var" / f"lang-{name or version}"
    if not lang.exists():
        install = python_install(version)
        (lang / "bin").mkdir(parents=True)
        (lang / "bin" / (name or f"python{version}")).symlink_to(install / "bin" / f"python{version}")
        (lang / "lib").symlink_to(install / "lib")
    return lang


def start(root, version, handler, tmp_path, *, env=None):
    lang = lang_for(root, version)
    environment = {
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{version}",
        "LD_LIBRARY_PATH": str(lang / "lib"),
        **(env or {}),
    }
    return Emulator(handler, task_root=root / "var" / "task", tmp_path=tmp_path, env=environment,
                    bootstrap=root / "opt" / "lambda-wsgi",
                    runtime_args=[lang / "bin" / f"python{version}", root / "var" / "runtime" / "bootstrap.py"])


def managed_runtime_started(root, opt, interpreter):
    """Runs the wrapper in `opt` with `interpreter` as the runtime's, and checks that it handed
    over to the managed runtime (which reports itself); returns the stderr."""
    done = subprocess.run(
        [str(EMULATOR), "invoke", "--bootstrap", str(opt / "lambda-wsgi"),
         "--arg", str(interpreter), "--arg", str(root / "var" / "runtime" / "bootstrap.py"),
         "--handler", "app.app", "--task-root", str(root / "var" / "task"), "-"],
        input=b"{}", capture_output=True, timeout=60)
    assert done.returncode == 2, done.stderr.decode()
    assert json.loads(done.stdout)["errorType"] == "Fake.ManagedRuntime", done.stderr.decode()
    return done.stderr


@pytest.mark.parametrize("arch", sorted(ARCHES))
def test_each_layer_is_the_wrapper_the_wheel_installed_in_python_and_the_helper(arch):
    with zipfile.ZipFile(layer_zip(arch)) as layer:
        infos = {info.filename: info for info in layer.infolist()}
        wrapper = layer.read("lambda-wsgi").decode()
        packaged = {name.removeprefix("python/"): layer.read(name) for name in infos
                    if name.startswith("python/lambda_wsgi/") and "/__pycache__/" not in name}
        bytecode = {name for name in infos if "/__pycache__/" in name}
    modes = {name: info.external_attr >> 16 & 0o777 for name, info in infos.items()}
    assert modes["lambda-wsgi"] == 0o755 and modes["lambda-wsgi-bin/lambda-wsgi-remote-config"] == 0o755
    assert modes["python/lambda_wsgi/exec-wrapper"] & 0o111, "pip keeps the exec wrapper executable"
    # The wrapper knows which CPU its package is for.
    assert f"layer_machine={ARCHES[arch][1]} " in wrapper and "@MACHINE@" not in wrapper
    # No per-Python bootstrap any more: one abi3 extension serves every Python.
    assert not [name for name in infos if "bootstrap-py" in name], sorted(infos)
    assert [name for name in infos if name.startswith("python/lambda_wsgi_runtime-") and name.endswith(".dist-info/METADATA")]
    # The package is the wheel's, byte for byte.
    with zipfile.ZipFile(wheel_for(arch)) as wheel:
        in_wheel = {name: wheel.read(name) for name in wheel.namelist() if name.startswith("lambda_wsgi/")}
    assert packaged == in_wheel
    assert "lambda_wsgi/_native.abi3.so" in packaged
    # /opt is read-only: each module comes compiled for every Python this machine has.
    modules = [name.removeprefix("lambda_wsgi/").removesuffix(".py") for name in packaged if name.endswith(".py")]
    for version in PYENV_PYTHONS:
        tag = version.replace(".", "")
        for module in modules:
            assert f"python/lambda_wsgi/__pycache__/{module}.cpython-{tag}.pyc" in bytecode, (module, version)
    # Nothing of the build machine's pip install: no path of it, no installer's notes.
    assert not [name for name in infos if name.endswith(("direct_url.json", "/INSTALLER", "/REQUESTED"))]


@pytest.mark.parametrize("arch", sorted(ARCHES))
def test_every_elf_file_loads_on_amazon_linux_2(arch, tmp_path):
    """CPU, glibc, libraries and library path of every binary: what the loader checks at a cold start."""
    unpack(layer_zip(arch), tmp_path)
    cpu = ARCHES[arch][0]
    extension = tmp_path / "python" / "lambda_wsgi" / "_native.abi3.so"
    helper = tmp_path / "lambda-wsgi-bin" / "lambda-wsgi-remote-config"
    for binary, oldest in ((extension, MANYLINUX2014), (helper, AMAZON_LINUX_2)):
        machine, glibc, needed, paths = elf(binary)
        assert machine == cpu, f"{binary.name} is for {machine}"
        assert glibc, f"{binary.name}: no glibc symbols found (not a dynamic binary?)"
        assert max(glibc) <= oldest, f"{binary.name} needs GLIBC_{max(glibc)}, more than {oldest}"
        assert set(needed) <= SYSTEM_LIBRARIES, needed
        assert paths == [], f"{binary.name}: library paths {paths}"


def test_the_layer_of_the_other_architecture_starts_the_managed_runtime(lambda_root, tmp_path):
    """The arm64 layer on an x86_64 function: its extension cannot load here, so the wrapper steps aside."""
    opt = tmp_path / "opt"
    unpack(layer_zip("arm64"), opt)
    stderr = managed_runtime_started(lambda_root, opt, lang_for(lambda_root, "3.11") / "bin" / "python3.11")
    assert b"this is the aarch64 layer, but the function runs on x86_64" in stderr, stderr


@pytest.mark.parametrize("version", PYENV_PYTHONS)
def test_the_wrapper_runs_the_runtimes_python_on_the_layers_extension(lambda_root, version, tmp_path):
    emulator = start(lambda_root, version, "interpreter_info.app", tmp_path)
    info = interpreter_info(emulator)
    assert ".".join(map(str, info["version"][:2])) == version
    # The runtime's own interpreter runs the loop (the wrapper execs it).
    assert Path(info["executable"]).resolve() == (python_install(version) / "bin" / f"python{version}").resolve()
    # The extension from /opt/python, whichever Python loads it.
    assert info["native"] == str(lambda_root / "opt" / "python" / "lambda_wsgi" / "_native.abi3.so")
    assert info["sys_path"][0] == str(lambda_root / "var" / "task")
    # The wheel was built with a local python3.X, so it carries the helpers as its bytecode.
    assert info["helpers_precompiled"] is True


def test_the_flask_example_serves_through_the_layer(lambda_root, tmp_path):
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    site_packages = next(Path(sys.prefix).glob("lib/python*/site-packages"))
    # Flask from the test venv stands in for a dependencies layer on PYTHONPATH.
    emulator = start(lambda_root, version, "app.app", tmp_path, env={"PYTHONPATH": str(site_packages)})
    try:
        status, _, body = emulator.request("GET", "/search?tag=a&tag=b")
    finally:
        emulator.stop()
    assert status == 200, emulator.logs()
    assert json.loads(body)["tags"] == ["a", "b"]


def test_the_wrapper_points_the_runtime_at_the_layers_remote_config_helper(lambda_root, tmp_path):
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
    assert error["errorType"] == "Runtime.RemoteConfigError", error
    assert "WSGI_CONFIG_SSM_PATH=/app/prod" in error["errorMessage"]


def test_a_python_below_3_10_starts_the_managed_runtime(lambda_root):
    # python3.9's runtime command line (the interpreter underneath is any Python: it only runs
    # the managed runtime's bootstrap.py, which reports itself).
    interpreter = lang_for(lambda_root, "3.11", name="python3.9") / "bin" / "python3.9"
    stderr = managed_runtime_started(lambda_root, lambda_root / "opt", interpreter)
    assert b"is not a Python 3.10 or later interpreter" in stderr, stderr
