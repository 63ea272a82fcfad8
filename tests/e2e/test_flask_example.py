"""examples/flask through the emulator, as `make run` serves it."""

import hashlib
import importlib.util
import json
import struct
import zlib

import pytest

from conftest import ROOT, app_venv

EXAMPLE = ROOT / "examples" / "flask"
EXECUTE_API_HOST = "abc123.execute-api.us-east-1.amazonaws.com"
REST_SECRET = "rest-emulator-secret"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module", params=["app:app", "validated_flask:app"], ids=["as-deployed", "under-wsgiref-validate"])
def flask_app(request, start_emulator):
    env = {"VIRTUAL_ENV": str(app_venv("flask"))}
    if request.param == "app:app":
        return start_emulator("app:app", task_root=EXAMPLE, env=env)
    return start_emulator("validated_flask:app", env=env)


@pytest.fixture(scope="module")
def rest_app(start_emulator):
    """The example behind a REST API event (stage "local") with its own FLASK_SECRET_KEY."""
    return start_emulator(
        "app:app", task_root=EXAMPLE, event_format="rest",
        env={"VIRTUAL_ENV": str(app_venv("flask")), "FLASK_SECRET_KEY": REST_SECRET},
    )


@pytest.fixture(scope="module")
def example_module():
    """examples/flask/app.py imported in this process, to compare with what the runtime served."""
    spec = importlib.util.spec_from_file_location("flask_example_app", EXAMPLE / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def header_values(headers, name):
    return [value for key, value in headers if key.lower() == name.lower()]


def header(headers, name):
    values = header_values(headers, name)
    assert len(values) == 1, (name, headers)
    return values[0]


def get_json(app, path, **kwargs):
    status, headers, body = app.request("GET", path, **kwargs)
    assert header(headers, "Content-Type") == "application/json", (status, body)
    return status, json.loads(body)


def post_json(app, path, payload, headers=None):
    status, response_headers, body = app.request(
        "POST", path, headers={"Content-Type": "application/json", **(headers or {})}, body=json.dumps(payload).encode()
    )
    return status, response_headers, json.loads(body)


# --- the routes the example always had ----------------------------------------------------------


def test_json_route_with_a_non_ascii_path(flask_app):
    status, _, body = flask_app.request("GET", "/hello/w%C3%B6rld")
    assert status == 200
    assert json.loads(body) == {"message": "Hello, wörld!", "path": "/hello/wörld", "script_root": ""}


def test_repeated_query_keys(flask_app):
    status, _, body = flask_app.request("GET", "/echo?tag=a&tag=b")
    assert (status, json.loads(body)["args"]) == (200, {"tag": ["a", "b"]})


def test_index_links_every_route(flask_app):
    status, headers, body = flask_app.request("GET", "/")
    assert status == 200
    assert header(headers, "Content-Type") == "text/html; charset=utf-8"
    for href in ["/hello/world", "/api/items", "/form", "/counter", "/upload", "/image.png", "/links"]:
        assert f'href="{href}"'.encode() in body, href


# --- JSON API ------------------------------------------------------------------------------------


def test_items_list_create_and_get(flask_app):
    status, listing = get_json(flask_app, "/api/items")
    assert status == 200
    assert {"id": 1, "name": "teapot", "price": 418} in listing["items"]

    status, headers, created = post_json(flask_app, "/api/items", {"name": "kettle ☕", "price": 25})
    assert status == 201
    assert created["name"] == "kettle ☕" and created["price"] == 25 and isinstance(created["id"], int)
    location = header(headers, "Location")
    assert location == f"/api/items/{created['id']}"

    assert get_json(flask_app, location) == (200, created)
    status, listing = get_json(flask_app, "/api/items")
    assert status == 200 and created in listing["items"]


def test_missing_item_is_a_json_404(flask_app):
    assert get_json(flask_app, "/api/items/987654") == (404, {"error": "no item 987654"})


def test_creating_an_item_without_a_name_is_a_json_400(flask_app):
    status, headers, body = post_json(flask_app, "/api/items", {"price": 3})
    assert status == 400
    assert header_values(headers, "Location") == []
    assert "name" in body["error"]


# --- HTML form, post/redirect/get ---------------------------------------------------------------


def test_form_page(flask_app):
    status, headers, body = flask_app.request("GET", "/form")
    assert status == 200
    assert header(headers, "Content-Type") == "text/html; charset=utf-8"
    assert b'<form method="post" action="/form">' in body and b'<input name="name">' in body


def test_form_post_redirects(flask_app):
    status, headers, _ = flask_app.request(
        "POST", "/form", headers={"Content-Type": "application/x-www-form-urlencoded"}, body=b"name=ann"
    )
    assert status == 303
    assert header(headers, "Location") == "/thanks?name=ann"


def test_form_post_redirect_get_round_trip(flask_app):
    status, headers, _ = flask_app.request(
        "POST", "/form", headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=b"name=%3Cb%3EZo%C3%AB+%26+Al%3C%2Fb%3E",
    )
    assert status == 303
    location = header(headers, "Location")
    assert location.startswith("/thanks?name=")
    status, _, body = flask_app.request("GET", location)
    assert status == 200
    assert body.decode() == "<p>Thanks, &lt;b&gt;Zoë &amp; Al&lt;/b&gt;!</p>"


# --- Cookie session ------------------------------------------------------------------------------


def session_cookie(headers):
    """The `session=...` pair from the response's Set-Cookie, and the whole Set-Cookie line."""
    [line] = [value for value in header_values(headers, "Set-Cookie") if value.startswith("session=")]
    return line.split(";", 1)[0], line


def counter(app, cookie=None):
    status, headers, body = app.request("GET", "/counter", headers={"Cookie": cookie} if cookie else {})
    assert status == 200, body
    return json.loads(body)["count"], headers


def test_session_cookie_round_trips(flask_app):
    count, headers = counter(flask_app)
    assert count == 1
    cookie, line = session_cookie(headers)
    assert "HttpOnly" in line and "Path=/" in line
    assert header(headers, "Vary") == "Cookie"

    count, headers = counter(flask_app, cookie)
    assert count == 2
    count, _ = counter(flask_app, session_cookie(headers)[0])
    assert count == 3
    # The cookie is the state: the first one still says 1.
    assert counter(flask_app, cookie)[0] == 2
    # No cookie, no session.
    assert counter(flask_app)[0] == 1


def test_session_is_signed_with_flask_secret_key(flask_app, rest_app):
    _, headers = counter(rest_app)
    rest_cookie = session_cookie(headers)[0]
    assert counter(rest_app, rest_cookie)[0] == 2
    # Signed with FLASK_SECRET_KEY, so an app with the default key rejects it and starts over.
    assert counter(flask_app, rest_cookie)[0] == 1
    # And a cookie forged with the wrong key is ignored by the REST one.
    _, headers = counter(flask_app)
    assert counter(rest_app, session_cookie(headers)[0])[0] == 1


# --- Multipart upload ----------------------------------------------------------------------------


def multipart(fields, files, boundary="----lambda-wsgi-test-boundary-7MA4YWxkTrZu0gW"):
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value + b"\r\n")
    for name, (filename, content_type, data) in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n".encode() + data + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return {"Content-Type": f"multipart/form-data; boundary={boundary}"}, body


