"""The layer's bootstraps in stand-in Lambda roots made of Debian packages, arm64 ones under qemu-user.

test_layer.py plays a managed python3.x runtime with this machine's own Pythons (x86_64, pyenv).
Here the root is a whole other system, built by debian_root.py from Debian's archive for an
architecture and a suite: its glibc, its dash as /bin/sh, its Python and libpython. On it, as on
Lambda's python3.x runtimes:

- /var/lang/bin/python3.X is the runtime's interpreter (Debian's /usr/bin/python3.X) and
  /var/lang/lib/libpython3.X.so.1.0 its libpython (Debian's file, linked there: the bootstrap's
  rpath is /var/lang/lib; no LD_LIBRARY_PATH is set, so the rpath alone must find it);
- /opt is the layer zip for the root's architecture, unpacked (with /opt/python, a dependencies
  layer: Flask installed by pip for that platform, as a user builds one);
- /var/task holds the function code, /var/runtime/bootstrap.py stands in for the managed runtime.

The emulator starts, as Lambda does, `/opt/lambda-wsgi /var/lang/bin/python3.X
/var/runtime/bootstrap.py` with the root as / and /var/task as the working directory: through
`unshare --mount` (a mount namespace of its own, so the /proc and /dev it mounts in the root go
away with it) and `chroot`. An arm64 root's binaries run under qemu-user (`make qemu-user`
registers the aarch64 handler with binfmt_misc's F flag, so the kernel runs qemu from outside
the chroot); `uname -m` then says aarch64 and the wrapper picks the arm64 bootstrap.

Needs root (chroot, mount). `make test-layer` sets LAMBDA_WSGI_LAYER_DIR (the directory of
lambda-wsgi-layer-x86_64.zip and lambda-wsgi-layer-arm64.zip). Debian's packages are cached in
target/debian-cache and the roots kept in target/debian-roots: a second run downloads nothing.
"""

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "layer"))
import debian_root  # noqa: E402  (layer/: the layer's build uses it too)
from conftest import APPS, EMULATOR, Emulator, ROOT, interpreter_info

