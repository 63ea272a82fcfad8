"""Builds the layer zips from the pip package's wheels, one per Lambda architecture:
dist/lambda-wsgi-layer-x86_64.zip and dist/lambda-wsgi-layer-arm64.zip.

Each zip holds, at its root (Lambda unpacks a layer in /opt):
  lambda-wsgi                    the exec wrapper users point at (AWS_LAMBDA_EXEC_WRAPPER=/opt/lambda-wsgi):
                                 it checks the CPU and hands over to the package's own wrapper
  python/lambda_wsgi/            the pip package, as `pip install --target` lays out its wheel for
  python/lambda_wsgi-*.dist-info that architecture (/opt/python is on every python3.x runtime's path):
                                 the abi3 extension serves Python 3.10 and later from one file
  lambda-wsgi-bin/lambda-wsgi-remote-config
                                 remote configuration (SSM, Secrets Manager), run at init only when it
                                 is configured (the wrapper sets WSGI_REMOTE_CONFIG_HELPER to it)

Nothing here needs root, qemu or a Python of the target CPU: pip installs the wheel for the other
platform (--platform), and the helper is linked by cargo-zigbuild for Amazon Linux 2's glibc (2.26).
The per-Python bootstraps the layer used to carry left it when the extension measured as fast on
invocations/s and within 5% on cold start (bench/RESULTS.md, "The pip package"): one wheel
replaced ten builds.

The package's Python modules are compiled for each local Python given (--python), with
unchecked-hash .pyc files: /opt is read-only on Lambda, so a module without one is compiled
again at every cold start (the bytecode does not depend on the CPU).

Usage: build.py --wheel x86_64=dist/...x86_64.whl --wheel arm64=dist/...aarch64.whl
                [--python /path/to/python3.X ...] [--arch x86_64]
"""

import argparse
import os
import re
import shutil
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "target" / "layer"
WRAPPER = ROOT / "layer" / "lambda-wsgi"
# Lambda's architecture name -> (Rust's CPU, `uname -m` on it, pip's platform tag of the wheel).
ARCHES = {"x86_64": ("x86_64", "x86_64", "manylinux2014_x86_64"),
          "arm64": ("aarch64", "aarch64", "manylinux2014_aarch64")}
# The oldest OS of a python3.x runtime (Amazon Linux 2, python3.10 and 3.11): what every binary of
# the layer must load on.
AMAZON_LINUX_2_GLIBC = "2.26"
# The oldest Python the wheel serves (abi3-py310): pip checks the wheel's tags against it.
OLDEST_PYTHON = "3.10"


class Steps:
    """Runs the build's commands and remembers what each one cost."""

    def __init__(self):
        self.costs = []

    def run(self, label, command, env=None):
        print(f"== {label}", flush=True)
        started = time.monotonic()
        subprocess.run(command, check=True, env=env)
        self.costs.append((label, time.monotonic() - started))

    def report(self):
        for label, seconds in self.costs:
            print(f"  {seconds:6.1f} s  {label}")
        print(f"  {sum(s for _, s in self.costs):6.1f} s  in all")


def install_wheel(wheel, platform, target, steps):
    """The wheel as `pip install --target` lays it out for `platform` (pip checks its tags)."""
    if target.exists():
        shutil.rmtree(target)
    steps.run(f"pip install --target {target.relative_to(ROOT)} {Path(wheel).name}",
              [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
               "--no-compile", "--target", str(target), "--platform", platform, "--implementation", "cp",
               "--python-version", OLDEST_PYTHON, "--only-binary=:all:", str(wheel)])
    # pip writes the console scripts' folder and caches only when there are some; none are wanted.
    for extra in ("bin", "__pycache__"):
        if (target / extra).exists():
            shutil.rmtree(target / extra)
    # What pip records about this install (the wheel's path on the build machine, "pip"): not the
    # layer's business, and it would make two builds of the same wheel differ.
    for record in ("direct_url.json", "INSTALLER", "REQUESTED"):
        for found in target.glob(f"*.dist-info/{record}"):
            found.unlink()


def compile_package(site, pythons, steps):
    """unchecked-hash .pyc of the package for each Python (tracebacks name /opt/python/...)."""
    for python in pythons:
        steps.run(f"compile lambda_wsgi with {python}",
                  [python, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash",
                   "-d", "/opt/python/lambda_wsgi", str(site / "lambda_wsgi")])


