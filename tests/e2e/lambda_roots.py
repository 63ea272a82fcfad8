"""Stand-in Lambda roots made of Debian packages, with the layer in /opt (test_layer_roots.py,
and `make test-layer`'s runs of the e2e suite in them).

A root is a whole other system, built by layer/debian_root.py from Debian's archive for an
architecture and a suite: its glibc, its dash as /bin/sh, its Python. On it, as on Lambda's
python3.x runtimes:

- /var/lang/bin/python3.X is the runtime's interpreter (Debian's /usr/bin/python3.X) and
  /var/lang/lib/libpython3.X.so.1.0 its libpython (Debian's file, linked there);
- /opt is the layer zip for the root's architecture, unpacked (the wheel installed by pip in
  /opt/python), with Flask installed beside it by pip for that platform, as a user's
  dependencies layer has it;
- /var/task holds the function code, /var/runtime/bootstrap.py stands in for the managed runtime.

Entering one (`enter_script`): `unshare --mount` (a mount namespace of its own, so the /proc and
/dev it mounts in the root go away with it) and `chroot`, as root. An arm64 root's binaries run
under qemu-user (`make qemu-user` registers the aarch64 handler with binfmt_misc's F flag, so the
kernel runs qemu from outside the chroot); `uname -m` then says aarch64.

    lambda_roots.py launcher CASE LAYER_DIR OUT

writes OUT, a `bootstrap` for the emulator that starts Lambda's command line for the layer's
wrapper in the root of CASE (e.g. arm64-trixie-py3.13), with this repository and /tmp mounted at
their own paths inside it: the e2e suite's apps and temporary task roots are then where the
emulator says they are.
"""

import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "layer"))
import debian_root  # noqa: E402  (layer/: the Debian-root builder)

