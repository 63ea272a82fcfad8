"""A root directory made of Debian packages: a stand-in for a Lambda execution environment's
filesystem, for an architecture this machine may not be (arm64 runs under qemu-user).

    python3 layer/debian_root.py --suite bookworm --arch arm64 --root /tmp/root python3.11 libpython3.11

Reads the archive's index (dists/<suite>/InRelease, its signature checked by gpgv against
Debian's archive keys, then main/binary-<arch>/Packages.xz, checked against the SHA256 that
InRelease lists), resolves the dependency closure of the packages asked for
(Depends and Pre-Depends; the first alternative the archive has, real or provided; versions are
ignored, since one suite's index holds one version of each), downloads the .debs into a cache
keyed by file name (each checked against the SHA256 in Packages; a rerun downloads nothing) and
unpacks them into the root with `dpkg-deb --fsys-tarfile | tar -x`, on merged /usr (bin, sbin, lib
link to usr/, as on every Debian since bookworm). No maintainer script runs: a root without init
needs none of them, and what they would set up that matters here (/bin/sh) is done below. A stamp
file in the root names the package set: building the same root again is a no-op.

Standard library only: importable by the tests and runnable as a script.
"""

import argparse
import hashlib
import json
import lzma
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

MIRROR = os.environ.get("LAMBDA_WSGI_DEBIAN_MIRROR", "http://deb.debian.org/debian")
DEFAULT_CACHE = Path(__file__).resolve().parents[1] / "target" / "debian-cache"
# The index of a suite that moves (sid, forky) is fetched again after this long; its .debs leave
# the pool once superseded, so an old index can name files that are gone.
INDEX_MAX_AGE = 24 * 3600
# Packages that a root without init, dpkg or users never runs: maintainer-script machinery.
# Leaving them out keeps the root small (perl-base alone is about 7 MB).
SKIP = {"debconf", "debconf-2.0", "cdebconf", "perl-base", "dpkg", "install-info", "init-system-helpers",
        "usrmerge", "usr-is-merged", "sensible-utils"}
STAMP = ".debian-root.json"
KEYRING = os.environ.get("LAMBDA_WSGI_DEBIAN_KEYRING", "/usr/share/keyrings/debian-archive-keyring.gpg")


# The indexes read in this process: parsing one takes seconds, and a test session builds several roots.
_INDEXES = {}


class DebianRootError(Exception):
    pass


def _fetch(url, timeout=120):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read()
    except (urllib.error.URLError, OSError) as error:
        raise DebianRootError(f"cannot download {url}: {error}") from error


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def parse_paragraphs(text):
    """deb822 paragraphs (Packages, InRelease) as dicts; continuation lines joined with newlines."""
    paragraphs, current, key = [], {}, None
    for line in text.splitlines():
        if not line.strip():
            if current:
                paragraphs.append(current)
            current, key = {}, None
        elif line[0] in " \t" and key:
            current[key] += "\n" + line.strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            current[key] = value.strip()
    if current:
        paragraphs.append(current)
    return paragraphs


class Index:
    """One suite's main/binary-<arch>/Packages, cached in `cache`."""

    def __init__(self, suite, arch, cache=DEFAULT_CACHE, refresh=False):
        self.suite, self.arch, self.cache = suite, arch, Path(cache)
        self.cache.mkdir(parents=True, exist_ok=True)
        path = self.cache / f"Packages-{suite}-{arch}.xz"
        self.fresh = refresh or not path.exists() or time.time() - path.stat().st_mtime > INDEX_MAX_AGE
        if self.fresh:
            path.write_bytes(self._download())
        self.packages, self.providers = {}, {}
        text = lzma.decompress(path.read_bytes()).decode("utf-8", errors="replace")
        for paragraph in parse_paragraphs(text):
            name = paragraph["Package"]
            self.packages.setdefault(name, paragraph)
            for provided in _names(paragraph.get("Provides", "")):
                self.providers.setdefault(provided, name)

    def _download(self):
        release = verified(_fetch(f"{MIRROR}/dists/{self.suite}/InRelease"), self.suite)
        member = f"main/binary-{self.arch}/Packages.xz"
        listed = re.search(r"^SHA256:\n((?: .*\n?)+)", release, re.M)
        expected = None
        for line in (listed.group(1).splitlines() if listed else []):
            digest, _size, name = line.split()
            if name == member:
                expected = digest
        if expected is None:
            raise DebianRootError(f"{self.suite}'s InRelease lists no SHA256 for {member}")
        compressed = _fetch(f"{MIRROR}/dists/{self.suite}/{member}")
        if _sha256(compressed) != expected:
            raise DebianRootError(f"{self.suite} {member}: SHA256 differs from InRelease's")
        return compressed

    def resolve(self, name):
        """The real package for a name: itself, or the first package that provides it."""
        if name in self.packages:
            return name
        return self.providers.get(name)

    def closure(self, wanted, skip=SKIP):
        """The wanted packages and everything they depend on, in a stable order."""
        seen, order, todo = set(), [], list(wanted)
        while todo:
            asked = todo.pop(0)
            name = self.resolve(asked)
            if name is None:
                raise DebianRootError(f"{self.suite}/{self.arch} has no package {asked!r}")
            if name in seen:
                continue
            seen.add(name)
            order.append(name)
            paragraph = self.packages[name]
            for field in ("Pre-Depends", "Depends"):
                for group in paragraph.get(field, "").split(","):
                    alternatives = _names(group.replace("|", ","))
                    if not alternatives or any(alt in skip for alt in alternatives):
                        continue
                    chosen = next((alt for alt in alternatives if self.resolve(alt)), None)
                    if chosen is None:
                        raise DebianRootError(f"{name} needs one of {alternatives}: none in {self.suite}/{self.arch}")
                    todo.append(chosen)
        return sorted(order)

    def download(self, name):
        """The cached .deb of a package, downloaded (and its SHA256 checked) if not there yet."""
        paragraph = self.packages[name]
        filename = paragraph["Filename"]
        path = self.cache / "debs" / Path(filename).name
        if path.exists():
            return path, False
        data = _fetch(f"{MIRROR}/{filename}")
        if _sha256(data) != paragraph["SHA256"]:
            raise DebianRootError(f"{filename}: SHA256 differs from the one in {self.suite}'s Packages")
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_bytes(data)
        partial.rename(path)
        return path, True


