"""The end-to-end harness of tests/e2e (the Emulator running the real `bootstrap`), loaded under
its own name so that these tests share it without being part of that suite. Paths come from the
same variables: LAMBDA_WSGI_BOOTSTRAP, LAMBDA_WSGI_EMULATOR, LAMBDA_WSGI_PYTHON and
LAMBDA_WSGI_APP_VENV (`make test-docs` sets them)."""

import importlib.util
import sys
from pathlib import Path

_path = Path(__file__).resolve().parents[1] / "e2e" / "conftest.py"
_spec = importlib.util.spec_from_file_location("e2e_harness", _path)
e2e_harness = importlib.util.module_from_spec(_spec)
sys.modules["e2e_harness"] = e2e_harness
_spec.loader.exec_module(e2e_harness)

# Under `make test-docs` (LAMBDA_WSGI_NO_SKIP=1) a skip is a failure, as in the e2e suite.
pytest_runtest_makereport = e2e_harness.pytest_runtest_makereport
start_emulator = e2e_harness.start_emulator
