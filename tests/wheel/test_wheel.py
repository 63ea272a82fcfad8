"""The pip package as a user gets it: the wheels `make wheel` built (LAMBDA_WSGI_WHEELS), their
tags and ELF files, what pip does with them, and the layout `pip install -t` makes (what
`sam build` deploys) served through the exec wrapper from the task root.

The end-to-end suite through the wheel's exec wrapper, once per Python, and handler mode under
awslambdaric are `make test-wheel`'s other parts (tests/e2e with LAMBDA_WSGI_HOST).
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

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from conftest import APPS, Emulator  # noqa: E402

WHEELS = [Path(p) for p in os.environ.get("LAMBDA_WSGI_WHEELS", "").split()]
PYENV = Path.home() / ".pyenv" / "versions"
# Lambda's architectures as wheel platform tags, readelf's CPU names and the ELF loader's name.
ARCHES = {"x86_64": "Advanced Micro Devices X86-64", "aarch64": "AArch64"}
# manylinux2014 is glibc 2.17: no symbol of a newer glibc may be needed.
GLIBC_FLOOR = (2, 17)
# What the extension may link: glibc's libraries (an extension never links libpython: the
# interpreter that loads it provides the C API).
ALLOWED_NEEDED = {"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libgcc_s.so.1",
                  "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"}

pytestmark = pytest.mark.skipif(not WHEELS, reason="LAMBDA_WSGI_WHEELS is not set: run `make test-wheel`")


def python(version):
    found = sorted(PYENV.glob(f"{version}.*/bin/python{version}"))
    if not found:
        pytest.fail(f"Python {version} is not installed under {PYENV}")
    return str(found[-1])


def wheel(arch):
    [found] = [w for w in WHEELS if w.name.endswith(f"_{arch}.whl")]
    return found


@pytest.mark.parametrize("arch", sorted(ARCHES))
def test_one_abi3_manylinux2014_wheel_per_architecture(arch):
    path = wheel(arch)
    assert re.fullmatch(rf"lambda_wsgi_runtime-[\d.]+-cp310-abi3-manylinux2014_{arch}\.manylinux_2_17_{arch}\.whl", path.name)
    with zipfile.ZipFile(path) as archive:
        [dist_info] = {name.split("/")[0] for name in archive.namelist() if ".dist-info/" in name}
        tags = re.findall(r"^Tag: (\S+)$", archive.read(f"{dist_info}/WHEEL").decode(), re.MULTILINE)
        metadata = archive.read(f"{dist_info}/METADATA").decode()
    assert sorted(tags) == sorted([f"cp310-abi3-manylinux2014_{arch}", f"cp310-abi3-manylinux_2_17_{arch}"])
    assert "Requires-Python: >=3.10" in metadata
    print(f"{path.name}: {path.stat().st_size / 1e6:.2f} MB")


@pytest.mark.parametrize("arch", sorted(ARCHES))
def test_the_extension_needs_glibc_2_17_at_most_and_no_libpython(arch, tmp_path):
    with zipfile.ZipFile(wheel(arch)) as archive:
        [name] = [n for n in archive.namelist() if n.endswith(".so")]
        assert name == "lambda_wsgi/_native.abi3.so"
        archive.extract(name, tmp_path)
    binary = tmp_path / name
    header = subprocess.run(["readelf", "-h", binary], capture_output=True, text=True, check=True).stdout
    assert re.search(r"Machine:\s+(.+)", header).group(1).strip() == ARCHES[arch]
    dynamic = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True, check=True).stdout
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", dynamic))
    assert needed and needed <= ALLOWED_NEEDED, needed
    assert not any("python" in lib for lib in needed), needed
    symbols = subprocess.run(["objdump", "-T", binary], capture_output=True, text=True, check=True).stdout
    glibc = {tuple(map(int, v.split("."))) for v in re.findall(r"GLIBC_([0-9.]+)", symbols)}
    assert glibc and max(glibc) <= GLIBC_FLOOR, max(glibc)
    print(f"{arch}: highest GLIBC_{'.'.join(map(str, max(glibc)))}, NEEDED {sorted(needed)}")


def test_python_3_9_refuses_the_wheel(tmp_path):
    done = subprocess.run([python("3.9"), "-m", "pip", "install", "--no-deps", "--no-index", "--target", tmp_path / "t",
                           wheel("x86_64")], capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "is not a supported wheel on this platform" in done.stderr, done.stderr
    assert not (tmp_path / "t" / "lambda_wsgi").exists()


@pytest.fixture(scope="module")
def task_root(tmp_path_factory):
    """What `sam build` makes of a function whose requirements.txt says lambda-wsgi: the package
    installed with `pip install -t` beside the function's code."""
    root = tmp_path_factory.mktemp("var-task")
    subprocess.run([python("3.12"), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                    "--no-index", "--target", root, wheel("x86_64")], check=True, timeout=300)
    shutil.copy(APPS / "hello.py", root / "hello.py")
    shutil.copy(APPS / "interpreter_info.py", root / "interpreter_info.py")
    return root


