"""The app's own floor: the WSGI app called in-process with a prebuilt environ (no adapter, no
event, no I/O). Prints the same JSON summary as `lambda-wsgi-emulator bench`.

Usage: inprocess.py module:attr [--invocations N] [--warmup N] [--post]
"""

import argparse
import importlib
import io
import json
import statistics
import time

HEADERS = {
    "HTTP_ACCEPT": "application/json, text/plain, */*",
    "HTTP_ACCEPT_ENCODING": "gzip, deflate, br",
    "HTTP_ACCEPT_LANGUAGE": "en-GB,en;q=0.9",
    "HTTP_COOKIE": "session=eyJ1c2VyIjoiYWxpY2UifQ.ZmYzZw.sig; theme=dark",
    "HTTP_HOST": "abc123xyz.execute-api.eu-west-1.amazonaws.com",
    "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "HTTP_X_AMZN_TRACE_ID": "Root=1-67891233-abcdef012345678912345678",
    "HTTP_X_FORWARDED_FOR": "203.0.113.7",
    "HTTP_X_FORWARDED_PORT": "443",
    "HTTP_X_FORWARDED_PROTO": "https",
}


def environ_for(path, query, body):
    environ = {
        "REQUEST_METHOD": "POST" if body else "GET", "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": query,
        "SERVER_NAME": "abc123xyz.execute-api.eu-west-1.amazonaws.com", "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "203.0.113.7",
        "CONTENT_TYPE": "application/json" if body else "", "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0), "wsgi.url_scheme": "https", "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False,
    }
    environ.update(HEADERS)
    return environ


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("app")
    parser.add_argument("--invocations", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--post", action="store_true", help="POST the 10 KB JSON body of bench/events")
    args = parser.parse_args()
    module, _, attr = args.app.partition(":")
    app = getattr(importlib.import_module(module), attr)
    body = b""
    if args.post:
        with open(__file__.rsplit("/", 2)[0] + "/events/http-v2-post-10k.json") as event:
            body = json.load(event)["body"].encode()
    prebuilt = environ_for("/json", "page=2&tag=a&tag=b&q=hello%20world", body)
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    def call():
        environ = dict(prebuilt)
        environ["wsgi.input"] = io.BytesIO(body)
        result = app(environ, start_response)
        try:
            b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()

    for _ in range(args.warmup):
        call()
    samples = []
    clock = time.perf_counter_ns
    started = clock()
    for _ in range(args.invocations):
        before = clock()
        call()
        samples.append((clock() - before) / 1e3)
    wall = (clock() - started) / 1e9
    samples.sort()
    if any(not status.startswith("200") for status in statuses):
        raise SystemExit(f"the app answered {set(statuses)}")
    print(json.dumps({
        "invocations": len(samples), "mean_us": statistics.fmean(samples),
        "p50_us": samples[len(samples) // 2 - 1], "p99_us": samples[int(len(samples) * 0.99) - 1],
        "per_second": len(samples) / wall, "failures": 0,
    }))


if __name__ == "__main__":
    main()
