#!/bin/bash
# make check-cargo-lambda: `cargo lambda watch` (cargo-lambda from pip) builds and runs this
# repository's bootstrap with a copy of the Flask example, as a user would from the repository
# root, and we use it as a browser and `cargo lambda invoke` would:
# - its HTTP front door, http://127.0.0.1:$port/lambda-url/bootstrap/... (a Function URL
#   emulator) and the same routes at / (cargo-lambda's default function): a GET with an encoded
#   path and a query, a POST form with its redirect, a binary route, a cookie session round trip,
#   url_for(_external=True) links, each checked against what the app must answer;
# - `cargo lambda invoke` with an HTTP API event file;
# - reload: a change to the app's .py file is served after cargo-lambda restarts the function.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$root/.venv
# Flask for the bootstrap's Python (make passes .venv-3.X; see the Makefile's app_venv_for).
app_venv=${LAMBDA_WSGI_APP_VENV:-$venv}
port=${CARGO_LAMBDA_PORT:-9123}
log=$(mktemp)
# Inside the repository, so cargo-lambda's watcher (the workspace, minus .gitignore) sees it change.
app=$(mktemp -d "$root/tests/.cargo-lambda-app.XXXXXX")
export PATH=$venv/bin:$PATH
cp "$root"/examples/flask/*.py "$app"/
cd "$root"
# Built first, so that no request below waits on a compile (cargo-lambda builds on first use).
cargo build --quiet --bin bootstrap
cargo-lambda lambda watch --invoke-port "$port" --bin bootstrap \
    --env-var WSGI_APP=app:app --env-var LAMBDA_TASK_ROOT="$app" \
    --env-var VIRTUAL_ENV="$app_venv" >"$log" 2>&1 &
watcher=$!
trap 'kill $watcher 2>/dev/null; pkill -P $watcher 2>/dev/null || true; rm -rf "$log" "$app"' EXIT

# Waits (up to 60 s) until the log has more than $1 lines matching $2.
wait_for_log() {
    for _ in $(seq 600); do
        [ "$(grep -c "$2" "$log" || true)" -gt "$1" ] && return 0
        kill -0 $watcher 2>/dev/null || { cat "$log"; echo "cargo lambda watch exited" >&2; exit 1; }
        sleep 0.1
    done
    cat "$log"; echo "timed out waiting for '$2' in cargo lambda watch's log" >&2; exit 1
}

# Its Runtime API listens first; the function is built and started on the first request.
wait_for_log 0 "starting Runtime server"

"$venv/bin/python" - "$port" "$app" <<'PY'
import hashlib, http.cookiejar, json, sys, urllib.error, urllib.request

port, app_dir = sys.argv[1], sys.argv[2]
base = f"http://127.0.0.1:{port}"
sys.path.insert(0, app_dir)
import app as flask_example  # the same module the function serves, for the PNG's bytes

jar = http.cookiejar.CookieJar()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)


def fetch(path, data=None, headers=None):
    request = urllib.request.Request(base + path, data=data, headers=headers or {})
    try:
        with opener.open(request, timeout=300) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


for prefix in ["/lambda-url/bootstrap", ""]:
    # GET: the path arrives percent-encoded (as from a Function URL) and is decoded once.
    status, _, body = fetch(prefix + "/hello/a%20b?x=1")
    assert status == 200, (status, body)
    assert json.loads(body) == {"message": "Hello, a b!", "path": "/hello/a b", "script_root": prefix}, body

    status, _, body = fetch(prefix + "/search?q=a%2Bb%20c&tag=x&tag=y")
    assert status == 200, (status, body)
    assert json.loads(body) == {"q": "a+b c", "tags": ["x", "y"]}, body

    # url_for(_external=True) points at the URL the browser used, prefix included.
    status, _, body = fetch(prefix + "/links")
    assert status == 200, (status, body)
    links = json.loads(body)
    assert links["links_external"] == f"{base}{prefix}/links", links
    assert links["item"] == f"{prefix}/api/items/1", links

    # POST form: cargo-lambda sends the urlencoded body base64-encoded; the app answers a 303
    # whose target stays under the prefix.
    status, headers, body = fetch(prefix + "/form", data=b"name=Ada+L%C3%B6we",
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 303, (status, body)
    location = headers["Location"].removeprefix(base)
    assert location.startswith(f"{prefix}/thanks?name=Ada"), location
    status, _, body = fetch(location)
    assert status == 200 and "Thanks, Ada Löwe!" in body.decode(), (status, body)

    # Binary: the PNG's bytes, unchanged (base64 between runtime and cargo-lambda).
    status, headers, body = fetch(prefix + "/image.png")
    assert status == 200, (status, body)
    assert headers["Content-Type"] == "image/png", headers
    assert hashlib.sha256(body).digest() == hashlib.sha256(flask_example.PNG).digest()

# Cookie round trip: the signed session cookie comes back and the count goes on.
counts = [json.loads(fetch("/lambda-url/bootstrap/counter")[2])["count"] for _ in range(3)]
assert counts == [1, 2, 3], counts
assert [c.name for c in jar] == ["session"], list(jar)
print("cargo lambda watch: the HTTP front door serves the Flask example")
PY

answer=$(cargo-lambda lambda invoke bootstrap --invoke-port "$port" \
    --data-file "$root/examples/flask/events/http-api-get.json")
echo "$answer"
"$venv/bin/python" - "$answer" <<'PY'
import json, sys
answer = json.loads(sys.argv[1])
assert answer["statusCode"] == 200, answer
assert json.loads(answer["body"])["message"] == "Hello, lambda!", answer
print("cargo lambda invoke served the Flask example")
PY

# Reload: change the app, wait for cargo-lambda to restart every function instance it started
# (one per name used above: `bootstrap` and the default `_`; each logged one start so far, and
# each restarts on its own), then see the new code.
served=$(grep -c "serving WSGI application" "$log" || true)
sed -i 's/message=f"Hello, {name}!"/message=f"Reloaded, {name}!"/' "$app/app.py"
wait_for_log $((served * 2 - 1)) "serving WSGI application"
reloaded=$(curl -s --max-time 300 "http://127.0.0.1:$port/lambda-url/bootstrap/hello/there")
echo "$reloaded"
[[ "$reloaded" == *'"Reloaded, there!"'* ]] || { echo "the change to app.py was not served" >&2; exit 1; }
