"""Packages from Debian's archive, fetched and unpacked without apt (no root, no dpkg database).

The layer needs a libpython that pyenv does not have here (3.14: its exported symbols, see
libpython_stub.py), and the layer tests need Lambda-like roots of other CPUs and Pythons; Debian's
archive has both, for amd64 and arm64. Every download is checked against the SHA256 that the suite's
index gives, and cached by file name, so a second run downloads nothing.

Usage: debian_archive.py SUITE ARCH PACKAGE DEST   (unpacks one package into DEST)
"""

import hashlib
import lzma
import subprocess
import sys
import urllib.request
from pathlib import Path

MIRROR = "http://deb.debian.org/debian"
CACHE = Path(__file__).resolve().parent.parent / "target" / "debian-cache"


def _download(url, dest, sha256=None):
    if dest.exists() and (sha256 is None or hashlib.sha256(dest.read_bytes()).hexdigest() == sha256):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with urllib.request.urlopen(url, timeout=120) as response:
        data = response.read()
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise RuntimeError(f"{url}: SHA256 does not match the suite's index")
    partial = dest.with_suffix(dest.suffix + ".partial")
    partial.write_bytes(data)
    partial.replace(dest)
    return dest


def index(suite, arch):
    """{package: {field: value}} from the suite's main/binary-ARCH/Packages.xz (cached for the run)."""
    cached = CACHE / f"Packages-{suite}-{arch}.xz"
    # The index changes daily and old .debs leave the mirror: fetch it fresh once per process.
    if cached not in _fresh:
        cached.unlink(missing_ok=True)
        _download(f"{MIRROR}/dists/{suite}/main/binary-{arch}/Packages.xz", cached)
        _fresh.add(cached)
    packages = {}
    for stanza in lzma.decompress(cached.read_bytes()).decode().split("\n\n"):
        fields = {}
        for line in stanza.splitlines():
            if line[:1] not in (" ", "\t") and ": " in line:
                key, _, value = line.partition(": ")
                fields[key] = value
        if "Package" in fields:
            packages[fields["Package"]] = fields
    return packages


_fresh = set()


def deb(entry):
    """The package's .deb in the cache, downloaded and checked if not there yet."""
    filename = entry["Filename"]
    return _download(f"{MIRROR}/{filename}", CACHE / Path(filename).name, entry["SHA256"])


def unpack(deb_path, dest):
    Path(dest).mkdir(parents=True, exist_ok=True)
    subprocess.run(["dpkg-deb", "-x", str(deb_path), str(dest)], check=True)


def main():
    suite, arch, package, dest = sys.argv[1:5]
    entry = index(suite, arch).get(package)
    if entry is None:
        sys.exit(f"{package} is not in Debian {suite} ({arch})")
    unpack(deb(entry), dest)
    print(f"{package} {entry['Version']} ({suite}, {arch}) unpacked in {dest}")


if __name__ == "__main__":
    main()