# Every byte value (not UTF-8, so it travels as base64), CRLFs and a near-boundary line.
UPLOAD = bytes(range(256)) * 64 + b"\r\n--lambda-wsgi-test-boundary\r\n\r\n\x00" + bytes(range(255, -1, -1))


def test_upload_hashes_the_bytes_sent(flask_app):
    headers, body = multipart({"note": b"hello"}, {"file": ("blob.bin", "application/octet-stream", UPLOAD)})
    status, response_headers, response = flask_app.request("POST", "/upload", headers=headers, body=body)
    assert status == 200, response
    assert header(response_headers, "Content-Type") == "application/json"
    assert json.loads(response) == {
        "filename": "blob.bin",
        "size": len(UPLOAD),
        "sha256": hashlib.sha256(UPLOAD).hexdigest(),
    }


def test_upload_without_a_file_is_a_400(flask_app):
    headers, body = multipart({"note": b"no file here"}, {})
    status, _, response = flask_app.request("POST", "/upload", headers=headers, body=body)
    assert status == 400
    assert "file" in json.loads(response)["error"]


# --- Binary response ----------------------------------------------------------------------------


def png_chunks(data):
    assert data[:8] == PNG_SIGNATURE
    chunks, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset:offset + 4])
        kind, payload = data[offset + 4:offset + 8], data[offset + 8:offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length:offset + 12 + length])
        assert crc == zlib.crc32(kind + payload), kind
        chunks.append((kind, payload))
        offset += 12 + length
    return chunks


