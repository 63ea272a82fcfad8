"""The app every migration guide moves: a Flask app at `app:app` (the adapters' examples name it
so), with the routes the guides' promises are checked on, and the event handler the guides
configure (`WSGI_EVENT_HANDLER=app:on_event`)."""

import json
import os

from flask import Flask, Response, redirect, request, url_for

app = Flask(__name__)
# An exception in a view leaves the app, to the runtime, instead of becoming Flask's own 500 page.
app.config["PROPAGATE_EXCEPTIONS"] = True

ENVIRON_KEYS = ("SCRIPT_NAME", "PATH_INFO", "RAW_URI", "QUERY_STRING", "HTTP_COOKIE", "REMOTE_ADDR",
                "SERVER_NAME", "SERVER_PORT", "CONTENT_TYPE", "CONTENT_LENGTH", "HTTP_CONTENT_TYPE",
                "HTTP_X_VOKER_PROBE", "HTTPS", "HTTP", "wsgi.url_scheme")


@app.route("/echo/", defaults={"rest": ""}, methods=["GET", "POST"])
@app.route("/echo/<path:rest>", methods=["GET", "POST"])
def echo(rest):
    environ = request.environ
    seen = {key: environ[key] for key in ENVIRON_KEYS if key in environ}
    seen["link"] = url_for("echo", rest="x", _external=True)
    seen["request_id"] = environ["lambda.context"].aws_request_id
    seen["loaded_from"] = os.environ.get("LOADED_FROM")  # remote configuration, at init
    return seen


@app.errorhandler(404)
def not_found(error):
    """The environ of a path no route takes, so that tests see where it went."""
    environ = request.environ
    return {key: environ[key] for key in ENVIRON_KEYS if key in environ}, 404


@app.route("/login")
def login():
    return redirect(url_for("echo", rest=""))


@app.route("/cookies")
def cookies():
    response = Response("two cookies\n", mimetype="text/plain")
    response.set_cookie("session", "s1")
    response.set_cookie("theme", "dark")
    response.headers.add("X-Multi", "a")
    response.headers.add("X-Multi", "b")
    return response


PNG = bytes(range(256)) * 4


@app.route("/png")
def png():
    return Response(PNG, mimetype="image/png")


@app.route("/latin1")
def latin1():
    return Response("caf\u00e9\n".encode("latin-1"), content_type="text/plain; charset=latin-1")


@app.route("/ndjson")
def ndjson():
    return Response('{"n": 1}\n{"n": 2}\n', mimetype="application/x-ndjson")


@app.route("/boom")
def boom():
    return 1 // 0


def on_event(event, context):
    """What a Zappa `events` function or a web-adapter pass-through route did."""
    return {"handled": sorted(event), "request_id": context.aws_request_id}


def nightly():
    """Zappa's example scheduled function (its `events` setting)."""
    return json.dumps({"nightly": True})
