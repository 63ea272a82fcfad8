"""serverless-wsgi, as its README shows it."""

import serverless_wsgi

from adapters import load_app

app = load_app()


def handler(event, context):
    return serverless_wsgi.handle_request(app, event, context)
