"""Packages the Lambda layer zip and reports what is in it.

The zip holds, at its root (the layer is unpacked to /opt):
  lambda-wsgi                      the exec wrapper (AWS_LAMBDA_EXEC_WRAPPER=/opt/lambda-wsgi)
  lambda-wsgi-bin/bootstrap-py3.X  one bootstrap per Python minor, linked against that
                                   Python's libpython (found in /var/lang/lib on Lambda)
  lambda-wsgi-bin/lambda-wsgi-remote-config
                                   remote configuration (SSM, Secrets Manager), run by a
                                   bootstrap at init only when it is configured

Every binary is checked with objdump: no symbol may need a glibc newer than Amazon Linux
2023's (2.34), or the function would fail at init with "GLIBC_2.xx not found".

Usage: package.py --out ZIP --max-glibc 2.34 [--helper PATH] VERSION=PATH [VERSION=PATH ...]
"""

import argparse
import re
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

WRAPPER = Path(__file__).resolve().parent / "lambda-wsgi"


def glibc_versions(binary):
    """Every GLIBC_x.y version the binary's dynamic symbols need."""
    dump = subprocess.run(["objdump", "-T", str(binary)], capture_output=True, text=True, check=True).stdout
    return {tuple(int(part) for part in found.split(".")) for found in re.findall(r"GLIBC_([0-9.]+)", dump)}


def add(archive, source, name):
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.external_attr = (stat.S_IFREG | 0o755) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, Path(source).read_bytes(), compresslevel=9)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--max-glibc", default="2.34")
    parser.add_argument("--helper", help="the lambda-wsgi-remote-config binary")
    parser.add_argument("binaries", nargs="+", help="VERSION=PATH, e.g. 3.12=target/.../bootstrap")
    args = parser.parse_args()
    limit = tuple(int(part) for part in args.max_glibc.split("."))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    failed = False
    rows = [("lambda-wsgi", WRAPPER.stat().st_size, "-")]
    with zipfile.ZipFile(out, "w") as archive:
        add(archive, WRAPPER, "lambda-wsgi")
        entries = [(f"lambda-wsgi-bin/bootstrap-py{version}", path)
                   for version, _, path in (spec.partition("=") for spec in args.binaries)]
        if args.helper:
            entries.append(("lambda-wsgi-bin/lambda-wsgi-remote-config", args.helper))
        for name, path in entries:
            highest = max(glibc_versions(path), default=(0,))
            rows.append((name, Path(path).stat().st_size, "GLIBC_" + ".".join(map(str, highest))))
            if highest > limit:
                print(f"{name}: needs GLIBC_{'.'.join(map(str, highest))}, newer than {args.max_glibc}",
                      file=sys.stderr)
                failed = True
            add(archive, path, name)
    for name, size, glibc in rows:
        print(f"  {name:34} {size / 1e6:7.2f} MB  highest glibc symbol: {glibc}")
    print(f"{out}: {out.stat().st_size / 1e6:.2f} MB zipped")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