LAYER_DIR = os.environ.get("LAMBDA_WSGI_LAYER_DIR")
ROOTS = ROOT / "target" / "debian-roots"
# Debian architecture -> (the layer zip's architecture, `uname -m`, pip's platform tag).
ARCHES = {
    "amd64": ("x86_64", "x86_64", "manylinux2014_x86_64"),
    "arm64": ("arm64", "aarch64", "manylinux2014_aarch64"),
}
TRIPLETS = {"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}
# (Debian arch, suite, Python): bookworm's 3.11 for our Amazon Linux 2 (glibc 2.26) build, trixie's
# 3.13 and forky's 3.14 for the Amazon Linux 2023 (glibc 2.34) builds; 3.14 on amd64 too, which has
# no pyenv build here for test_layer.py. bookworm and trixie are stable releases and do not change;
# forky is Debian testing, the only suite with 3.14 (until it moves on, when this becomes sid, or
# the next stable release that has it).
ROOT_CASES = [
    ("amd64", "bookworm", "3.11"),
    ("arm64", "bookworm", "3.11"),
    ("arm64", "trixie", "3.13"),
    ("arm64", "forky", "3.14"),
    ("amd64", "forky", "3.14"),
]
# The CPU qemu plays: Graviton2's (Neoverse N1), what Lambda's arm64 functions run on. qemu's default
# (`max`) has pointer authentication, which it computes in software at every call and return of code
# built with branch protection, as forky's is: Python 3.13 there ran 20 times slower than with this
# (2 million multiplications: 14.5 s against 1.0 s), and importing Flask took 17 s.
QEMU_ENV = {"QEMU_CPU": "neoverse-n1"}
# Lambda's PATH on the python3.x runtimes.
LAMBDA_PATH = "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"
# The managed runtime's own bootstrap, for when the wrapper hands over: it reports itself.
MANAGED_BOOTSTRAP = (
    "import json, os, urllib.request\n"
    "url = f\"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime/init/error\"\n"
    "body = json.dumps({'errorType': 'Fake.ManagedRuntime', 'errorMessage': 'the managed runtime ran'})\n"
    "urllib.request.urlopen(urllib.request.Request(url, data=body.encode(), method='POST'))\n")
# The emulator's bootstrap: ROOT COMMAND ARGS... -> COMMAND in ROOT from /var/task, in a mount
# namespace of its own (what it mounts goes away with it, and is never seen outside).
OUTER = """\
#!/bin/sh
exec {prefix} {unshare} --mount --propagation private /bin/sh {inner} "$@"
"""
INNER = """\
set -e
root=$1; shift
{mount} -t proc proc "$root/proc"
{mount} --rbind /dev "$root/dev"
exec {chroot} "$root" /bin/sh -c 'cd /var/task && exec "$@"' sh "$@"
"""


def case_id(case):
    arch, suite, version = case
    return f"{arch}-{suite}-py{version}"


def privileged_prefix():
    """What runs a command as root: nothing when we are root, else `sudo -n -E` if it works."""
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        return [shutil.which("sudo"), "-n", "--preserve-env"]
    pytest.fail("the Debian-root layer tests need root (chroot and mount): run them as root or with "
                "password-less sudo")


def layer_zip(arch):
    if not LAYER_DIR:
        pytest.fail("LAMBDA_WSGI_LAYER_DIR is not set: run `make test-layer`")
    path = Path(LAYER_DIR) / f"lambda-wsgi-layer-{ARCHES[arch][0]}.zip"
    if not path.exists():
        pytest.fail(f"no {path}: `make layer` builds it")
    return path


def check_qemu(arch):
    if arch != "arm64":
        return
    handler = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
    flags = [line for line in (handler.read_text().splitlines() if handler.exists() else [])
             if line.startswith("flags:")]
    if not flags or "F" not in flags[0]:
        pytest.fail(f"no aarch64 binfmt_misc handler with the F flag ({handler}): run `make qemu-user`")


def build_lambda_root(arch, suite, version, report):
    """The Debian root (kept between runs), then what Lambda puts in it (made again each run)."""
    root = ROOTS / case_id((arch, suite, version))
    started = time.monotonic()
    timings = debian_root.build_root(root, suite, arch, [
        f"python{version}", f"libpython{version}",
        # /bin/sh, and what the wrapper runs: dirname, basename, uname (coreutils), sed; Lambda has them.
        "dash", "coreutils", "sed"])
    timings["root"] = time.monotonic() - started
    # No Debian package ships anything in /opt or /var of these roots: both are Lambda's, made afresh.
    for directory in ("opt", "var"):
        if (root / directory).exists():
            shutil.rmtree(root / directory)
    started = time.monotonic()
    opt = root / "opt"
    with zipfile.ZipFile(layer_zip(arch)) as layer:
        layer.extractall(opt)
        for info in layer.infolist():
            (opt / info.filename).chmod(info.external_attr >> 16 & 0o777)
    # A dependencies layer, as a user builds one for this platform and Python.
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                          "--target", str(opt / "python"), "--platform", ARCHES[arch][2], "--python-version", version,
                          "--only-binary=:all:", "-r", str(ROOT / "examples" / "flask" / "requirements.txt")],
                         capture_output=True, text=True)
    if pip.returncode != 0:
        pytest.fail(f"pip could not install Flask for {arch} Python {version}:\n{pip.stdout}{pip.stderr}")
    timings["layers"] = time.monotonic() - started
    lang = root / "var" / "lang"
    (lang / "bin").mkdir(parents=True)
    (lang / "bin" / f"python{version}").symlink_to(f"/usr/bin/python{version}")
    (lang / "bin" / "python3").symlink_to(f"python{version}")
    (lang / "lib").mkdir()
    libpython = f"libpython{version}.so.1.0"
    # A link, not a symlink: /proc/self/maps names the path the file was opened by.
    os.link(root / "usr" / "lib" / TRIPLETS[arch] / libpython, lang / "lib" / libpython)
    task = root / "var" / "task"
    task.mkdir()
    shutil.copy(ROOT / "examples" / "flask" / "app.py", task / "app.py")
    shutil.copy(APPS / "interpreter_info.py", task / "interpreter_info.py")
    (root / "var" / "runtime").mkdir()
    (root / "var" / "runtime" / "bootstrap.py").write_text(MANAGED_BOOTSTRAP)
    report(f"{case_id((arch, suite, version))}: " + ", ".join(
        f"{key} {value:.1f}s" if isinstance(value, float) else f"{key} {value}" for key, value in timings.items()))
    return root


