"""Lays out one function's code from the two examples: examples/flask at `/`, examples/django
under `/shop`, and this folder's mount table. `python examples/together/assemble.py DEST`;
the SAM template's build and the end-to-end test both use it.

The two apps share one task root, so their top-level names must not collide: Flask's is `app`,
Django's `mysite`, `notes` and `manage.py`.
"""

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent
PARTS = [
    (EXAMPLES / "flask" / "app.py", "app.py"),
    (EXAMPLES / "django" / "manage.py", "manage.py"),
    (EXAMPLES / "django" / "mysite", "mysite"),
    (EXAMPLES / "django" / "notes", "notes"),
    (HERE / "mounts.txt", "mounts.txt"),
]
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "db.sqlite3")


def assemble(dest):
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for source, name in PARTS:
        target = dest / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=IGNORE, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target)
    return dest


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: assemble.py DEST")
    print(assemble(sys.argv[1]))
