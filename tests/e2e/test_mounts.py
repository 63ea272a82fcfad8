"""Several apps in one function (WSGI_MOUNTS): routing, SCRIPT_NAME, middleware, errors, and
the Flask and Django examples served together, the Django admin logged into in Chromium.

Each request goes through the real bootstrap and the emulator's front door (HTTP API 2.0 and
the REST API, whose stage moves to SCRIPT_NAME before the mount's prefix).
"""

import json
import re
import sys
from pathlib import Path

import pytest

from conftest import ROOT, app_venv, run_invoke

sys.path.insert(0, str(ROOT / "examples" / "together"))
from assemble import assemble  # noqa: E402

# Not in the order mounted.py would give: the imports must follow the table.
TABLE = "/api/v2 = mounted:v2; / = mounted:site; /api = mounted:api + mounted:inner"
EVENT = {
    "version": "2.0", "rawPath": "/", "rawQueryString": "", "headers": {},
    "requestContext": {"http": {"method": "GET", "path": "/", "sourceIp": "1.2.3.4"}, "stage": "$default"},
}


@pytest.fixture(scope="module")
def mounted(start_emulator):
    return start_emulator("ignored:beside_a_table", env={"WSGI_MOUNTS": TABLE, "WSGI_MIDDLEWARE": "mounted:outer"})


def answer(emulator, path):
    status, _, body = emulator.request("GET", path)
    assert status == 200, (path, status, body, emulator.logs())
    return json.loads(body)


@pytest.mark.parametrize(("path", "app", "script_name", "path_info"), [
    ("/", "site", "", "/"),
    ("/about", "site", "", "/about"),
    ("/apis", "site", "", "/apis"),
    ("/api", "api", "/api", ""),
    ("/api/", "api", "/api", "/"),
    ("/api/users/7", "api", "/api", "/users/7"),
    ("/api/v2/x", "v2", "/api/v2", "/x"),
    ("/api/v20", "api", "/api", "/v20"),
    ("/api/caf%C3%A9", "api", "/api", "/caf\u00c3\u00a9"),
])
def test_the_longest_prefix_takes_the_request_and_moves_to_script_name(mounted, path, app, script_name, path_info):
    got = answer(mounted, path)
    assert (got["app"], got["SCRIPT_NAME"], got["PATH_INFO"]) == (app, script_name, path_info)


def test_apps_are_imported_once_in_table_order_and_middleware_applied_once_at_init(mounted):
    first = answer(mounted, "/api/x")
    for _ in range(3):
        again = answer(mounted, "/api/x")
    assert first["imports"] == ["v2", "site", "api"]
    # The mount's own middleware inside WSGI_MIDDLEWARE's; the factories ran once per mount at
    # init (outer for each of the three mounts, inner for /api): the count stays where init left it.
    assert again["tags"] == ["outer#4", "inner#4"]
    assert answer(mounted, "/")["tags"] == ["outer#4"]


def test_one_app_raising_leaves_the_others_serving(mounted):
    status, _, body = mounted.request("GET", "/api/raise")
    assert status == 500 and b"raised on purpose" not in body
    assert "RuntimeError: api raised on purpose" in mounted.logs()
    assert answer(mounted, "/x")["app"] == "site"
    assert answer(mounted, "/api/v2/x")["app"] == "v2"
    assert answer(mounted, "/api/x")["app"] == "api"


@pytest.fixture(scope="module")
def rest(start_emulator):
    return start_emulator("ignored:beside_a_table", event_format="rest", env={"WSGI_MOUNTS": TABLE})


@pytest.mark.parametrize(("path", "app", "mount", "path_info"), [
    ("/api/v2/x", "v2", "/api/v2", "/x"),
    # The REST API keeps the path as the client encoded it: a %2F is no separator, so it never
    # forms a prefix (HTTP API decodes the path before the runtime sees it).
    ("/api%2Fv2/x", "site", "", "/api/v2/x"),
    ("/api/v2%2Fx", "api", "/api", "/v2/x"),
    ("/api/v2/a%2fb", "v2", "/api/v2", "/a/b"),
])
def test_under_the_rest_api_an_encoded_slash_is_no_prefix(rest, path, app, mount, path_info):
    got = answer(rest, path)
    assert (got["app"], got["SCRIPT_NAME"], got["PATH_INFO"]) == (app, mount, path_info)


def test_a_path_no_mount_takes_is_a_404_without_python(start_emulator):
    no_root = start_emulator("ignored:beside_a_table", env={"WSGI_MOUNTS": "/api = mounted:api"})
    try:
        status, _, body = no_root.request("GET", "/elsewhere")
        assert (status, body) == (404, b"Not Found\n")
        assert 'no mount takes "/elsewhere" (mounted: /api)' in no_root.logs()
        # The app was never called: its first call is this one.
        assert answer(no_root, "/api/x")["calls"] == ["/x"]
    finally:
        no_root.stop()