def verified(signed, suite):
    """The text of an InRelease file whose signature gpgv checked against Debian's archive keys."""
    if not shutil.which("gpgv") or not Path(KEYRING).exists():
        raise DebianRootError(f"cannot check {suite}'s InRelease: gpgv and {KEYRING} are needed "
                              "(apt-get install gpgv debian-archive-keyring)")
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "InRelease"
        path.write_bytes(signed)
        done = subprocess.run(["gpgv", "--keyring", KEYRING, "--output", "-", str(path)], capture_output=True)
    if done.returncode != 0:
        raise DebianRootError(f"{suite}'s InRelease: no good signature from a key in {KEYRING}:\n"
                              f"{done.stderr.decode(errors='replace')}")
    return done.stdout.decode("utf-8", errors="replace")


def _names(field):
    """Package names of a Depends/Provides list: no versions, no :any/:native qualifiers."""
    names = []
    for item in field.split(","):
        item = re.sub(r"\(.*?\)|\[.*?\]|<.*?>", "", item).strip()
        if item:
            names.append(item.split(":")[0])
    return names


def build_root(root, suite, arch, packages, cache=DEFAULT_CACHE, log=print, refresh=False):
    """Builds (or finds already built) a root of `packages` and their dependencies. Returns the
    timings in seconds: index, download, extract (zero for a root already built)."""
    root, cache = Path(root), Path(cache)
    key = {"suite": suite, "arch": arch, "packages": sorted(packages)}
    stamp = root / STAMP
    if stamp.exists() and json.loads(stamp.read_text()) == key:
        return {"index": 0.0, "download": 0.0, "extract": 0.0, "downloaded": 0, "cached": True}
    started = time.monotonic()
    known = _INDEXES.get((suite, arch, cache))
    index = known if known is not None and not refresh else Index(suite, arch, cache, refresh)
    _INDEXES[(suite, arch, cache)] = index
    names = index.closure(packages)
    timings = {"index": time.monotonic() - started}
    started, downloaded, debs = time.monotonic(), 0, []
    for name in names:
        try:
            path, fresh = index.download(name)
        except DebianRootError:
            if index.fresh:
                raise
            # A cached index of a moving suite can name a .deb the pool no longer has: once
            # more with today's index.
            return build_root(root, suite, arch, packages, cache, log, refresh=True)
        downloaded += fresh
        debs.append(path)
    timings["download"], timings["downloaded"] = time.monotonic() - started, downloaded
    started = time.monotonic()
    if root.exists():
        shutil.rmtree(root)
    for directory in ("usr/bin", "usr/sbin", "usr/lib", "usr/lib64", "etc", "tmp", "proc", "dev", "sys"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    (root / "tmp").chmod(0o1777)
    for link in ("bin", "sbin", "lib", "lib64"):
        (root / link).symlink_to(f"usr/{link}")
    for deb in debs:
        extract(deb, root)
    sh = root / "usr" / "bin" / "sh"
    if not sh.exists() and (root / "usr" / "bin" / "dash").exists():
        sh.symlink_to("dash")  # dash's postinst does this on a real system
    timings["extract"], timings["cached"] = time.monotonic() - started, False
    stamp.write_text(json.dumps(key))
    log(f"debian_root: {suite}/{arch} in {root}: {len(names)} packages ({downloaded} downloaded); "
        f"index {timings['index']:.1f}s, download {timings['download']:.1f}s, extract {timings['extract']:.1f}s")
    return timings


def extract(deb, root):
    """Unpacks a .deb's files into root, through the merged-/usr links (what dpkg does)."""
    with tempfile.TemporaryFile() as stderr:
        fsys = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE, stderr=stderr)
        tar = subprocess.run(["tar", "-x", "--keep-directory-symlink", "--no-same-owner", "-C", str(root)],
                             stdin=fsys.stdout, stderr=stderr)
        fsys.stdout.close()
        if fsys.wait() != 0 or tar.returncode != 0:
            stderr.seek(0)
            raise DebianRootError(f"cannot unpack {deb.name}: {stderr.read().decode(errors='replace')}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", required=True, help="bookworm, trixie, forky, sid")
    parser.add_argument("--arch", required=True, help="a Debian architecture: amd64, arm64")
    parser.add_argument("--root", required=True, type=Path)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("packages", nargs="+")
    args = parser.parse_args(argv)
    try:
        build_root(args.root, args.suite, args.arch, args.packages, args.cache)
    except DebianRootError as error:
        print(f"debian_root: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
