"""The Flask app every runtime serves in bench/run.py: a JSON route (GET and POST) and a
100 KB binary route."""

from flask import Flask, jsonify, request

app = Flask(__name__)
PNG_100K = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 400  # deterministic: every runtime must answer alike


@app.get("/json")
def read_json():
    return jsonify(ok=True, query=request.args.to_dict(flat=False), agent=request.headers.get("User-Agent"))

@app.post("/json")
def write_json():
    items = request.get_json()["items"]
    return jsonify(ok=True, count=len(items))

@app.get("/binary")
def binary():
    return app.response_class(PNG_100K, mimetype="image/png")
