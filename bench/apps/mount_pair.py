"""The app pair `make bench-mounts` serves at `/` and `/api` behind two routers: lambda-wsgi's
mount table (bench/mounts.py) and werkzeug's DispatcherMiddleware (dispatch_trivial.py,
dispatch_flask.py), so that each side imports only what it uses.

`site` and `api` are the trivial app with two headers saying which app answered and where the
router put the request (SCRIPT_NAME and PATH_INFO as the app saw them): the bench checks those on
the first answers, so a router that did not route cannot win the race.
"""


def answering(name):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-App", name),
                                  ("X-Routed", environ["SCRIPT_NAME"] + " " + environ["PATH_INFO"])])
        return [b"Hello, world!"]

    return app


site = answering("site")
api = answering("api")
