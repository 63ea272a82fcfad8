"""Generator bodies for the response-streaming tests (WSGI_INVOKE_MODE=response_stream)."""

import hashlib
import os
import threading
import time
from urllib.parse import parse_qs

MB = 1024 * 1024


class Heartbeat:
    """A background thread that ticks every 10 ms and remembers the longest gap between ticks:
    if the runtime waits with the GIL held, the gap is as long as the wait."""

    def __init__(self):
        self.last = time.monotonic()
        self.longest = 0.0
        threading.Thread(target=self._tick, daemon=True).start()

    def _tick(self):
        while True:
            time.sleep(0.01)
            now = time.monotonic()
            self.longest = max(self.longest, now - self.last)
            self.last = now

    def reset(self):
        self.longest = 0.0


heartbeat = Heartbeat()


def megabytes(count):
    """`count` MB of deterministic bytes, one MB per chunk."""
    block = hashlib.sha256(b"lambda-wsgi").digest() * (MB // 32)
    for _ in range(count):
        yield block


def wait_for(path, limit=20.0):
    deadline = time.monotonic() + limit
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def app(environ, start_response):
    path = environ["PATH_INFO"]
    query = {key: values[-1] for key, values in parse_qs(environ["QUERY_STRING"]).items()}
    if path == "/chunks":
        # The second chunk exists only after the client saw the first and opened the gate.
        start_response("200 OK", [("Content-Type", "text/plain")])

        def chunks():
            yield b"first\n"
            opened = wait_for(query["gate"])
            yield b"second\n" if opened else b"the gate never opened: the first chunk was held back\n"
        return chunks()
    if path == "/heartbeat":
        if "reset" in query:
            heartbeat.reset()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"{heartbeat.longest * 1000:.0f}".encode()]
    if path == "/sse":
        start_response("200 OK", [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache"),
                                  ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
        return (f"id: {n}\ndata: tick {n}\n\n".encode() for n in range(3))
    if path == "/big":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return megabytes(int(query.get("mb", "1")))
    if path == "/raise-midway":
        start_response("200 OK", [("Content-Type", "text/plain")])

        def broken():
            yield b"first\n"
            raise RuntimeError("broke off midway")
        return broken()
    if path == "/many":
        # Far more chunks than tokio's cooperative budget (128) per poll.
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (f"{n}\n".encode() for n in range(int(query.get("n", "500"))))
    if path == "/write-mixed":
        # write() before the iterable and from inside it: the bytes keep their order.
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"a")

        def mixed():
            yield b"b"
            write(b"c")
            yield b"d"
        return mixed()
    if path == "/raise-before":
        raise RuntimeError("no response at all")
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found\n"]
