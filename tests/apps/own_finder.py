"""An app whose import hook (first on sys.meta_path, as import hooks put themselves) loads
`logging` itself, so that no later finder sees that import: the runtime must still set logging up."""

import importlib.machinery
import sys


class _LoadsLoggingItself:
    def find_spec(self, name, path=None, target=None):
        if name != "logging":
            return None
        return importlib.machinery.PathFinder.find_spec(name, path)


sys.meta_path.insert(0, _LoadsLoggingItself())
import logging  # noqa: E402

log = logging.getLogger("own_finder")


def app(environ, start_response):
    log.warning("logged through an app's own import hook")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
