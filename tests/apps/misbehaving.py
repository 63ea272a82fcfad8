"""Apps that break PEP 3333 (or just fail), one per path, for the error-handling tests.

Every iterable returned here counts its close() calls, so the tests can prove close() runs on
every path, including the failing ones.
"""

import io
import json
import os
import sys

CLOSED = {"count": 0}


class Closing:
    """An iterable over `chunks` that records close(); `fail_at` raises while iterating."""

    def __init__(self, chunks, fail_at=None, close_raises=False):
        self.chunks = chunks
        self.fail_at = fail_at
        self.close_raises = close_raises

    def __iter__(self):
        for index, chunk in enumerate(self.chunks):
            if index == self.fail_at:
                raise RuntimeError("iterator failed midway")
            yield chunk

    def close(self):
        CLOSED["count"] += 1
        if self.close_raises:
            raise RuntimeError("close failed")


def ok(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Closing([b"ok"])


def raises(environ, start_response):
    raise ZeroDivisionError("secret detail that must not reach the client")


def no_start_response(environ, start_response):
    return Closing([b"body"])


def bad_status(environ, start_response):
    start_response("OK", [("Content-Type", "text/plain")])
    return Closing([b"x"])


def crlf_header(environ, start_response):
    start_response("200 OK", [("X-Evil", "a\r\nSet-Cookie: pwned=1")])
    return Closing([b"x"])


def non_latin1_header(environ, start_response):
    start_response("200 OK", [("X-Name", "\u4e2d")])
    return Closing([b"x"])


def iterator_raises(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Closing([b"first", b"second"], fail_at=1)


def close_raises(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Closing([b"done"], close_raises=True)


def returns_none(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return None


def str_body(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Closing(["text, not bytes"])


def start_twice(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    start_response("201 Created", [("Content-Type", "text/plain")])
    return Closing([b"x"])


def write_then_iterate(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"hello ")
    return Closing([b"world"])


def exc_info_before_body(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    try:
        raise ValueError("handled")
    except ValueError:
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")], sys.exc_info())
    return Closing([b"replaced"])


def exc_info_after_body(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"partial")
    try:
        raise ValueError("too late")
    except ValueError:
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info())
    return Closing([b"never"])


def file_wrapper(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return environ["wsgi.file_wrapper"](io.BytesIO(bytes(range(256)) * 4), 100)


def binary(environ, start_response):
    start_response("200 OK", [("Content-Type", "image/png")])
    return Closing([b"\x89PNG\r\n\x1a\n\x00\xff"])


def latin1_text(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain; charset=latin-1")])
    return Closing([b"caf\xe9"])


def context(environ, start_response):
    ctx = environ["lambda.context"]
    event = environ["lambda.event"]
    body = {
        "aws_request_id": ctx.aws_request_id,
        "function_name": ctx.function_name,
        "function_version": ctx.function_version,
        "invoked_function_arn": ctx.invoked_function_arn,
        "memory_limit_in_mb": ctx.memory_limit_in_mb,
        "log_group_name": ctx.log_group_name,
        "remaining_ms": ctx.get_remaining_time_in_millis(),
        "event_route_key": event["routeKey"],
        "event_keys": sorted(event),
        "trace_id": os.environ.get("_X_AMZN_TRACE_ID"),
        "process_env_in_environ": sorted(k for k in environ if k in os.environ),
        "credential_in_environ": any("emulator-fake" in str(v) for v in environ.values()),
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return Closing([json.dumps(body).encode()])


def exit_process(environ, start_response):
    os._exit(3)


def sleep(environ, start_response):
    import time
    from urllib.parse import parse_qs

    time.sleep(float(parse_qs(environ["QUERY_STRING"]).get("seconds", ["5"])[0]))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"slept"]


def spin(environ, start_response):
    while True:  # pure Python, holding the GIL between bytecodes
        pass


def sleep_catching_everything(environ, start_response):
    import time

    try:
        time.sleep(30)
    except Exception:  # an app that swallows errors must still not outlive the deadline
        pass
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"swallowed"]


def big(environ, start_response):
    from urllib.parse import parse_qs

    size = int(parse_qs(environ["QUERY_STRING"]).get("bytes", ["7000000"])[0])
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Closing([b"x" * size])


PULLED = {"chunks": 0, "closed": False}


class Megabytes:
    """`count` chunks of one MB each, counting how many the runtime pulled before close()."""

    def __init__(self, count):
        self.count = count
        PULLED.update(chunks=0, closed=False)

    def __iter__(self):
        for _ in range(self.count):
            PULLED["chunks"] += 1
            yield b"x" * (1024 * 1024)

    def close(self):
        PULLED["closed"] = True


def megabytes(environ, start_response):
    from urllib.parse import parse_qs

    query = parse_qs(environ["QUERY_STRING"])
    content_type = query.get("type", ["text/plain"])[0]
    start_response("200 OK", [("Content-Type", content_type)])
    return Megabytes(int(query.get("mb", ["100"])[0]))


def write_megabytes(environ, start_response):
    """The legacy write() callable, one MB per call, until it refuses."""
    from urllib.parse import parse_qs

    count = int(parse_qs(environ["QUERY_STRING"]).get("mb", ["100"])[0])
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    PULLED.update(chunks=0, closed=False)
    for _ in range(count):
        PULLED["chunks"] += 1
        write(b"x" * (1024 * 1024))
    return []


def pulled(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(PULLED).encode()]


def closed_count(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(CLOSED).encode()]


ROUTES = {
    "/ok": ok,
    "/raise": raises,
    "/no-start-response": no_start_response,
    "/bad-status": bad_status,
    "/crlf-header": crlf_header,
    "/non-latin1-header": non_latin1_header,
    "/iterator-raises": iterator_raises,
    "/close-raises": close_raises,
    "/returns-none": returns_none,
    "/str-body": str_body,
    "/start-twice": start_twice,
    "/write": write_then_iterate,
    "/exc-info-before-body": exc_info_before_body,
    "/exc-info-after-body": exc_info_after_body,
    "/file-wrapper": file_wrapper,
    "/binary": binary,
    "/latin1-text": latin1_text,
    "/context": context,
    "/closed-count": closed_count,
    "/exit": exit_process,
    "/sleep": sleep,
    "/big": big,
    "/megabytes": megabytes,
    "/pulled": pulled,
    "/write-megabytes": write_megabytes,
    "/spin": spin,
    "/sleep-catching": sleep_catching_everything,
}


def app(environ, start_response):
    return ROUTES[environ["PATH_INFO"]](environ, start_response)