def test_png_is_served_byte_for_byte(flask_app, example_module):
    status, headers, body = flask_app.request("GET", "/image.png")
    assert status == 200
    assert header(headers, "Content-Type") == "image/png"
    assert int(header(headers, "Content-Length")) == len(body)
    assert body == example_module.make_png()
    # And it is a valid 16x16 8-bit RGB PNG: every CRC checks, the pixels decompress to size.
    chunks = png_chunks(body)
    assert [kind for kind, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
    assert struct.unpack(">IIBBBBB", chunks[0][1]) == (16, 16, 8, 2, 0, 0, 0)
    assert len(zlib.decompress(chunks[1][1])) == 16 * (1 + 16 * 3)


# --- Repeated query keys ----------------------------------------------------------------------------


def test_search_keeps_repeated_keys_in_order(flask_app):
    status, body = get_json(flask_app, "/search?tag=a&q=tea&tag=b&tag=a")
    assert (status, body) == (200, {"q": "tea", "tags": ["a", "b", "a"]})


def test_search_decodes_plus_and_percent_once(flask_app):
    status, body = get_json(flask_app, "/search?tag=a%2Bb&tag=c+d&tag=%2541&tag=")
    assert (status, body) == (200, {"q": None, "tags": ["a+b", "c d", "%41", ""]})


# --- url_for links ------------------------------------------------------------------------------------


def test_links_without_a_stage(flask_app):
    status, body = get_json(flask_app, "/links")
    assert status == 200
    host = f"127.0.0.1:{flask_app.front_port}"
    assert body["script_root"] == ""
    assert body["links"] == "/links"
    assert body["item"] == "/api/items/1"
    assert body["search"] == "/search?tag=a&tag=b"
    assert body["links_external"].split("://", 1)[1] == f"{host}/links"
    assert body["item_external"].split("://", 1)[1] == f"{host}/api/items/1"


# The REST emulator (stage "local"). On the execute-api host the client's URL is
# https://{api}.execute-api.{region}.amazonaws.com/local/..., so the stage goes to SCRIPT_NAME.

EXECUTE_API = {"Host": EXECUTE_API_HOST}


def test_rest_links_carry_the_stage_on_the_execute_api_host(rest_app):
    status, body = get_json(rest_app, "/links", headers=EXECUTE_API)
    assert (status, body) == (200, {
        "script_root": "/local",
        "links": "/local/links",
        # The emulator's front door is plain HTTP and says so (X-Forwarded-Proto: http).
        "links_external": f"http://{EXECUTE_API_HOST}/local/links",
        "item": "/local/api/items/1",
        "item_external": f"http://{EXECUTE_API_HOST}/local/api/items/1",
        "search": "/local/search?tag=a&tag=b",
    })


def test_rest_links_have_no_stage_on_another_host(rest_app):
    # A custom domain (here the emulator's own address) maps a base path instead: no stage in URLs.
    status, body = get_json(rest_app, "/links")
    assert status == 200
    assert body["script_root"] == "" and body["links"] == "/links"
    assert body["links_external"].split("://", 1)[1] == f"127.0.0.1:{rest_app.front_port}/links"


def test_rest_stage_in_redirect_and_created_location(rest_app):
    status, headers, _ = rest_app.request(
        "POST", "/form", headers={**EXECUTE_API, "Content-Type": "application/x-www-form-urlencoded"}, body=b"name=ann"
    )
    assert (status, header(headers, "Location")) == (303, "/local/thanks?name=ann")

    status, headers, created = post_json(rest_app, "/api/items", {"name": "mug"}, headers=EXECUTE_API)
    assert status == 201
    assert header(headers, "Location") == f"/local/api/items/{created['id']}"

    status, _, body = rest_app.request("GET", "/form", headers=EXECUTE_API)
    assert status == 200 and b'action="/local/form"' in body


def test_rest_search_keeps_repeated_keys(rest_app):
    # REST delivers the query decoded in multiValueQueryStringParameters; the runtime re-encodes it.
    status, body = get_json(rest_app, "/search?tag=a%2Bb&tag=c+d&tag=a%2Bb&q=x%26y", headers=EXECUTE_API)
    assert (status, body) == (200, {"q": "x&y", "tags": ["a+b", "c d", "a+b"]})


def test_rest_binary_upload_and_image(rest_app, example_module):
    headers, body = multipart({}, {"file": ("blob.bin", "application/octet-stream", UPLOAD)})
    status, _, response = rest_app.request("POST", "/upload", headers={**EXECUTE_API, **headers}, body=body)
    assert status == 200, response
    assert json.loads(response)["sha256"] == hashlib.sha256(UPLOAD).hexdigest()

    status, headers, png = rest_app.request("GET", "/image.png", headers=EXECUTE_API)
    assert (status, header(headers, "Content-Type"), png) == (200, "image/png", example_module.make_png())
