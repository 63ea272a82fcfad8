"""Shows the environment variables named in the query, as the app saw them at import time and
now (remote configuration must be in place before the import)."""

import json
import os
from urllib.parse import parse_qs

AT_IMPORT = dict(os.environ)


def app(environ, start_response):
    names = parse_qs(environ["QUERY_STRING"]).get("name", [])
    body = {name: {"at_import": AT_IMPORT.get(name), "now": os.environ.get(name)} for name in names}
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]
