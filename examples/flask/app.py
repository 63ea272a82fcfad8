"""A small Flask app served by lambda-wsgi: `make run` serves it on http://127.0.0.1:8000."""

from flask import Flask, jsonify, redirect, request, url_for

app = Flask(__name__)


@app.get("/")
def index():
    return (
        "<h1>Hello from lambda-wsgi</h1>"
        f'<p><a href="{url_for("hello", name="world")}">JSON greeting</a> · '
        f'<a href="{url_for("echo", tag=["a", "b"])}">query echo</a></p>'
    )


@app.get("/hello/<name>")
def hello(name):
    return jsonify(message=f"Hello, {name}!", path=request.path, script_root=request.script_root)


@app.get("/echo")
def echo():
    return jsonify(args=request.args.to_dict(flat=False), remote_addr=request.remote_addr)


@app.post("/form")
def form():
    return redirect(url_for("hello", name=request.form.get("name", "anonymous")), code=303)
