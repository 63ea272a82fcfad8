"""Writes the `bootstrap` the emulator starts for the pip package's two modes (make test-wheel):

- wrapper: Lambda's command line on a managed python3.x runtime with AWS_LAMBDA_EXEC_WRAPPER set:
  the package's exec wrapper, then the runtime's interpreter and its bootstrap script.
- handler: the managed runtime itself, awslambdaric, with Handler=lambda_wsgi.handler. The
  emulator's --handler is the app: a `module:attr` becomes WSGI_APP; a dotted handler
  (`made_handler.handler`, `lambda_wsgi.handler` alone) goes to awslambdaric as it is.

Usage: make_launcher.py MODE PYTHON OUT (PYTHON: the interpreter that has lambda_wsgi installed).
"""

import subprocess
import sys
from pathlib import Path

WRAPPER = """#!/bin/sh
# Lambda starts the exec wrapper with the managed runtime's command line.
exec {wrapper} {python} /var/runtime/bootstrap.py "$@"
"""
HANDLER = """#!/bin/sh
# The managed runtime's client with Handler=lambda_wsgi.handler (WSGI_APP: the app it serves).
case "$_HANDLER" in
    *:*) export WSGI_APP="$_HANDLER" _HANDLER=lambda_wsgi.handler ;;
esac
exec {python} -m awslambdaric "$_HANDLER"
"""


def main(mode, python, out):
    where = "import lambda_wsgi, os; print(os.path.join(os.path.dirname(lambda_wsgi.__file__), 'exec-wrapper'))"
    wrapper = subprocess.run([python, "-c", where], capture_output=True, text=True, check=True).stdout.strip()
    template = {"wrapper": WRAPPER, "handler": HANDLER}[mode]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(template.format(wrapper=wrapper, python=python))
    out.chmod(0o755)


if __name__ == "__main__":
    main(*sys.argv[1:])
