#!/bin/bash
# make check-cargo-lambda: `cargo lambda watch` builds and runs this repository's bootstrap with
# the Flask example, and `cargo lambda invoke` sends it an HTTP API event through cargo-lambda's
# own Runtime API emulator. Fails unless the answer is the example's 200 JSON.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$root/.venv
# Flask for the bootstrap's Python (make passes .venv-3.X; see the Makefile's app_venv_for).
app_venv=${LAMBDA_WSGI_APP_VENV:-$venv}
port=${CARGO_LAMBDA_PORT:-9123}
log=$(mktemp)
export PATH=$venv/bin:$PATH
cd "$root/runtime"
cargo-lambda lambda watch --ignore-changes --invoke-port "$port" --bin bootstrap \
    --env-var WSGI_APP=app:app --env-var LAMBDA_TASK_ROOT="$root/examples/flask" \
    --env-var VIRTUAL_ENV="$app_venv" >"$log" 2>&1 &
watcher=$!
trap 'kill $watcher 2>/dev/null; pkill -P $watcher 2>/dev/null || true; rm -f "$log"' EXIT
# Wait for its Runtime API to listen (it says so); it builds the function on the first invocation.
for _ in $(seq 600); do
    grep -q "starting Runtime server" "$log" && break
    kill -0 $watcher 2>/dev/null || { cat "$log"; echo "cargo lambda watch exited" >&2; exit 1; }
    sleep 0.1
done
answer=$(cargo-lambda lambda invoke bootstrap --invoke-port "$port" \
    --data-file "$root/examples/flask/events/http-api-get.json")
echo "$answer"
python3 - "$answer" <<'PY'
import json, sys
answer = json.loads(sys.argv[1])
assert answer["statusCode"] == 200, answer
assert json.loads(answer["body"])["message"] == "Hello, lambda!", answer
print("cargo lambda watch served the Flask example")
PY
