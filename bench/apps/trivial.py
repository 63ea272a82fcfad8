"""The smallest WSGI app: what every runtime costs with nothing of the app's own in the way."""


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello, world!"]
