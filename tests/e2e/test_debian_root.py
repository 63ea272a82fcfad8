"""debian_root.py's rules, offline: the dependency closure, the SHA256 and signature checks, the cache
and the stamp. (test_layer_roots.py builds real roots from the archive.)"""

import hashlib
import lzma
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "layer"))
import debian_root  # noqa: E402  (layer/: the layer's build uses it too)

PACKAGES = """\
Package: app
Version: 1.0
Pre-Depends: loader (>= 2)
Depends: libfoo (>= 1.2) | libfoo-legacy, mail-transport-agent, libc6:any, debconf (>= 0.5) | debconf-2.0
Filename: pool/main/a/app/app_1.0_arm64.deb
SHA256: {app_sha}

Package: libfoo
Depends: libc6
Filename: pool/main/libf/libfoo/libfoo_1.2_arm64.deb
SHA256: 00

Package: libfoo-legacy
Filename: pool/main/libf/libfoo-legacy/libfoo-legacy_1_arm64.deb
SHA256: 00

Package: tinymta
Provides: mail-transport-agent
Depends: libc6
Filename: pool/main/t/tinymta/tinymta_1_arm64.deb
SHA256: 00

Package: loader
Filename: pool/main/l/loader/loader_2_arm64.deb
SHA256: 00

Package: libc6
Description: the C library
 whose description goes on
 over two lines
Filename: pool/main/g/glibc/libc6_2.36_arm64.deb
SHA256: 00
"""


@pytest.fixture
def index(tmp_path):
    """An Index read from a fresh cached Packages file: no network."""
    app = b"the app's .deb"
    (tmp_path / "Packages-testing-arm64.xz").write_bytes(
        lzma.compress(PACKAGES.format(app_sha=hashlib.sha256(app).hexdigest()).encode()))
    index = debian_root.Index("testing", "arm64", tmp_path)
    index.app_bytes = app
    return index


def test_the_closure_follows_depends_and_pre_depends_first_alternative_and_providers(index):
    assert index.closure(["app"]) == ["app", "libc6", "libfoo", "loader", "tinymta"]


def test_a_missing_dependency_is_an_error_not_a_smaller_root(index):
    index.packages["app"]["Depends"] += ", libgone"
    with pytest.raises(debian_root.DebianRootError, match="libgone"):
        index.closure(["app"])


def test_continuation_lines_stay_in_their_field(index):
    assert index.packages["libc6"]["Description"] == "the C library\nwhose description goes on\nover two lines"
    assert index.packages["libc6"]["Filename"] == "pool/main/g/glibc/libc6_2.36_arm64.deb"


def test_a_download_is_checked_against_the_index_and_then_cached(index, monkeypatch):
    fetched = []
    monkeypatch.setattr(debian_root, "_fetch", lambda url: fetched.append(url) or index.app_bytes)
    path, fresh = index.download("app")
    assert fresh and path.read_bytes() == index.app_bytes
    assert fetched == [f"{debian_root.MIRROR}/pool/main/a/app/app_1.0_arm64.deb"]
    assert index.download("app") == (path, False) and len(fetched) == 1


def test_a_download_whose_sha256_differs_is_refused_and_not_cached(index, monkeypatch):
    monkeypatch.setattr(debian_root, "_fetch", lambda url: b"something else")
    with pytest.raises(debian_root.DebianRootError, match="SHA256 differs"):
        index.download("app")
    assert not list((index.cache / "debs").glob("*"))


def test_an_inrelease_without_a_good_signature_is_refused():
    forged = (b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nSHA256:\n 00 1 main/binary-arm64/Packages.xz\n"
              b"-----BEGIN PGP SIGNATURE-----\n\niQIzBAEBCgAdFiEE\n=AAAA\n-----END PGP SIGNATURE-----\n")
    with pytest.raises(debian_root.DebianRootError, match="no good signature"):
        debian_root.verified(forged, "testing")


def test_a_root_is_unpacked_on_merged_usr_and_built_once(tmp_path, monkeypatch):
    # A real .deb, made by dpkg-deb, with a file under bin/ (which must land in usr/bin).
    package = tmp_path / "pkg"
    (package / "DEBIAN").mkdir(parents=True)
    (package / "DEBIAN" / "control").write_text(
        "Package: hello\nVersion: 1\nArchitecture: all\nMaintainer: t <t@t>\nDescription: t\n")
    (package / "bin").mkdir()
    (package / "bin" / "dash").write_text("#!/bin/true\n")
    (package / "bin" / "dash").chmod(0o755)
    deb = tmp_path / "hello_1_all.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(package), str(deb)], check=True,
                   capture_output=True)
    data = deb.read_bytes()
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "Packages-testing-arm64.xz").write_bytes(lzma.compress(
        f"Package: hello\nFilename: pool/main/h/hello/hello_1_all.deb\nSHA256: {hashlib.sha256(data).hexdigest()}\n"
        .encode()))
    monkeypatch.setattr(debian_root, "_fetch", lambda url: data)
    root = tmp_path / "root"
    first = debian_root.build_root(root, "testing", "arm64", ["hello"], cache, log=lambda line: None)
    assert not first["cached"] and first["downloaded"] == 1
    assert (root / "bin").is_symlink() and (root / "usr" / "bin" / "dash").read_text() == "#!/bin/true\n"
    # dash's postinst is not run: /bin/sh is linked to it as it would.
    assert (root / "bin" / "sh").resolve() == (root / "usr" / "bin" / "dash").resolve()
    monkeypatch.setattr(debian_root, "_fetch", lambda url: pytest.fail(f"downloaded {url} again"))
    again = debian_root.build_root(root, "testing", "arm64", ["hello"], cache, log=lambda line: None)
    assert again["cached"]
    # Another package set is another root, built again: here one the index cannot resolve.
    with pytest.raises(debian_root.DebianRootError, match="no package 'other'"):
        debian_root.build_root(root, "testing", "arm64", ["hello", "other"], cache, log=lambda line: None)

