"""Builds the layer zips, one per Lambda architecture: dist/lambda-wsgi-layer-x86_64.zip and
dist/lambda-wsgi-layer-arm64.zip.

Each zip holds, at its root (Lambda unpacks a layer in /opt):
  lambda-wsgi                              the exec wrapper (AWS_LAMBDA_EXEC_WRAPPER=/opt/lambda-wsgi)
  lambda-wsgi-bin/bootstrap-py3.X-MACHINE  one bootstrap per managed Python, MACHINE being what
                                           `uname -m` says on that architecture (x86_64, aarch64)
  lambda-wsgi-bin/lambda-wsgi-remote-config
                                           remote configuration (SSM, Secrets Manager), run by a
                                           bootstrap at init only when it is configured

How a bootstrap is built for a Python and a CPU that this machine may not have:
- glibc: each is linked by cargo-zigbuild for the glibc of the OS its managed runtime runs on:
  2.26 (Amazon Linux 2) for python3.10 and 3.11, 2.34 (Amazon Linux 2023) for 3.12 and later.
  The helper is built once per CPU, for the oldest (2.26), and serves every Python.
- libpython: linked by name, against a stand-in with the real library's SONAME and exported
  symbols (libpython_stub.py), so that on Lambda the loader takes the runtime's own libpython
  from /var/lang/lib (the only rpath), and pyo3 reads its configuration from a file
  (PYO3_CONFIG_FILE) instead of running an interpreter of the target CPU. The stand-in's symbols
  come from a reference libpython of that version: the local one (--python 3.X=PATH) or Debian's.
- Builds that share a CPU and a glibc share a cargo target directory: after the first, a Python
  costs only pyo3 and our crate.

Usage: build.py [--arch x86_64 --arch arm64] [--python 3.X=/path/to/python3.X ...] VERSION...
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

import debian_root

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "target" / "layer"
WRAPPER = ROOT / "layer" / "lambda-wsgi"
# Lambda's architecture name -> (Rust's CPU, zig's target, `uname -m` on it).
ARCHES = {"x86_64": ("x86_64", "x86_64-linux-gnu", "x86_64"),
          "arm64": ("aarch64", "aarch64-linux-gnu", "aarch64")}
AMAZON_LINUX_2_GLIBC = "2.26"
AMAZON_LINUX_2023_GLIBC = "2.34"
# Where a reference libpython comes from when no local Python of that version is given.
DEBIAN_REFERENCE = ("forky", "amd64")


def glibc_for(version):
    """The glibc of the OS the managed python3.X runtime runs on."""
    minor = int(version.split(".")[1])
    return AMAZON_LINUX_2_GLIBC if minor <= 11 else AMAZON_LINUX_2023_GLIBC


def reference_libpython(version, python):
    """A libpython3.X.so.1.0 to take the exported symbols from (its CPU does not matter)."""
    if python:
        found = subprocess.run([python, "-c", "import sysconfig as s; print(s.get_config_var('LIBDIR'))"],
                               capture_output=True, text=True, check=True).stdout.strip()
        library = Path(found) / f"libpython{version}.so.1.0"
        if library.exists():
            return library
        print(f"Python {version}: {python} has no shared libpython ({library}): taking Debian's symbols")
    suite, arch = DEBIAN_REFERENCE
    try:
        index = debian_root.Index(suite, arch)
        if f"libpython{version}" not in index.packages:
            sys.exit(f"Python {version}: no local python{version} with a shared libpython and no libpython{version} "
                     f"in Debian {suite}: install it (pyenv with --enable-shared) or leave {version} out of LAYER_PYTHONS")
        try:
            deb, _ = index.download(f"libpython{version}")
        except debian_root.DebianRootError:  # a cached index naming a .deb the archive has dropped
            deb, _ = debian_root.Index(suite, arch, refresh=True).download(f"libpython{version}")
    except debian_root.DebianRootError as error:
        sys.exit(f"Python {version}: cannot fetch libpython{version} from Debian {suite}: {error}")
    unpacked = LAYER / "reference" / f"py{version}"
    unpacked.mkdir(parents=True, exist_ok=True)
    debian_root.extract(deb, unpacked)
    return next(unpacked.glob(f"usr/lib/*/libpython{version}.so.1.0"))


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


def cargo_env(target_dir, **extra):
    venv_bin = Path(sys.executable).parent  # cargo-zigbuild and ziglang live in the build venv
    return {**os.environ, "PATH": f"{venv_bin}:{os.environ['PATH']}", "CARGO_TARGET_DIR": str(target_dir),
            **extra}


def build_arch(arch, versions, pythons, steps):
    cpu, zig_target, machine = ARCHES[arch]
    out = LAYER / arch
    out.mkdir(parents=True, exist_ok=True)
    binaries = []
    for version in versions:
        glibc = glibc_for(version)
        stub = LAYER / "stubs" / arch / f"py{version}"
        subprocess.run([sys.executable, str(ROOT / "layer" / "libpython_stub.py"), "--reference",
                        str(reference_libpython(version, pythons.get(version))), "--version", version,
                        "--target", zig_target, "--out", str(stub), "--executable", pythons.get(version, "")],
                       check=True)
        target_dir = LAYER / f"{cpu}-glibc{glibc}"
        env = cargo_env(target_dir, PYO3_CONFIG_FILE=str(stub / "pyo3-config.txt"), LAMBDA_WSGI_LAMBDA_ONLY_RPATH="1")
        steps.run(f"bootstrap, Python {version}, {arch}, glibc {glibc}",
                  ["cargo-zigbuild", "zigbuild", "--release", "-p", "lambda-wsgi", "--bin", "bootstrap",
                   "--target", f"{cpu}-unknown-linux-gnu.{glibc}"], env=env)
        built = out / f"bootstrap-py{version}-{machine}"
        shutil.copy2(target_dir / f"{cpu}-unknown-linux-gnu" / "release" / "bootstrap", built)
        binaries.append((f"lambda-wsgi-bin/{built.name}", built, glibc))
    # One helper per CPU, for the oldest glibc: it serves every Python of the layer.
    target_dir = LAYER / f"{cpu}-glibc{AMAZON_LINUX_2_GLIBC}"
    steps.run(f"remote-config helper, {arch}, glibc {AMAZON_LINUX_2_GLIBC}",
              ["cargo-zigbuild", "zigbuild", "--release", "-p", "lambda-wsgi-remote-config",
               "--target", f"{cpu}-unknown-linux-gnu.{AMAZON_LINUX_2_GLIBC}"], env=cargo_env(target_dir))
    helper = target_dir / f"{cpu}-unknown-linux-gnu" / "release" / "lambda-wsgi-remote-config"
    binaries.append(("lambda-wsgi-bin/lambda-wsgi-remote-config", helper, AMAZON_LINUX_2_GLIBC))
    return package(ROOT / "dist" / f"lambda-wsgi-layer-{arch}.zip", binaries)


def add(archive, source, name):
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.external_attr = (stat.S_IFREG | 0o755) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, Path(source).read_bytes(), compresslevel=9)


def glibc_tuple(version):
    return tuple(int(part) for part in version.removeprefix("GLIBC_").split(".")) if version != "-" else (0,)


def highest_glibc(binary):
    dump = subprocess.run(["objdump", "-T", str(binary)], capture_output=True, text=True, check=True).stdout
    found = {tuple(map(int, v.split("."))) for v in re.findall(r"GLIBC_([0-9.]+)", dump)}
    return "GLIBC_" + ".".join(map(str, max(found))) if found else "-"


def package(zip_path, binaries):
    """Zips the wrapper and the binaries; refuses a binary that needs a newer glibc than the OS of
    the Pythons it serves (a function would fail at init with "GLIBC_2.xx not found")."""
    too_new = [f"{name} needs {highest_glibc(path)}, more than glibc {limit}" for name, path, limit in binaries
               if glibc_tuple(highest_glibc(path)) > glibc_tuple(limit)]
    if too_new:
        sys.exit("\n".join(too_new))
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w") as archive:
        add(archive, WRAPPER, "lambda-wsgi")
        for name, path, _ in binaries:
            add(archive, path, name)
    for name, path, _ in binaries:
        print(f"  {name:44} {path.stat().st_size / 1e6:6.2f} MB  highest glibc symbol: {highest_glibc(path)}")
    print(f"{zip_path.relative_to(ROOT)}: {zip_path.stat().st_size / 1e6:.2f} MB zipped")
    return zip_path


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", action="append", choices=sorted(ARCHES), help="default: both")
    parser.add_argument("--python", action="append", default=[], help="3.X=PATH: a local Python of that version")
    parser.add_argument("versions", nargs="+", help="3.10 3.11 ...")
    args = parser.parse_args()
    pythons = dict(spec.split("=", 1) for spec in args.python if spec.split("=", 1)[1])
    steps = Steps()
    for arch in args.arch or sorted(ARCHES, key=lambda a: a != "x86_64"):
        build_arch(arch, args.versions, pythons, steps)
    print("What each step cost:")
    steps.report()


if __name__ == "__main__":
    main()