@pytest.mark.parametrize(("env", "error_type", "message"), [
    ({"WSGI_MOUNTS": "/api = mounted:api; /api/ = mounted:v2"}, "Runtime.InvalidConfiguration",
     'WSGI_MOUNTS: /api is mounted twice ("/api = mounted:api" and "/api/ = mounted:v2")'),
    ({"WSGI_MOUNTS": "/ = mounted:site; shop = mounted:api"}, "Runtime.InvalidConfiguration",
     'WSGI_MOUNTS: the entry "shop = mounted:api" has a prefix that does not start with `/`'),
    ({"WSGI_MOUNTS": "/ = mounted:site; /old = broken_import:app"}, "Runtime.ImportModuleError",
     "the mount /old (broken_import:app): Unable to import module 'broken_import'"),
    ({"WSGI_MOUNTS": "/ = mounted:site; /x = mounted:nope"}, "Runtime.HandlerNotFound",
     "the mount /x (mounted:nope): Handler 'mounted:nope' missing"),
    ({"WSGI_MOUNTS": "/ = mounted:site + mounted:raising_factory"}, "Runtime.MiddlewareError",
     "middleware 'mounted:raising_factory' raised when applied at init: ValueError: this middleware refuses the app"),
    ({"WSGI_MOUNTS": "/ = mounted:site", "WSGI_MIDDLEWARE": "mounted:returns_none"}, "Runtime.HandlerNotFound",
     "middleware 'mounted:returns_none' returned a NoneType, not a WSGI application"),
    ({"WSGI_MOUNTS": "/ = mounted:site", "WSGI_APP": "echo:app"}, "Runtime.InvalidConfiguration",
     "mount the app in the table (/ = echo:app) and unset WSGI_APP"),
])
def test_bad_tables_and_failing_mounts_are_init_errors_naming_them(env, error_type, message):
    code, stdout, stderr = run_invoke("ignored:beside_a_table", EVENT, env=env)
    assert code == 2, (stdout, stderr)
    error = json.loads(stdout)
    assert error["errorType"] == error_type, error
    assert message in error["errorMessage"], error


@pytest.mark.parametrize("serve_args", [["--max-concurrency", "2"], ["--snap-start"]], ids=["managed-instances", "snapstart"])
def test_one_warm_up_per_mount_before_the_fork_or_the_snapshot(start_emulator, serve_args):
    warmed = start_emulator("ignored:beside_a_table", env={"WSGI_MOUNTS": TABLE, "WSGI_WARMUP_PATH": "/health"},
                            serve_args=serve_args)
    try:
        # Each app's first request in this worker or restored copy finds the warm-up's call
        # already in its memory: it ran once, at init, before the fork or the snapshot.
        assert answer(warmed, "/x")["calls"] == ["/health", "/x"]
        assert answer(warmed, "/api/x")["calls"] == ["/health", "/x"]
        assert answer(warmed, "/api/v2/x")["calls"] == ["/health", "/x"]
        logs = warmed.logs()
        for path in ["/health", "/api/health", "/api/v2/health"]:
            assert logs.count(f"warm-up: GET {path} answered 200") == 1, logs
    finally:
        warmed.stop()


def test_a_warm_up_another_mount_would_take_is_skipped_not_sent_twice(start_emulator):
    warmed = start_emulator("ignored:beside_a_table", env={"WSGI_MOUNTS": TABLE, "WSGI_WARMUP_PATH": "/v2/health"},
                            serve_args=["--max-concurrency", "2"])
    try:
        assert answer(warmed, "/api/v2/x")["calls"] == ["/v2/health", "/x"]
        logs = warmed.logs()
        assert "warm-up: GET /api/v2/health skipped: another mount takes it, so the mount /api is not warmed" in logs
        assert logs.count("warm-up: GET /api/v2/v2/health answered") == 1, logs
    finally:
        warmed.stop()


def test_streamed_responses_route_too_and_an_unmounted_path_streams_its_404(start_emulator):
    streamed = start_emulator("ignored:beside_a_table", event_format="function-url", env={
        "WSGI_INVOKE_MODE": "response_stream", "WSGI_MOUNTS": "/live = streaming:app; /api = mounted:api"})
    try:
        status, _, body = streamed.request("GET", "/live/sse")
        assert status == 200, streamed.logs()
        assert body.count(b"data: tick") == 3
        assert answer(streamed, "/api/x")["SCRIPT_NAME"] == "/api"
        status, _, body = streamed.request("GET", "/elsewhere")
        assert (status, body) == (404, b"Not Found\n")
    finally:
        streamed.stop()


