"""A small Flask app served by lambda-wsgi: `make run` serves it on http://127.0.0.1:8000.

Nothing here knows about Lambda. It exercises what a real app needs from the runtime: a JSON
API, a form with post/redirect/get, a signed-cookie session, a multipart upload, a binary
response, repeated query keys and url_for() links that must carry the API Gateway stage.
"""

import hashlib
import itertools
import os
import struct
import zlib

from flask import Flask, Response, jsonify, redirect, render_template_string, request, session, url_for

app = Flask(__name__)
# Sessions are signed cookies: set FLASK_SECRET_KEY on the function; the default is for local runs only.
app.secret_key = os.environ.get("FLASK_SECRET_KEY", "dev-only-not-a-secret")

# One Lambda execution environment keeps this between invocations; another one has its own.
ITEMS = {1: {"id": 1, "name": "teapot", "price": 418}}
_next_id = itertools.count(2)


@app.get("/")
def index():
    return render_template_string(
        """<h1>Hello from lambda-wsgi</h1>
<ul>
  <li><a href="{{ url_for('hello', name='world') }}">JSON greeting</a></li>
  <li><a href="{{ url_for('echo', tag=['a', 'b']) }}">query echo</a></li>
  <li><a href="{{ url_for('list_items') }}">items API</a></li>
  <li><a href="{{ url_for('form') }}">a form</a></li>
  <li><a href="{{ url_for('counter') }}">session counter</a></li>
  <li><a href="{{ url_for('upload') }}">file upload</a></li>
  <li><a href="{{ url_for('image') }}">a generated PNG</a></li>
  <li><a href="{{ url_for('search', tag=['a', 'b']) }}">search by tags</a></li>
  <li><a href="{{ url_for('links') }}">url_for links</a></li>
</ul>"""
    )


@app.get("/hello/<name>")
def hello(name):
    return jsonify(message=f"Hello, {name}!", path=request.path, script_root=request.script_root)


@app.get("/echo")
def echo():
    return jsonify(args=request.args.to_dict(flat=False), remote_addr=request.remote_addr)


# --- JSON API ---------------------------------------------------------------------------------


@app.get("/api/items")
def list_items():
    return jsonify(items=[ITEMS[key] for key in sorted(ITEMS)])


@app.post("/api/items")
def create_item():
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"]:
        return jsonify(error="expected a JSON object with a non-empty string 'name'"), 400
    item = {"id": next(_next_id), "name": data["name"], "price": data.get("price")}
    ITEMS[item["id"]] = item
    return jsonify(item), 201, {"Location": url_for("get_item", item_id=item["id"])}


@app.get("/api/items/<int:item_id>")
def get_item(item_id):
    if item_id not in ITEMS:
        return jsonify(error=f"no item {item_id}"), 404
    return jsonify(ITEMS[item_id])


# --- HTML form, post/redirect/get ---------------------------------------------------------------

FORM_PAGE = """<h1>Say hello</h1>
<form method="post" action="{{ url_for('form') }}">
  <label>Name <input name="name"></label>
  <button>Send</button>
</form>"""


@app.route("/form", methods=["GET", "POST"])
def form():
    if request.method == "GET":
        return render_template_string(FORM_PAGE)
    return redirect(url_for("thanks", name=request.form.get("name") or "anonymous"), code=303)


@app.get("/thanks")
def thanks():
    # Autoescaped: the name comes from the query string.
    return render_template_string("<p>Thanks, {{ name }}!</p>", name=request.args.get("name", "anonymous"))


# --- Cookie session ------------------------------------------------------------------------------


@app.get("/counter")
def counter():
    session["count"] = session.get("count", 0) + 1
    return jsonify(count=session["count"])


# --- Multipart upload ----------------------------------------------------------------------------

UPLOAD_PAGE = """<form method="post" enctype="multipart/form-data">
  <input type="file" name="file"> <button>Upload</button>
</form>"""


@app.route("/upload", methods=["GET", "POST"])
def upload():
    if request.method == "GET":
        return UPLOAD_PAGE
    file = request.files.get("file")
    if file is None:
        return jsonify(error="no file field named 'file'"), 400
    data = file.read()
    return jsonify(filename=file.filename, size=len(data), sha256=hashlib.sha256(data).hexdigest())


# --- Binary response ----------------------------------------------------------------------------


def make_png(size=16):
    """A size x size RGB gradient as PNG bytes: zlib and struct, no Pillow."""

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 255 // (size - 1), y * 255 // (size - 1), 128)) for x in range(size))
        for y in range(size)
    )
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


PNG = make_png()


@app.get("/image.png")
def image():
    return Response(PNG, mimetype="image/png")


# --- Repeated query keys ----------------------------------------------------------------------------


@app.get("/search")
def search():
    return jsonify(q=request.args.get("q"), tags=request.args.getlist("tag"))


# --- url_for links (the API Gateway stage lives in SCRIPT_NAME) --------------------------------------


@app.get("/links")
def links():
    return jsonify(
        script_root=request.script_root,
        links=url_for("links"),
        links_external=url_for("links", _external=True),
        item=url_for("get_item", item_id=1),
        item_external=url_for("get_item", item_id=1, _external=True),
        search=url_for("search", tag=["a", "b"]),
    )
