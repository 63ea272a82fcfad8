"""One-off study: instructions per handler call, lambda_wsgi.make_handler against apig-wsgi's
make_lambda_handler, counted by callgrind (repeatable where timings are not).

Each handler is run twice under `valgrind --tool=callgrind` in the given venv Python: once with
only the warm-up calls, once with N more; the difference divided by N is one call's instructions,
init excluded. The event is bench/events/http-v2-get.json, decoded as awslambdaric decodes it,
and the context awslambdaric's LambdaContext. Results go to bench/RESULTS.md by hand (the
section "Handler mode's call, instruction by instruction").

Usage: bench/studies/handler_callgrind.py --python VENV_PYTHON [--app trivial] [--calls 1000]
"""

import argparse
import re
import subprocess
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]  # bench/ (this study is in bench/studies/)
CALLS = """
import importlib, json, sys, time
from awslambdaric.lambda_context import LambdaContext
apps, module, which, calls = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
sys.path.insert(0, apps)
app = importlib.import_module(module).app
event = json.load(open(sys.argv[5]))
if which == "ours":
    import lambda_wsgi
    handler = lambda_wsgi.make_handler(app)
else:
    import apig_wsgi
    handler = apig_wsgi.make_lambda_handler(app)
context = LambdaContext("req-1", None, None, int(time.time() * 1000) + 600000,
                        "arn:aws:lambda:us-east-1:123456789012:function:bench")
for _ in range(50 + calls):
    handler(event, context)
"""


def instructions(python, app, which, calls):
    with tempfile.TemporaryDirectory() as directory:
        out = Path(directory) / "callgrind.out"
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", python, "-c", CALLS,
             str(BENCH / "apps"), app, which, str(calls), str(BENCH / "events" / "http-v2-get.json")],
            capture_output=True, text=True, check=True,
            env={"PATH": "/usr/bin:/bin", "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_REGION": "us-east-1"})
    return int(re.search(r"Collected : (\d+)", done.stderr).group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", required=True, help="a venv Python with lambda_wsgi, apig-wsgi and awslambdaric")
    parser.add_argument("--app", default="trivial")
    parser.add_argument("--calls", type=int, default=1000)
    args = parser.parse_args()
    for which in ("ours", "apig"):
        per_call = (instructions(args.python, args.app, which, args.calls)
                    - instructions(args.python, args.app, which, 0)) / args.calls
        print(f"{args.app}: {'lambda_wsgi.make_handler' if which == 'ours' else 'apig-wsgi'}: "
              f"{per_call:,.0f} instructions a call")


if __name__ == "__main__":
    main()