def build_helper(cpu, steps):
    target_dir = LAYER / f"{cpu}-glibc{AMAZON_LINUX_2_GLIBC}"
    venv_bin = Path(sys.executable).parent  # cargo-zigbuild and ziglang live in the build venv
    env = {**os.environ, "PATH": f"{venv_bin}:{os.environ['PATH']}", "CARGO_TARGET_DIR": str(target_dir)}
    steps.run(f"remote-config helper, {cpu}, glibc {AMAZON_LINUX_2_GLIBC}",
              ["cargo-zigbuild", "zigbuild", "--release", "-p", "lambda-wsgi-remote-config",
               "--target", f"{cpu}-unknown-linux-gnu.{AMAZON_LINUX_2_GLIBC}"], env=env)
    return target_dir / f"{cpu}-unknown-linux-gnu" / "release" / "lambda-wsgi-remote-config"


def wrapper_for(machine):
    """The layer's wrapper, told which CPU its package was built for."""
    text = WRAPPER.read_text()
    if "@MACHINE@" not in text:
        sys.exit(f"{WRAPPER} has no @MACHINE@ to fill in")
    return text.replace("@MACHINE@", machine).encode()


def glibc_tuple(version):
    return tuple(int(part) for part in version.removeprefix("GLIBC_").split(".")) if version != "-" else (0,)


def highest_glibc(binary):
    dump = subprocess.run(["objdump", "-T", str(binary)], capture_output=True, text=True, check=True).stdout
    found = {tuple(map(int, v.split("."))) for v in re.findall(r"GLIBC_([0-9.]+)", dump)}
    return "GLIBC_" + ".".join(map(str, max(found))) if found else "-"


def is_elf(path):
    with open(path, "rb") as file:
        return file.read(4) == b"\x7fELF"


def add(archive, name, data, mode):
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data, compresslevel=9)


def build_arch(arch, wheel, pythons, steps):
    cpu, machine, platform = ARCHES[arch]
    site = LAYER / arch / "python"
    install_wheel(wheel, platform, site, steps)
    compile_package(site, pythons, steps)
    helper = build_helper(cpu, steps)
    files = [("lambda-wsgi", wrapper_for(machine), 0o755),
             ("lambda-wsgi-bin/lambda-wsgi-remote-config", helper.read_bytes(), 0o755)]
    binaries = [helper]
    for path in sorted(p for p in site.rglob("*") if p.is_file()):
        # The modes pip gave: the exec wrapper and the extension executable, the rest not.
        files.append((f"python/{path.relative_to(site)}", path.read_bytes(), path.stat().st_mode & 0o777))
        if is_elf(path):
            binaries.append(path)
    # A binary that needs a newer glibc than Amazon Linux 2's would fail at init with
    # "GLIBC_2.xx not found" on python3.10 and 3.11.
    too_new = [f"{path} needs {highest_glibc(path)}, more than glibc {AMAZON_LINUX_2_GLIBC}" for path in binaries
               if glibc_tuple(highest_glibc(path)) > glibc_tuple(AMAZON_LINUX_2_GLIBC)]
    if too_new:
        sys.exit("\n".join(too_new))
    zip_path = ROOT / "dist" / f"lambda-wsgi-layer-{arch}.zip"
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    partial = zip_path.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for name, data, mode in files:
            add(archive, name, data, mode)
    partial.replace(zip_path)
    for path in binaries:
        print(f"  {path.name:44} {path.stat().st_size / 1e6:6.2f} MB  highest glibc symbol: {highest_glibc(path)}")
    print(f"{zip_path.relative_to(ROOT)}: {zip_path.stat().st_size / 1e6:.2f} MB zipped, {len(files)} files")
    return zip_path


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--wheel", action="append", required=True, help="ARCH=PATH (x86_64 or arm64)")
    parser.add_argument("--arch", action="append", choices=sorted(ARCHES), help="default: every --wheel's")
    parser.add_argument("--python", action="append", default=[], help="a local python3.X to compile the modules with")
    args = parser.parse_args()
    wheels = dict(spec.split("=", 1) for spec in args.wheel)
    unknown = set(wheels) - set(ARCHES)
    if unknown:
        sys.exit(f"--wheel: unknown architecture {', '.join(sorted(unknown))} (x86_64, arm64)")
    steps = Steps()
    for arch in args.arch or sorted(wheels, key=lambda a: a != "x86_64"):
        if arch not in wheels:
            sys.exit(f"no --wheel {arch}=PATH")
        build_arch(arch, wheels[arch], [p for p in args.python if p], steps)
    print("What each step cost:")
    steps.report()


if __name__ == "__main__":
    main()
