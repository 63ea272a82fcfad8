"""examples/django through the emulator's front door, as `make run APP=django` serves it.

The runtime imports Django, WhiteNoise and psycopg from the bootstrap's Python's app venv
(conftest's app_venv: .venv-3.X), passed to it as VIRTUAL_ENV; the interpreter running pytest
does not need Django.
"""

import re
import urllib.parse
from http.cookies import SimpleCookie

import pytest

from conftest import ROOT, app_venv

TASK_ROOT = ROOT / "examples" / "django"
HANDLER = "mysite.wsgi:application"
ADMIN_USER, ADMIN_PASSWORD = "admin", "e2e-Secret-pass-42"
# Not the emulator's origin: a same-origin POST passes because its Origin matches the scheme
# (the emulator's X-Forwarded-Proto: http) and Host Django sees; this one passes only because it
# is in CSRF_TRUSTED_ORIGINS, as a CDN's would.
TRUSTED_ORIGIN = "https://notes.example"


def django_venv():
    """The bootstrap's Python's app venv, with examples/django/requirements.txt installed."""
    return app_venv("django", "whitenoise", "psycopg")


def start_django(start_emulator, tmp_path, env=None, **emulator_options):
    """The example as `make run APP=django` serves it, on a fresh SQLite file (`env` adds or
    overrides variables: DATABASE_URL for PostgreSQL; `emulator_options` go to the emulator, such
    as `serve_args=["--snap-start"]`)."""
    venv = django_venv()
    return start_emulator(
        HANDLER,
        task_root=TASK_ROOT,
        env={
            "VIRTUAL_ENV": str(venv),
            "DJANGO_MIGRATE_ON_START": "1",
            "DJANGO_DB_PATH": str(tmp_path / "db.sqlite3"),
            "DJANGO_SUPERUSER_USERNAME": ADMIN_USER,
            "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD,
            "DJANGO_CSRF_TRUSTED_ORIGINS": TRUSTED_ORIGIN,
            "DJANGO_SECRET_KEY": "e2e-test-secret-key-not-for-production-0123456789",
            "WSGI_MANAGE_COMMANDS": "true",
            **(env or {}),
        },
        **emulator_options,
    )


@pytest.fixture(scope="module")
def django_app(start_emulator, tmp_path_factory):
    return start_django(start_emulator, tmp_path_factory.mktemp("django"))