def test_the_exec_wrapper_stays_executable_after_pip_install(task_root):
    wrapper = task_root / "lambda_wsgi" / "exec-wrapper"
    assert wrapper.is_file() and os.access(wrapper, os.X_OK), oct(wrapper.stat().st_mode)


def wrapper_launcher(tmp_path, task_root, interpreter):
    """Lambda's command line for a managed python3.x runtime, with AWS_LAMBDA_EXEC_WRAPPER set to
    the wrapper in /var/task: the wrapper, then the runtime's interpreter and bootstrap."""
    launcher = tmp_path / "bootstrap"
    launcher.write_text(f"#!/bin/sh\nexec {task_root}/lambda_wsgi/exec-wrapper {interpreter} /var/runtime/bootstrap.py\n")
    launcher.chmod(0o755)
    return launcher


def test_a_pip_install_t_layout_serves_through_the_wrapper_from_the_task_root(task_root, tmp_path):
    # A plain interpreter, no venv: lambda_wsgi is found in the task root, as on Lambda.
    launcher = wrapper_launcher(tmp_path, task_root, python("3.12"))
    emulator = Emulator("hello:app", task_root=task_root, bootstrap=launcher, tmp_path=tmp_path)
    try:
        status, _, body = emulator.request("POST", "/", body=b"12345")
        assert (status, body) == (200, b"hello POST 5"), emulator.logs()
    finally:
        emulator.stop()
    info_emulator = Emulator("interpreter_info:app", task_root=task_root, bootstrap=launcher, tmp_path=tmp_path)
    try:
        status, _, body = info_emulator.request("GET", "/")
    finally:
        info_emulator.stop()
    assert status == 200, info_emulator.logs()
    seen = json.loads(body)
    assert seen["version"][:2] == [3, 12] and seen["sys_path"][0] == str(task_root), seen
    # The wheel carries the runtime's helpers compiled for each Python it was built with.
    assert seen["helpers_precompiled"] is True


