"""PEP 3333 cases the peers' suites cover and ours did not (issue 12, item 11): exc_info on the
first start_response call, empty byte strings in the body, output to wsgi.errors, and several
Set-Cookie lines. One route per case; every iterable counts its close() calls."""

import json
import sys

CLOSED = {"count": 0}


class Closing:
    """An iterable over `chunks` that records close()."""

    def __init__(self, chunks):
        self.chunks = chunks

    def __iter__(self):
        return iter(self.chunks)

    def close(self):
        CLOSED["count"] += 1


def exc_info_first(environ, start_response):
    # The app's own error page, chosen before start_response was ever called: PEP 3333 allows
    # exc_info on the first call (nothing has been sent, so nothing is re-raised).
    try:
        raise KeyError("no such record")
    except KeyError:
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("X-Handled", "yes")], sys.exc_info())
    return Closing([b"handled: no such record"])


def empty_chunks(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Closing([b"", b"a", b"", b"", b"b", b""])


def only_empty_chunks(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Empty", "yes")])
    return Closing([b"", b"", b""])


def exc_info_after_empty_chunks(environ, start_response):
    # Empty chunks are not body bytes: the headers are still unsent, so exc_info replaces them.
    start_response("200 OK", [("Content-Type", "text/plain")])

    def body():
        yield b""
        yield b""
        try:
            raise ValueError("failed after empty chunks")
        except ValueError:
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info())
        yield b"error page"
    return body()


def errors_stream(environ, start_response):
    errors = environ["wsgi.errors"]
    errors.write("protocol-cases: a line written to wsgi.errors\n")
    errors.writelines(["protocol-cases: writelines one\n", "protocol-cases: writelines two\n"])
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Closing([b"logged"])


def cookies(environ, start_response):
    start_response("200 OK", [
        ("Content-Type", "text/plain"),
        ("Set-Cookie", "first=1; Path=/"),
        ("X-Other", "kept"),
        ("Set-Cookie", "second=2; Path=/; HttpOnly"),
        ("Set-Cookie", "third=3; Path=/; Secure"),
    ])
    return Closing([b"three cookies"])


def closed_count(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(CLOSED).encode()]


ROUTES = {
    "/exc-info-first": exc_info_first,
    "/empty-chunks": empty_chunks,
    "/only-empty-chunks": only_empty_chunks,
    "/exc-info-after-empty-chunks": exc_info_after_empty_chunks,
    "/errors-stream": errors_stream,
    "/cookies": cookies,
    "/closed-count": closed_count,
}


def app(environ, start_response):
    return ROUTES[environ["PATH_INFO"]](environ, start_response)
