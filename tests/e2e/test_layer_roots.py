"""The layer in stand-in Lambda roots made of Debian packages, arm64 ones under qemu-user.

test_layer.py plays a managed python3.x runtime with this machine's own Pythons (x86_64, pyenv).
Here the root is a whole other system (lambda_roots.py builds it and says what is in it): the
emulator starts, as Lambda does, `/opt/lambda-wsgi /var/lang/bin/python3.X
/var/runtime/bootstrap.py` with the root as / and /var/task as the working directory. `make
test-layer` also runs the e2e suite in these roots, through lambda_roots.py's launcher.

Needs root (chroot, mount). `make test-layer` sets LAMBDA_WSGI_LAYER_DIR (the directory of
lambda-wsgi-layer-x86_64.zip and lambda-wsgi-layer-arm64.zip). Debian's packages are cached in
target/debian-cache and the roots kept in target/debian-roots: a second run downloads nothing.
"""

import json
import os
import subprocess

import pytest

import lambda_roots
from conftest import EMULATOR, Emulator, interpreter_info
from lambda_roots import ARCHES, LAMBDA_PATH, QEMU_ENV, ROOT_CASES, case_id

LAYER_DIR = os.environ.get("LAMBDA_WSGI_LAYER_DIR")


@pytest.fixture(scope="module")
def enter_script(tmp_path_factory):
    try:
        return lambda_roots.enter_script(tmp_path_factory.mktemp("enter"))
    except lambda_roots.RootError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="module")
def lambda_roots_built(request):
    """Roots built on first use, once per module; what each cost goes to the terminal."""
    if not LAYER_DIR:
        pytest.fail("LAMBDA_WSGI_LAYER_DIR is not set: run `make test-layer`")
    built = {}
    terminal = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")

    def report(line):
        if terminal is not None and capture is not None:
            with capture.global_and_fixture_disabled():
                terminal.write_line(f"\n{line}")

    def get(case):
        if case not in built:
            try:
                built[case] = lambda_roots.build_lambda_root(case, LAYER_DIR, report=report)
            except lambda_roots.RootError as error:
                pytest.fail(str(error))
        return built[case]

    return get


@pytest.fixture
def clean_env(monkeypatch):
    """Nothing of this machine's Python setup may reach the root's processes."""
    for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "LD_LIBRARY_PATH", "BINDS", "WORKDIR"):
        monkeypatch.delenv(name, raising=False)


def lambda_command(root, enter, version):
    """The emulator's bootstrap and arguments that start Lambda's command line in root."""
    return enter, [root, "/opt/lambda-wsgi", f"/var/lang/bin/python{version}", "/var/runtime/bootstrap.py"]


def lambda_env(arch, version):
    return {
        **(QEMU_ENV if arch == "arm64" else {}),
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{version}",
        "PATH": LAMBDA_PATH,
        # The paths inside the root (the emulator's own are the host's, for its working directory).
        "LAMBDA_TASK_ROOT": "/var/task",
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
    }


def start(root, enter, arch, version, handler, tmp_path):
    bootstrap, args = lambda_command(root, enter, version)
    return Emulator(handler, task_root=root / "var" / "task", tmp_path=tmp_path, env=lambda_env(arch, version),
                    bootstrap=bootstrap, runtime_args=args, timeout=120)


@pytest.mark.parametrize("case", ROOT_CASES, ids=case_id)
def test_the_layer_serves_on_the_roots_python_and_machine(lambda_roots_built, enter_script, clean_env, case,
                                                          tmp_path):
    arch, _suite, version = case
    root = lambda_roots_built(case)
    emulator = start(root, enter_script, arch, version, "interpreter_info.app", tmp_path)
    info = interpreter_info(emulator)
    assert ".".join(map(str, info["version"][:2])) == version
    assert info["machine"] == ARCHES[arch][1]
    # The runtime's own interpreter, on the extension the wheel put in /opt/python.
    assert info["executable"] == f"/var/lang/bin/python{version}"
    assert info["native"] == "/opt/python/lambda_wsgi/_native.abi3.so"
    assert info["sys_path"][0] == "/var/task"
    # The wheel's build precompiles the helpers with a local python3.X of that version: there is
    # none of 3.14 on the build machine, so under 3.14 they compile at init (bytecode is CPU-free).
    assert info["helpers_precompiled"] is (version != "3.14")
    assert info["cwd"] == "/var/task"
    assert "starting the managed runtime instead" not in emulator.logs()


@pytest.mark.parametrize("case", ROOT_CASES, ids=case_id)
def test_the_flask_example_serves_with_flask_from_a_dependencies_layer(lambda_roots_built, enter_script, clean_env,
                                                                        case, tmp_path):
    arch, _suite, version = case
    root = lambda_roots_built(case)
    emulator = start(root, enter_script, arch, version, "app.app", tmp_path)
    try:
        status, _, body = emulator.request("GET", "/search?tag=a&q=tea&tag=b&tag=a")
        page_status, _, page = emulator.request("GET", "/")
    finally:
        emulator.stop()
    assert status == 200, emulator.logs()
    assert json.loads(body) == {"q": "tea", "tags": ["a", "b", "a"]}
    # A Jinja template (MarkupSafe, whose wheel is the platform's) renders.
    assert page_status == 200 and b"<h1>Hello from lambda-wsgi</h1>" in page, emulator.logs()


def test_a_python_below_3_10_starts_the_managed_runtime(lambda_roots_built, enter_script, clean_env):
    root = lambda_roots_built(("arm64", "bookworm", "3.11"))
    # python3.9's command line (the root's python3.11 answers to that name: it only runs the
    # managed runtime's bootstrap.py, which reports itself).
    (root / "var" / "lang" / "bin" / "python3.9").unlink(missing_ok=True)
    (root / "var" / "lang" / "bin" / "python3.9").symlink_to("/usr/bin/python3.11")
    command = [str(EMULATOR), "invoke", "--bootstrap", str(enter_script), "--handler", "app.app",
               "--task-root", str(root / "var" / "task")]
    for arg in (root, "/opt/lambda-wsgi", "/var/lang/bin/python3.9", "/var/runtime/bootstrap.py"):
        command += ["--arg", str(arg)]
    for key, value in lambda_env("arm64", "3.9").items():
        command += ["--env", f"{key}={value}"]
    done = subprocess.run([*command, "-"], input=b"{}", capture_output=True, timeout=120)
    assert done.returncode == 2, done.stderr.decode()
    # The managed runtime (bookworm's arm64 python3.11 on the fake bootstrap.py) reported itself.
    assert json.loads(done.stdout)["errorType"] == "Fake.ManagedRuntime", done.stderr.decode()
    assert b"'/var/lang/bin/python3.9' is not a Python 3.10 or later interpreter" in done.stderr, done.stderr.decode()