@pytest.fixture(scope="module")
def enter_script(tmp_path_factory):
    directory = tmp_path_factory.mktemp("enter")
    inner = directory / "inner.sh"
    inner.write_text(INNER.format(mount=shutil.which("mount"), chroot=shutil.which("chroot") or "/usr/sbin/chroot"))
    outer = directory / "enter.sh"
    outer.write_text(OUTER.format(prefix=" ".join(privileged_prefix()), unshare=shutil.which("unshare"), inner=inner))
    outer.chmod(0o755)
    return outer


@pytest.fixture(scope="module")
def lambda_roots(request):
    """Roots built on first use, once per module; what each cost goes to the terminal."""
    built = {}
    terminal = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")

    def report(line):
        if terminal is not None and capture is not None:
            with capture.global_and_fixture_disabled():
                terminal.write_line(f"\n{line}")

    def get(case):
        if case not in built:
            check_qemu(case[0])
            built[case] = build_lambda_root(*case, report=report)
        return built[case]

    return get


@pytest.fixture
def clean_env(monkeypatch):
    """Nothing of this machine's Python setup may reach the root's processes."""
    for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "LD_LIBRARY_PATH"):
        monkeypatch.delenv(name, raising=False)


def lambda_command(root, enter, version):
    """The emulator's bootstrap and arguments that start Lambda's command line in root."""
    return enter, [root, "/opt/lambda-wsgi", f"/var/lang/bin/python{version}", "/var/runtime/bootstrap.py"]


def lambda_env(arch, version, execution_env=None):
    return {
        **(QEMU_ENV if arch == "arm64" else {}),
        "AWS_EXECUTION_ENV": execution_env or f"AWS_Lambda_python{version}",
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
def test_the_bootstrap_for_the_roots_python_and_machine_serves(lambda_roots, enter_script, clean_env, case,
                                                                tmp_path):
    arch, _suite, version = case
    root = lambda_roots(case)
    emulator = start(root, enter_script, arch, version, "interpreter_info.app", tmp_path)
    info = interpreter_info(emulator)
    assert ".".join(map(str, info["version"][:2])) == version
    assert info["machine"] == ARCHES[arch][1]
    # The runtime's libpython, found by the rpath in /var/lang/lib.
    assert info["libpython"] == f"/var/lang/lib/libpython{version}.so.1.0", info["libpython"]
    assert info["sys_path"][0] == "/var/task"
    # The build precompiles the helpers with a local python3.X of that version: there is none of
    # 3.14 on the build machine, so that bootstrap compiles them at init (the bytecode is CPU-free).
    assert info["helpers_precompiled"] is (version != "3.14")
    assert info["cwd"] == "/var/task"
    assert "lambda-wsgi: no bootstrap" not in emulator.logs()


@pytest.mark.parametrize("case", ROOT_CASES, ids=case_id)
def test_the_flask_example_serves_with_flask_from_a_dependencies_layer(lambda_roots, enter_script, clean_env,
                                                                        case, tmp_path):
    arch, _suite, version = case
    root = lambda_roots(case)
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


def test_a_python_without_an_arm64_bootstrap_starts_the_managed_runtime(lambda_roots, enter_script, clean_env):
    root = lambda_roots(("arm64", "bookworm", "3.11"))
    bootstrap, args = lambda_command(root, enter_script, "3.11")
    command = [str(EMULATOR), "invoke", "--bootstrap", str(bootstrap), "--handler", "app.app",
               "--task-root", str(root / "var" / "task")]
    for arg in args:
        command += ["--arg", str(arg)]
    for key, value in lambda_env("arm64", "3.11", execution_env="AWS_Lambda_python3.9").items():
        command += ["--env", f"{key}={value}"]
    done = subprocess.run([*command, "-"], input=b"{}", capture_output=True, timeout=120)
    assert done.returncode == 2, done.stderr.decode()
    # The managed runtime (bookworm's arm64 python3.11 on the fake bootstrap.py) reported itself.
    assert json.loads(done.stdout)["errorType"] == "Fake.ManagedRuntime", done.stderr.decode()
    assert b"lambda-wsgi: no bootstrap for Python '3.9' on aarch64" in done.stderr, done.stderr.decode()
