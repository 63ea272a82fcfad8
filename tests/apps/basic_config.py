"""An app that configures logging itself at import, as many do: logging.basicConfig() with its own
format. On the managed runtime the root logger already has the runtime's handler then, so
basicConfig() does nothing and records keep the runtime's format."""

import logging

logging.basicConfig(format="APP FORMAT %(message)s", level=logging.DEBUG)
log = logging.getLogger("basic_config")


def app(environ, start_response):
    log.warning("logged by an app that called basicConfig")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