def test_non_http_events_still_go_to_the_event_handler_beside_a_table(start_emulator):
    jobs = start_emulator("ignored:beside_a_table", env={
        "WSGI_MOUNTS": TABLE, "WSGI_EVENT_HANDLER": "jobs:on_event", "VIRTUAL_ENV": str(app_venv("flask"))})
    try:
        function_error, payload = jobs.invoke({"Records": [{"eventSource": "aws:sqs", "body": "hi"}]})
        assert function_error is None and payload["kind"] == "sqs", payload
        assert answer(jobs, "/api/x")["app"] == "api"
    finally:
        jobs.stop()


# The two examples in one function ------------------------------------------------------------

from test_django_example import ADMIN_PASSWORD, ADMIN_USER, django_venv  # noqa: E402
from test_django_browser import WAIT, browser, stylesheet_status  # noqa: E402,F401 (browser: the fixture)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def together(start_emulator, tmp_path_factory):
    """examples/together as its SAM build lays it out: Flask at /, Django under /shop."""
    root = assemble(tmp_path_factory.mktemp("together") / "task")
    return start_emulator(
        "ignored:beside_a_table",
        task_root=root,
        env={
            "VIRTUAL_ENV": str(django_venv()),
            "WSGI_MOUNTS_FILE": "mounts.txt",
            "DJANGO_MIGRATE_ON_START": "1",
            "DJANGO_DB_PATH": str(root / "db.sqlite3"),
            "DJANGO_SUPERUSER_USERNAME": ADMIN_USER,
            "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD,
            "DJANGO_CSRF_TRUSTED_ORIGINS": "http://127.0.0.1",
            "DJANGO_SECRET_KEY": "e2e-test-secret-key-not-for-production-0123456789",
            "WSGI_MANAGE_COMMANDS": "true",
        },
    )


def test_flask_at_the_root_builds_its_links_without_the_shop(together):
    status, _, body = together.request("GET", "/hello/world")
    assert status == 200, together.logs()
    assert json.loads(body) == {"message": "Hello, world!", "path": "/hello/world", "script_root": ""}


def test_django_under_shop_links_and_redirects_under_it(together):
    status, _, body = together.request("GET", "/shop/")
    assert status == 200, together.logs()
    assert b"<h1>Notes</h1>" in body
    assert b'href="/shop/static/notes/site.css"' in body
    status, _, css = together.request("GET", "/shop/static/notes/site.css")
    assert status == 200 and b"{" in css
    status, headers, _ = together.request("GET", "/shop/admin/")
    assert status == 302
    assert dict((k.lower(), v) for k, v in headers)["location"] == "/shop/admin/login/?next=/shop/admin/"
    # Django's own URLs are not at the root: / is Flask's.
    status, _, body = together.request("GET", "/admin/")
    assert status == 404 and b"Not Found" in body


def test_management_commands_go_to_the_mount_the_event_names_else_the_first(together):
    function_error, payload = together.invoke({"manage": ["showmigrations", "notes"], "mount": "/shop"})
    assert function_error is None and payload["exitCode"] == 0, payload
    assert "[X] 0001_initial" in payload["output"]
    # Without "mount": the table's first app, Flask at /, whose CLI lists its routes.
    function_error, payload = together.invoke({"manage": ["routes"]})
    assert function_error is None and payload["exitCode"] == 0, payload
    assert "/hello/<name>" in payload["output"]
    function_error, payload = together.invoke({"manage": ["migrate"], "mount": "/nowhere"})
    assert function_error == "Unhandled" and payload["errorType"] == "Runtime.UnknownMount", payload
    assert payload["errorMessage"] == (
        "the management command's mount \"/nowhere\" is not in the mount table (mounted: /, /shop)")
    assert together.request("GET", "/hello/x")[0] == 200


def test_the_django_admin_login_works_under_its_prefix_in_chromium(together, browser):
    driver = browser
    driver.delete_all_cookies()
    base = f"http://127.0.0.1:{together.front_port}"
    driver.get(base + "/shop/admin/")
    # Redirected to the login page under the prefix, with the admin's CSS from under it too.
    WebDriverWait(driver, WAIT).until(EC.url_to_be(base + "/shop/admin/login/?next=/shop/admin/"))
    status, rules = stylesheet_status(driver, "/shop/static/admin/css/base.css")
    assert status == 200 and rules > 0, (status, rules, together.logs())
    driver.find_element(By.ID, "id_username").send_keys(ADMIN_USER)
    driver.find_element(By.ID, "id_password").send_keys(ADMIN_PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(driver, WAIT).until(EC.url_to_be(base + "/shop/admin/"))
    assert driver.find_element(By.CSS_SELECTOR, "#content h1").text == "Site administration", driver.page_source
    assert driver.find_element(By.CSS_SELECTOR, "a[href='/shop/admin/notes/note/']").text == "Notes"
    # The Flask app's links, in the same browser, resolve at the root.
    driver.get(base + "/")
    link = driver.find_element(By.LINK_TEXT, "JSON greeting").get_attribute("href")
    assert re.fullmatch(re.escape(base) + r"/hello/world", link), link
    driver.get(link)
    assert "Hello, world!" in driver.page_source