APPS = ROOT / "tests" / "apps"
ROOTS = ROOT / "target" / "debian-roots"
# Debian architecture -> (the layer zip's architecture, `uname -m`, pip's platform tag).
ARCHES = {
    "amd64": ("x86_64", "x86_64", "manylinux2014_x86_64"),
    "arm64": ("arm64", "aarch64", "manylinux2014_aarch64"),
}
TRIPLETS = {"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}
# (Debian arch, suite, Python): bookworm's 3.11 for python3.11's Amazon Linux 2, trixie's 3.13 and
# forky's 3.14 for Amazon Linux 2023; 3.14 on amd64 too, which has no pyenv build here.
# bookworm and trixie are stable releases and do not change; forky is Debian testing, the only
# suite with 3.14 (until it moves on, when this becomes sid, or the next stable release that has it).
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
# ROOT COMMAND ARGS... -> COMMAND in ROOT, in a mount namespace of its own (what it mounts goes away
# with it, and is never seen outside); BINDS (host folders) appear at their own paths inside; the
# working directory is WORKDIR (default: /var/task).
OUTER = """\
#!/bin/sh
exec {prefix} {unshare} --mount --propagation private /bin/sh {inner} "$@"
"""
INNER = """\
set -e
root=$1; shift
{mount} -t proc proc "$root/proc"
{mount} --rbind /dev "$root/dev"
for dir in $BINDS; do
    mkdir -p "$root$dir"
    {mount} --bind "$dir" "$root$dir"
done
exec {chroot} "$root" /bin/sh -c 'cd "${{WORKDIR:-/var/task}}" && exec "$@"' sh "$@"
"""
# The emulator's bootstrap for the e2e suite: Lambda's command line for the layer's wrapper, in
# the root, from the task root the emulator chose (under this repository or /tmp, both mounted).
LAUNCHER = """\
#!/bin/sh
# Written by tests/e2e/lambda_roots.py for {case}.
unset PYTHONPATH PYTHONHOME VIRTUAL_ENV LD_LIBRARY_PATH
export PATH='{path}' BINDS='{binds}' WORKDIR="$PWD"{qemu}
exec {enter} {root} /opt/lambda-wsgi /var/lang/bin/python{version} /var/runtime/bootstrap.py "$@"
"""


class RootError(Exception):
    pass


def case_id(case):
    arch, suite, version = case
    return f"{arch}-{suite}-py{version}"


def case_from_id(text):
    for case in ROOT_CASES:
        if case_id(case) == text:
            return case
    raise RootError(f"no root case {text!r}: one of {', '.join(map(case_id, ROOT_CASES))}")


def privileged_prefix():
    """What runs a command as root: nothing when we are root, else `sudo -n -E` if it works."""
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        return [shutil.which("sudo"), "-n", "--preserve-env"]
    raise RootError("the Debian-root layer tests need root (chroot and mount): run them as root or with "
                    "password-less sudo")


def layer_zip(layer_dir, arch):
    path = Path(layer_dir) / f"lambda-wsgi-layer-{ARCHES[arch][0]}.zip"
    if not path.exists():
        raise RootError(f"no {path}: `make layer` builds it")
    return path


def check_qemu(arch):
    if arch != "arm64":
        return
    handler = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
    flags = [line for line in (handler.read_text().splitlines() if handler.exists() else [])
             if line.startswith("flags:")]
    if not flags or "F" not in flags[0]:
        raise RootError(f"no aarch64 binfmt_misc handler with the F flag ({handler}): run `make qemu-user`")


def build_lambda_root(case, layer_dir, report=print):
    """The Debian root (kept between runs), then what Lambda puts in it (made again each run)."""
    arch, suite, version = case
    check_qemu(arch)
    root = ROOTS / case_id(case)
    started = time.monotonic()
    timings = debian_root.build_root(root, suite, arch, [
        f"python{version}", f"libpython{version}",
        # /bin/sh, and what the wrappers run: uname (coreutils); Lambda has them.
        "dash", "coreutils", "sed"])
    timings["root"] = time.monotonic() - started
    # No Debian package ships anything in /opt or /var of these roots: both are Lambda's, made afresh.
    for directory in ("opt", "var"):
        if (root / directory).exists():
            shutil.rmtree(root / directory)
    started = time.monotonic()
    opt = root / "opt"
    with zipfile.ZipFile(layer_zip(layer_dir, arch)) as layer:
        layer.extractall(opt)
        for info in layer.infolist():
            (opt / info.filename).chmod(info.external_attr >> 16 & 0o777)
    # A dependencies layer, as a user builds one for this platform and Python.
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                          "--target", str(opt / "python"), "--platform", ARCHES[arch][2], "--python-version", version,
                          "--only-binary=:all:", "-r", str(ROOT / "examples" / "flask" / "requirements.txt")],
                         capture_output=True, text=True)
    if pip.returncode != 0:
        raise RootError(f"pip could not install Flask for {arch} Python {version}:\n{pip.stdout}{pip.stderr}")
    timings["layers"] = time.monotonic() - started
    lang = root / "var" / "lang"
    (lang / "bin").mkdir(parents=True)
    (lang / "bin" / f"python{version}").symlink_to(f"/usr/bin/python{version}")
    (lang / "bin" / "python3").symlink_to(f"python{version}")
    (lang / "lib").mkdir()
    libpython = f"libpython{version}.so.1.0"
    os.link(root / "usr" / "lib" / TRIPLETS[arch] / libpython, lang / "lib" / libpython)
    task = root / "var" / "task"
    task.mkdir()
    shutil.copy(ROOT / "examples" / "flask" / "app.py", task / "app.py")
    shutil.copy(APPS / "interpreter_info.py", task / "interpreter_info.py")
    (root / "var" / "runtime").mkdir()
    (root / "var" / "runtime" / "bootstrap.py").write_text(MANAGED_BOOTSTRAP)
    report(f"{case_id(case)}: " + ", ".join(
        f"{key} {value:.1f}s" if isinstance(value, float) else f"{key} {value}" for key, value in timings.items()))
    return root


def enter_script(directory):
    """Writes the script that enters a root (ROOT COMMAND ARGS...) into `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    inner = directory / "inner.sh"
    inner.write_text(INNER.format(mount=shutil.which("mount"), chroot=shutil.which("chroot") or "/usr/sbin/chroot"))
    outer = directory / "enter.sh"
    outer.write_text(OUTER.format(prefix=" ".join(privileged_prefix()), unshare=shutil.which("unshare"), inner=inner))
    outer.chmod(0o755)
    return outer


def write_launcher(case, layer_dir, out):
    root = build_lambda_root(case, layer_dir)
    out = Path(out)
    enter = enter_script(out.parent)
    arch, _, version = case
    qemu = "".join(f" {key}='{value}'" for key, value in QEMU_ENV.items()) if arch == "arm64" else ""
    out.write_text(LAUNCHER.format(case=case_id(case), path=LAMBDA_PATH, binds=f"{ROOT} /tmp", qemu=qemu,
                                   enter=enter, root=root, version=version))
    out.chmod(0o755)
    return out


def main(argv):
    if len(argv) != 4 or argv[0] != "launcher":
        sys.exit("usage: lambda_roots.py launcher CASE LAYER_DIR OUT")
    try:
        print(write_launcher(case_from_id(argv[1]), argv[2], argv[3]))
    except (RootError, debian_root.DebianRootError) as error:
        sys.exit(f"lambda_roots.py: {error}")


if __name__ == "__main__":
    main(sys.argv[1:])