def test_the_wrapper_hands_a_non_python_runtime_back_unchanged(task_root, tmp_path):
    # provided.al2023 or a mistaken setting: the wrapper must not break the function.
    done = subprocess.run([task_root / "lambda_wsgi" / "exec-wrapper", "/bin/echo", "started", "as", "is"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and done.stdout == "started as is\n"
    assert "is not a Python 3.10 or later interpreter" in done.stderr


def test_a_python3_below_3_10_hands_back_to_the_runtime_it_was_given(task_root, tmp_path):
    # `python3` says no version: the interpreter judges itself, then execs the original command.
    named = tmp_path / "bin" / "python3"
    named.parent.mkdir()
    named.symlink_to(python("3.9"))
    script = tmp_path / "bootstrap.py"
    script.write_text("import sys; print('the runtime ran on', sys.version_info[:2])\n")
    done = subprocess.run([task_root / "lambda_wsgi" / "exec-wrapper", named, script],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "the runtime ran on (3, 9)\n"
    assert f"lambda-wsgi: {named} is Python 3.9." in done.stderr and "not 3.10 or later" in done.stderr


def test_a_package_that_cannot_load_its_extension_says_why(task_root, tmp_path):
    # The wheel of the other CPU (or a broken install): no traceback, one line saying what to fix.
    broken = tmp_path / "task"
    shutil.copytree(task_root / "lambda_wsgi", broken / "lambda_wsgi")
    (broken / "lambda_wsgi" / "_native.abi3.so").write_bytes(b"\x7fELF not really")
    done = subprocess.run([broken / "lambda_wsgi" / "exec-wrapper", python("3.12"), "/var/runtime/bootstrap.py"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "lambda-wsgi: cannot load its extension module" in done.stderr, done.stderr
    assert "the wheel for this CPU" in done.stderr and "Traceback" not in done.stderr


SAM_PIP = ROOT / "sam-templates" / "pip"


def sam_function(template):
    """The function's Handler and variables in one of the pip-route templates."""
    from cfnlint.decode.decode import decode_str

    decoded, errors = decode_str((SAM_PIP / template).read_text())
    assert not errors, errors
    properties = decoded["Resources"]["AppFunction"]["Properties"]
    return properties["Handler"], dict(properties["Environment"]["Variables"])


@pytest.fixture(scope="module")
def sam_built(tmp_path_factory):
    """What `sam build` makes of sam-templates/pip/app: its requirements.txt installed by pip for
    Lambda's platform into the package, with the wheels' folder as `PIP_FIND_LINKS` (as the
    template's requirements.txt says to run sam build until the package is on PyPI), and its code."""
    root = tmp_path_factory.mktemp("sam-build")
    env = {**os.environ, "PIP_FIND_LINKS": str(wheel("x86_64").parent)}
    subprocess.run([python("3.12"), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--target", root,
                    "--platform", "manylinux2014_x86_64", "--python-version", "3.12", "--only-binary=:all:",
                    "-r", SAM_PIP / "app" / "requirements.txt"], check=True, timeout=600, env=env)
    # The pinned requirement resolved to this repository's wheel, not to a namesake on the index.
    assert (root / "lambda_wsgi" / "_native.abi3.so").is_file() and (root / "flask").is_dir()
    shutil.copy(SAM_PIP / "app" / "app.py", root / "app.py")
    return root


def test_the_sam_wrapper_template_serves_its_app(sam_built, tmp_path):
    handler, variables = sam_function("http-api.yaml")
    wrapper = variables.pop("AWS_LAMBDA_EXEC_WRAPPER")
    assert wrapper.startswith("/var/task/")
    venv = ROOT / ".venv-3.12"
    launcher = tmp_path / "bootstrap"
    launcher.write_text(f"#!/bin/sh\nexec {sam_built}/{wrapper.removeprefix('/var/task/')} "
                        f"{venv}/bin/python3.12 /var/runtime/bootstrap.py\n")
    launcher.chmod(0o755)
    emulator = Emulator(handler, task_root=sam_built, bootstrap=launcher, tmp_path=tmp_path, env=variables)
    try:
        status, headers, _ = emulator.request("GET", "/go")
        assert status == 302 and {k.lower(): v for k, v in headers}["location"] == "/", emulator.logs()
        status, _, body = emulator.request("GET", "/")
        assert status == 200 and json.loads(body)["json"] == "/json", emulator.logs()
    finally:
        emulator.stop()


def test_the_sam_handler_template_serves_its_app_under_awslambdaric(sam_built, tmp_path):
    handler, variables = sam_function("handler.yaml")
    interpreter = os.environ.get("LAMBDA_WSGI_HANDLER_PYTHON")
    if not interpreter:
        pytest.fail("LAMBDA_WSGI_HANDLER_PYTHON is not set: run `make test-wheel` (its venv has awslambdaric)")
    launcher = tmp_path / "bootstrap"
    launcher.write_text(f"#!/bin/sh\nexec {interpreter} -m awslambdaric \"$_HANDLER\"\n")
    launcher.chmod(0o755)
    emulator = Emulator(handler, task_root=sam_built, bootstrap=launcher, tmp_path=tmp_path, env=variables,
                        event_format="rest")
    try:
        status, _, body = emulator.request("GET", "/json")
        assert status == 200 and json.loads(body) == {"ok": True}, emulator.logs()
    finally:
        emulator.stop()


SDIST = os.environ.get("LAMBDA_WSGI_SDIST")


def test_the_sdist_builds_with_pip_where_rust_is_and_serves(tmp_path):
    """`pip install lambda_wsgi_runtime-*.tar.gz` on a machine with cargo: maturin (fetched by pip as the
    build backend) compiles the extension for that machine's Python, and the package it installs
    answers an event. Built with cargo's dev profile (MATURIN_PEP517_ARGS) to keep the test short;
    what a user gets is the same code in release."""
    if not SDIST:
        pytest.fail("LAMBDA_WSGI_SDIST is not set: run `make test-wheel`")
    venv = tmp_path / "venv"
    subprocess.run([python("3.12"), "-m", "venv", venv], check=True, timeout=120)
    env = {**os.environ, "MATURIN_PEP517_ARGS": "--profile dev",
           # The dev build of the Python 3.12 bootstrap's folder: the dependencies the two share
           # (tokio, hyper, serde...) are compiled once.
           "CARGO_TARGET_DIR": str(ROOT / "target" / "py3.12")}
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run([venv / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check",
                           SDIST], capture_output=True, text=True, timeout=1800, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    probe = (
        "import json, sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "import lambda_wsgi, hello\n"
        "handler = lambda_wsgi.make_handler(hello.app)\n"
        "event = {'version': '2.0', 'rawPath': '/', 'rawQueryString': '', 'headers': {'host': 'x'},\n"
        "         'requestContext': {'http': {'method': 'GET', 'path': '/', 'sourceIp': '1.2.3.4'}, 'stage': '$default'}}\n"
        "class Context:\n"
        "    aws_request_id = 'r1'\n"
        "    invoked_function_arn = 'arn:aws:lambda:us-east-1:1:function:f'\n"
        "    def get_remaining_time_in_millis(self): return 3000\n"
        "print(json.dumps({'file': lambda_wsgi._native.__file__, 'answer': json.loads(handler(event, Context()))}))\n")
    ran = subprocess.run([venv / "bin" / "python", "-c", probe, str(APPS)], capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin", "AWS_LAMBDA_FUNCTION_NAME": "f", "AWS_REGION": "us-east-1"})
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    assert result["file"].startswith(str(venv)) and result["file"].endswith(".so"), result
    assert result["answer"]["statusCode"] == 200, result