class Client:
    """Keeps the cookies the app sets, like a browser would (one host, no expiry handling)."""

    def __init__(self, emulator):
        self.emulator = emulator
        self.cookies = {}

    def request(self, method, path, *, headers=None, body=None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        status, response_headers, data = self.emulator.request(method, path, headers=headers, body=body)
        for key, value in response_headers:
            if key.lower() == "set-cookie":
                for name, morsel in SimpleCookie(value).items():
                    self.cookies[name] = morsel.value
        return status, response_headers, data

    def post_form(self, path, fields, *, origin=None):
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        headers["Origin"] = origin or f"http://127.0.0.1:{self.emulator.front_port}"
        return self.request("POST", path, headers=headers, body=urllib.parse.urlencode(fields).encode())


def header(headers, name):
    values = [v for k, v in headers if k.lower() == name.lower()]
    assert len(values) == 1, (name, headers)
    return values[0]


def csrf_token(html):
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, html.decode(errors="replace")
    return match[1].decode()


def note_texts(html):
    return [t.decode() for t in re.findall(rb'<span class="text">([^<]*)</span>', html)]


def test_index_page(django_app):
    status, headers, body = django_app.request("GET", "/")
    assert status == 200, django_app.logs()
    assert header(headers, "content-type").startswith("text/html")
    assert b"<h1>Notes</h1>" in body
    assert b'href="/static/notes/site.css"' in body


def test_post_a_note_with_the_csrf_token(django_app):
    client = Client(django_app)
    status, _, body = client.request("GET", "/")
    assert status == 200
    assert "csrftoken" in client.cookies
    token = csrf_token(body)

    status, headers, _ = client.post_form("/", {"csrfmiddlewaretoken": token, "text": "hello from e2e ü"})
    assert status == 303, django_app.logs()
    assert header(headers, "location") == "/"

    status, _, body = client.request("GET", "/")
    assert status == 200
    assert "hello from e2e ü" in note_texts(body)


def test_post_from_a_trusted_origin(django_app):
    client = Client(django_app)
    _, _, body = client.request("GET", "/")
    status, _, _ = client.post_form("/", {"csrfmiddlewaretoken": csrf_token(body), "text": "via cdn"}, origin=TRUSTED_ORIGIN)
    assert status == 303, django_app.logs()


def test_csrf_rejections(django_app):
    client = Client(django_app)
    _, _, body = client.request("GET", "/")
    token = csrf_token(body)
    # Another origin, right token.
    status, _, _ = client.post_form("/", {"csrfmiddlewaretoken": token, "text": "x"}, origin="http://evil.example")
    assert status == 403
    # Same origin, no token.
    status, _, _ = client.post_form("/", {"text": "x"})
    assert status == 403
    # Token but no cookie.
    status, _, _ = Client(django_app).post_form("/", {"csrfmiddlewaretoken": token, "text": "x"})
    assert status == 403
    _, _, body = client.request("GET", "/")
    assert "x" not in note_texts(body)


def test_empty_note_is_a_400_with_the_form(django_app):
    client = Client(django_app)
    _, _, body = client.request("GET", "/")
    status, _, body = client.post_form("/", {"csrfmiddlewaretoken": csrf_token(body), "text": ""})
    assert status == 400
    assert b"This field is required." in body


def visits(body):
    match = re.search(rb'<strong id="visits">(\d+)</strong>', body)
    assert match, body.decode(errors="replace")
    return int(match[1])


def test_session_counter_round_trips_its_cookie(django_app):
    client = Client(django_app)
    counts = []
    for _ in range(2):
        status, _, body = client.request("GET", "/visits/")
        assert status == 200, django_app.logs()
        assert "sessionid" in client.cookies
        counts.append(visits(body))
    assert counts == [1, 2]
    # A client without the cookie starts over.
    status, _, body = Client(django_app).request("GET", "/visits/")
    assert (status, visits(body)) == (200, 1)


@pytest.mark.parametrize("path", ["/static/notes/site.css", "/static/admin/css/base.css"])
def test_static_css(django_app, path):
    status, headers, body = django_app.request("GET", path)
    assert status == 200, django_app.logs()
    assert header(headers, "content-type").startswith("text/css")
    assert int(header(headers, "content-length")) == len(body) > 0


def test_site_css_is_the_file(django_app):
    _, _, body = django_app.request("GET", "/static/notes/site.css")
    assert body == (TASK_ROOT / "notes" / "static" / "notes" / "site.css").read_bytes()


def test_missing_static_file_is_404(django_app):
    status, _, _ = django_app.request("GET", "/static/notes/nope.css")
    assert status == 404


def test_admin_requires_login(django_app):
    status, headers, _ = django_app.request("GET", "/admin/")
    assert status == 302
    assert header(headers, "location") == "/admin/login/?next=/admin/"


def test_admin_login(django_app):
    client = Client(django_app)
    status, _, body = client.request("GET", "/admin/login/")
    assert status == 200
    status, headers, _ = client.post_form(
        "/admin/login/?next=/admin/",
        {"csrfmiddlewaretoken": csrf_token(body), "username": ADMIN_USER, "password": ADMIN_PASSWORD, "next": "/admin/"},
    )
    assert status == 302, django_app.logs()
    assert header(headers, "location") == "/admin/"
    status, _, body = client.request("GET", "/admin/")
    assert status == 200
    assert b"Site administration" in body


def test_a_django_management_command_runs_by_direct_invocation(django_app):
    function_error, payload = django_app.invoke({"manage": ["showmigrations", "notes"]})
    assert function_error is None, payload
    assert payload["exitCode"] == 0, payload
    assert "[X] 0001_initial" in payload["output"]
    function_error, payload = django_app.invoke({"manage": ["no_such_command"]})
    assert payload["exitCode"] == 1 and "Unknown command" in payload["output"], payload
