"""REMOTE_USER and the whole authorizer object, as an app reads them (tests/e2e/test_remote_user.py)."""

import json


def app(environ, start_response):
    authorizer = environ["lambda.event"]["requestContext"]["authorizer"]
    body = json.dumps({"remote_user": environ.get("REMOTE_USER"), "authorizer": dict(authorizer)})
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body.encode()]
