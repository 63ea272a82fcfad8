"""The smallest well-behaved app: reads the whole body and says how long it was."""


def app(environ, start_response):
    length = len(environ["wsgi.input"].read())
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"hello {environ['REQUEST_METHOD']} {length}".encode()]
