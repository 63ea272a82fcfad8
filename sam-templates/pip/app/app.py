"""The function's code for the pip-route templates: any WSGI app; this one is Flask."""

from flask import Flask, redirect, url_for

app = Flask(__name__)


@app.get("/")
def index():
    return {"hello": "from Flask on lambda-wsgi", "json": url_for("as_json")}


@app.get("/json")
def as_json():
    return {"ok": True}


@app.get("/go")
def go():
    return redirect(url_for("index"))
