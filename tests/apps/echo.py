"""Environ-echo app for the end-to-end golden tests, checked by wsgiref.validate.

It answers every request with the same headers as the Rust golden tests' canned response
(runtime/tests/golden.rs ECHO_HEADERS) and a body that is the environ's string values plus
`wsgi.input` (bytes decoded as Latin-1), as compact JSON with sorted keys: byte for byte the
body the golden files expect.
"""

import json
import warnings
from wsgiref.validate import WSGIWarning, validator

# A PEP 3333 warning from the validator is a failure, not a note.
warnings.simplefilter("error", WSGIWarning)

ECHO_HEADERS = [
    ("Content-Type", "application/json"),
    ("Set-Cookie", "a=1; Path=/"),
    ("Set-Cookie", "b=2; Path=/"),
    ("X-Echo", "one"),
    ("X-Echo", "two"),
]


def echo(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length)
    dump = {key: value for key, value in environ.items() if isinstance(value, str)}
    dump["wsgi.input"] = body.decode("latin-1")
    payload = json.dumps(dump, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    start_response("200 OK", list(ECHO_HEADERS))
    return [payload.encode("utf-8")]


app = validator(echo)
