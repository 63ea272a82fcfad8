"""Each migration guide's settings, run through lambda-wsgi: the block after
`<!-- migration-test: NAME -->` on docs/src/migrate/NAME.md (a zappa_settings.json, a
serverless.yml or a SAM function, as the guide shows it) is read as its tool would read it, the
function it describes is started by the emulator with the real `bootstrap`, and live-capture
events (runtime/tests/fixtures) shaped for the test app's routes check what the guide promises.
Each promise is also looked up on the page, so that a promise dropped from the guide, or a test
of one it no longer makes, shows here."""

import base64
import copy
import json
import re
from pathlib import Path

import pytest

import docs_checks
from e2e_harness import FIXTURES, app_venv

ROOT = Path(__file__).resolve().parents[2]
GUIDES = ROOT / "docs" / "src" / "migrate"
APPS = Path(__file__).resolve().parent / "apps"
MARKER = "<!-- migration-test: {} -->"
# Where the guides point AWS_LAMBDA_EXEC_WRAPPER: the package installed in the function, or the layer.
EXEC_WRAPPERS = {"/var/task/lambda_wsgi/exec-wrapper", "/opt/lambda-wsgi", "/opt/python/lambda_wsgi/exec-wrapper"}
PNG = bytes(range(256)) * 4  # what apps/app.py's /png sends


# --- the guide's settings, as the tool would read them ----------------------------------------

def guide_text(name):
    return (GUIDES / f"{name}.md").read_text()


def guide_settings(name):
    """The parsed block after the guide's marker."""
    text = guide_text(name)
    marker = MARKER.format(name)
    assert text.count(marker) == 1, f"{name}.md must mark exactly one settings block with {marker}"
    after = text.split(marker, 1)[1]
    language, _, code, _ = docs_checks.code_blocks(after)[0]
    if language == "json":
        return json.loads(code)
    assert language == "yaml", f"{name}.md: the settings block is {language!r}, not json or yaml"
    return __import__("yaml").load(code, Loader=docs_checks._TolerantLoader)


def function_of(settings):
    """(Handler, environment) of the one function the settings describe."""
    if "functions" in settings:  # serverless.yml
        (function,) = settings["functions"].values()
        handler, env = function["handler"], function.get("environment", {})
    elif "AppFunction" in settings:  # a SAM function
        properties = settings["AppFunction"]["Properties"]
        handler, env = properties["Handler"], properties.get("Environment", {}).get("Variables", {})
    else:  # zappa_settings.json: one stage
        (stage,) = settings.values()
        handler = stage.get("lambda_handler") or stage["app_function"]
        env = stage.get("environment_variables", {})
    return handler, {key: str(value) for key, value in env.items()}


def start_guide(start_emulator, name, event_format="http-v2"):
    handler, env = function_of(guide_settings(name))
    wrapper = env.pop("AWS_LAMBDA_EXEC_WRAPPER", None)
    # `bootstrap` plays the exec wrapper's part (the same loop); handler mode's settings run through
    # it too, since WSGI_APP names the app there and takes precedence over the Handler.
    if handler == "lambda_wsgi.handler":
        assert "WSGI_APP" in env, f"{name}: handler mode needs WSGI_APP"
    else:
        assert wrapper in EXEC_WRAPPERS, f"{name}: Handler {handler} without the exec wrapper ({wrapper})"
    if "WSGI_CONFIG_SSM_PATH" in env or "WSGI_CONFIG_SECRET_ID" in env:
        # No AWS here: a stand-in helper prints what the parameters would hold.
        env["WSGI_REMOTE_CONFIG_HELPER"] = str(APPS / "fake-remote-config")
    env["VIRTUAL_ENV"] = str(app_venv("flask"))
    return start_emulator(handler, env=env, task_root=APPS, event_format=event_format)


def promise(name, words):
    """The guide still makes this promise."""
    flat = re.sub(r"\s+", " ", guide_text(name))
    assert words in flat, f"{name}.md no longer says {words!r}: update the guide or this test"


# --- events, from live captures, pointed at the app's routes ----------------------------------

def fixture(name):
    return json.loads((FIXTURES / f"{name}.json").read_text())


def rest(path, *, stage="prod", host=None, method="GET", headers=None):
    event = fixture("rest/live-capture-post")
    event.update(httpMethod=method, path=path, body=None, isBase64Encoded=False, resource="/{proxy+}",
                 pathParameters={"proxy": path.lstrip("/")})
    event["requestContext"].update(httpMethod=method, path=f"/{stage}{path}", stage=stage)
    if host:
        event["requestContext"]["path"] = path
        event["requestContext"]["domainName"] = host
        event["headers"]["Host"] = host
        event["multiValueHeaders"]["Host"] = [host]
    for key, value in (headers or {}).items():
        event["headers"][key] = value
        event["multiValueHeaders"][key] = [value]
    return event


def http_v2(raw_path, *, stage="$default", host=None, query=None):
    event = fixture("http-v2/named-stage")
    event["rawPath"] = raw_path
    event["requestContext"]["http"]["path"] = raw_path
    event["requestContext"]["stage"] = stage
    if query is not None:
        event["rawQueryString"] = query
    if host:
        event["headers"]["host"] = host
        event["requestContext"]["domainName"] = host
    return event


def function_url(raw_path):
    event = fixture("function-url/live-capture-post")
    event["rawPath"] = raw_path
    event["requestContext"]["http"].update(method="GET", path=raw_path)
    event.update(body=None, isBase64Encoded=False)
    return event


def alb(path):
    event = fixture("alb/multi-value-forwarded-chain")
    event.update(httpMethod="GET", path=path, body="")
    return event


def call(emulator, event):
    function_error, payload = emulator.invoke(event)
    assert function_error is None, payload
    return payload


def body(payload):
    text = payload.get("body") or ""
    return base64.b64decode(text) if payload.get("isBase64Encoded") else text.encode()


def environ_of(emulator, event):
    payload = call(emulator, event)
    assert payload["statusCode"] == 200, payload
    return json.loads(body(payload))


def header(payload, name):
    for key, value in (payload.get("headers") or {}).items():
        if key.lower() == name.lower():
            return value
    for key, values in (payload.get("multiValueHeaders") or {}).items():
        if key.lower() == name.lower():
            return values[-1]
    return None


# --- promises every guide makes -------------------------------------------------------------

def paths_decoded_once(emulator):
    # HTTP API has decoded the path already: a literal %41 must stay %41.
    assert environ_of(emulator, http_v2("/echo/%41"))["PATH_INFO"] == "/echo/%41"


def stage_in_script_name(emulator):
    seen = environ_of(emulator, rest("/echo/a"))
    assert (seen["SCRIPT_NAME"], seen["PATH_INFO"]) == ("/prod", "/echo/a")
    assert seen["link"] == "https://5h7pqvr9u4.execute-api.us-west-2.amazonaws.com/prod/echo/x"
    redirect = call(emulator, rest("/login"))
    assert redirect["statusCode"] == 302
    assert header(redirect, "Location") in ("/prod/echo/", "https://5h7pqvr9u4.execute-api.us-west-2.amazonaws.com/prod/echo/")
    # Never "/" or "/$default".
    assert environ_of(emulator, http_v2("/echo/a"))["SCRIPT_NAME"] == ""
    assert environ_of(emulator, alb("/echo/a"))["SCRIPT_NAME"] == ""
    named = environ_of(emulator, http_v2("/dev/echo/a", stage="dev"))
    assert (named["SCRIPT_NAME"], named["PATH_INFO"]) == ("/dev", "/echo/a")


def errors_are_500s(emulator):
    payload = call(emulator, rest("/boom"))
    assert payload["statusCode"] == 500
    assert body(payload) == b"Internal Server Error\n"
    assert "ZeroDivisionError" in emulator.logs()  # the traceback is in the log
    assert environ_of(emulator, rest("/echo/after"))["PATH_INFO"] == "/echo/after"  # still warm


def binary_bodies(emulator):
    payload = call(emulator, rest("/png"))
    assert payload["isBase64Encoded"] is True and body(payload) == PNG
    latin1 = call(emulator, http_v2("/latin1"))
    assert (latin1["statusCode"], latin1["isBase64Encoded"], body(latin1)) == (200, True, "caf\u00e9\n".encode("latin-1"))


def text_mime_types(emulator):
    payload = call(emulator, http_v2("/ndjson"))
    assert (payload["isBase64Encoded"], payload["body"]) == (False, '{"n": 1}\n{"n": 2}\n')


def cookies_once(emulator):
    # A Function URL event carries the cookies twice: the array and a Cookie header.
    assert environ_of(emulator, function_url("/echo/"))["HTTP_COOKIE"] == "session=abc123; theme=dark"
    v2 = call(emulator, http_v2("/cookies"))
    assert [c.split(";")[0] for c in v2["cookies"]] == ["session=s1", "theme=dark"]
    assert v2["headers"]["x-multi"] == "a, b"
    v1 = call(emulator, rest("/cookies"))
    assert [c.split(";")[0] for c in v1["multiValueHeaders"]["Set-Cookie"]] == ["session=s1", "theme=dark"]


def client_address(emulator):
    assert environ_of(emulator, alb("/echo/"))["REMOTE_ADDR"] == "68.8.83.18"  # not the client's 6.6.6.6
    spoofed = rest("/echo/", headers={"X-Forwarded-For": "6.6.6.6, 68.8.83.18"})
    assert environ_of(emulator, spoofed)["REMOTE_ADDR"] == "68.8.83.18"


def base_path(emulator):
    seen = environ_of(emulator, http_v2("/api/echo/a", host="api.example.com"))
    assert (seen["SCRIPT_NAME"], seen["PATH_INFO"]) == ("/api", "/echo/a")
    assert seen["link"] == "https://api.example.com/api/echo/x"
    # A segment boundary only: /apiv2 is not under /api.
    other = call(emulator, http_v2("/apiv2/echo/a", host="api.example.com"))
    assert other["statusCode"] == 404  # no route: the app's 404 handler echoes where it went
    assert json.loads(body(other))["SCRIPT_NAME"] == "" and json.loads(body(other))["PATH_INFO"] == "/apiv2/echo/a"


# --- apig-wsgi ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def apig(start_emulator):
    return start_guide(start_emulator, "apig-wsgi")


def test_apig_wsgi_settings_serve_the_app_with_its_stage(apig):
    promise("apig-wsgi", "`SCRIPT_NAME` has the stage.")
    stage_in_script_name(apig)


def test_apig_wsgi_paths_cookies_and_headers(apig):
    promise("apig-wsgi", "Paths decoded once.")
    paths_decoded_once(apig)
    promise("apig-wsgi", "Cookies once.")
    promise("apig-wsgi", "Repeated response headers on payload 2.0")
    cookies_once(apig)


def test_apig_wsgi_binary_text_types_and_errors(apig):
    promise("apig-wsgi", "`non_binary_content_type_prefixes` | `WSGI_TEXT_MIME_TYPES`")
    text_mime_types(apig)
    promise("apig-wsgi", "Binary and non-UTF-8 bodies.")
    binary_bodies(apig)
    promise("apig-wsgi", "Here it is a 500 with a short body (`Internal Server Error`)")
    errors_are_500s(apig)


def test_apig_wsgi_environ_differences(apig):
    promise("apig-wsgi", "**`REMOTE_ADDR`** is the request context's source IP")
    client_address(apig)
    promise("apig-wsgi", "**`CONTENT_TYPE` only**, no `HTTP_CONTENT_TYPE` duplicate; no `HTTP=\"on\"` key")
    post = rest("/echo/", method="POST", headers={"content-type": "application/json"})
    seen = environ_of(apig, post)
    assert seen["CONTENT_TYPE"] == "application/json"
    assert "HTTP_CONTENT_TYPE" not in seen and "HTTP" not in seen and seen["HTTPS"] == "on"
    health = fixture("alb/health-check")
    health["path"] = "/echo/"
    seen = environ_of(apig, health)
    assert (seen["SERVER_NAME"], seen["SERVER_PORT"]) == ("localhost", "80")
    promise("apig-wsgi", "`environ[\"lambda.context\"]`")
    assert environ_of(apig, rest("/echo/"))["request_id"]


# --- serverless-wsgi ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def serverless(start_emulator):
    return start_guide(start_emulator, "serverless-wsgi")


def test_serverless_wsgi_settings_script_name_and_base_path(serverless):
    promise("serverless-wsgi", "never `/` or `/$default`")
    stage_in_script_name(serverless)
    promise("serverless-wsgi", "`API_GATEWAY_BASE_PATH: api` | `WSGI_BASE_PATH: /api`")
    base_path(serverless)
    promise("serverless-wsgi", "**Paths decoded once**")
    paths_decoded_once(serverless)


def test_serverless_wsgi_headers_cookies_and_clients(serverless):
    promise("serverless-wsgi", "**Every value of a repeated request header**")
    assert environ_of(serverless, rest("/echo/"))["HTTP_X_VOKER_PROBE"] == "first, second"
    promise("serverless-wsgi", "**Set-Cookie on payload 2.0** goes in `cookies`")
    cookies_once(serverless)
    promise("serverless-wsgi", "**`REMOTE_ADDR` on ALB** is the right-most X-Forwarded-For entry")
    client_address(serverless)


def test_serverless_wsgi_text_types_errors_and_empty_bodies(serverless):
    promise("serverless-wsgi", "`custom.wsgi.textMimeTypes` | `WSGI_TEXT_MIME_TYPES`")
    text_mime_types(serverless)
    promise("serverless-wsgi", "**Non-UTF-8 text bodies** go as base64")
    binary_bodies(serverless)
    promise("serverless-wsgi", "an exception in the app is a 500 with a short body")
    errors_are_500s(serverless)
    promise("serverless-wsgi", "**Empty bodies** are `\"body\": \"\"`")
    head = call(serverless, rest("/echo/", method="HEAD"))
    assert (head["statusCode"], head["body"]) == (200, "")


def test_serverless_wsgi_warmup_and_manage(serverless):
    promise("serverless-wsgi", "`{\"source\": \"serverless-plugin-warmup\"}` ping is answered `{\"warmed\": true}`")
    assert call(serverless, fixture("unsupported/warmup-plugin")) == {"warmed": True}
    promise("serverless-wsgi", "`{\"manage\": [\"routes\"]}` (Flask)")
    answer = call(serverless, {"manage": ["routes"]})
    assert answer["exitCode"] == 0 and "/echo/" in answer["output"]


# --- Zappa ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def zappa(start_emulator):
    return start_guide(start_emulator, "zappa")


def test_zappa_settings_serve_with_the_events_stage(zappa):
    promise("zappa", "**`SCRIPT_NAME` is the event's stage**")
    stage_in_script_name(zappa)
    staging = environ_of(zappa, rest("/echo/a", stage="staging"))
    assert staging["SCRIPT_NAME"] == "/staging"  # the event's stage, whatever the settings say
    promise("zappa", "**Paths decoded once**")
    paths_decoded_once(zappa)


def test_zappa_query_scheme_host_and_cookies(zappa):
    promise("zappa", "**Query strings on ALB** pass through as the client sent them")
    seen = environ_of(zappa, alb("/echo/"))
    assert "encodedPlus=a%2Bb" in seen["QUERY_STRING"]
    promise("zappa", "`wsgi.url_scheme` from X-Forwarded-Proto")
    assert seen["wsgi.url_scheme"] == "http"  # the ALB capture came through an http listener
    assert seen["SERVER_NAME"] == "vokerhtt-ALB-4XF8jCVDRJg4-1316758055.us-west-2.elb.amazonaws.com"
    promise("zappa", "**Every Set-Cookie once**")
    cookies_once(zappa)
    promise("zappa", "`CONTENT_LENGTH` on every request, GET too")
    seen = environ_of(zappa, rest("/echo/"))
    assert seen["CONTENT_LENGTH"] == "0" and "HTTP_CONTENT_TYPE" not in seen


def test_zappa_errors_and_text_types(zappa):
    promise("zappa", "a 500 with a short `text/plain` body, not Zappa's JSON")
    errors_are_500s(zappa)
    assert header(call(zappa, rest("/boom")), "Content-Type").startswith("text/plain")
    promise("zappa", "`additional_text_mimetypes` | `WSGI_TEXT_MIME_TYPES`")
    text_mime_types(zappa)
    binary_bodies(zappa)


def test_zappa_keep_warm_events_and_manage(zappa):
    promise("zappa", "Zappa's keep-warm schedule (a rule ending in `keep_warm_callback`) is answered `{\"warmed\": true}`")
    keep_warm = {"version": "0", "id": "a", "detail-type": "Scheduled Event", "source": "aws.events",
                 "account": "123456789012", "time": "2026-12-07T00:00:00Z", "region": "us-east-1",
                 "resources": ["arn:aws:events:us-east-1:123456789012:rule/app-production-zappa-keep-warm-handler.keep_warm_callback"],
                 "detail": {}}
    assert call(zappa, keep_warm) == {"warmed": True}
    promise("zappa", "`WSGI_EVENT_HANDLER: app:on_event`, one `on_event(event, context)` for every non-HTTP event")
    answer = call(zappa, fixture("unsupported/sqs"))
    assert answer["handled"] == ["Records"] and answer["request_id"]
    promise("zappa", "`WSGI_CONFIG_SSM_PATH` or `WSGI_CONFIG_SECRET_ID`")
    assert environ_of(zappa, rest("/echo/"))["loaded_from"] == "/myapp/production"
    promise("zappa", "`aws lambda invoke --payload '{\"manage\": [\"migrate\"]}'`")
    assert call(zappa, {"manage": ["routes"]})["exitCode"] == 0


# --- Mangum ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mangum(start_emulator):
    return start_guide(start_emulator, "mangum")


def test_mangum_settings_decode_function_url_paths_once(mangum):
    promise("mangum", "(`/files/a%2541` reached the app as `/files/aA`). Here `PATH_INFO` is decoded once per source (`/files/a%41`)")
    seen = environ_of(mangum, function_url("/echo/a%2541"))
    assert (seen["PATH_INFO"], seen["RAW_URI"].split("?")[0]) == ("/echo/a%41", "/echo/a%2541")
    paths_decoded_once(mangum)


def test_mangum_base_path_and_stage(mangum):
    promise("mangum", "`api_gateway_base_path=\"/api\"` | `WSGI_BASE_PATH=/api`")
    base_path(mangum)
    promise("mangum", "**`SCRIPT_NAME` has the stage** on the `execute-api` host")
    stage_in_script_name(mangum)


def test_mangum_clients_header_case_and_text_types(mangum):
    promise("mangum", "**`REMOTE_ADDR`** is one address")
    client_address(mangum)
    promise("mangum", "**Response header names** keep the app's case on REST, payload 1.0 and ALB")
    assert "X-Multi" in call(mangum, rest("/cookies"))["multiValueHeaders"]
    assert "x-multi" in call(mangum, http_v2("/cookies"))["headers"]
    promise("mangum", "`text_mime_types` | `WSGI_TEXT_MIME_TYPES`")
    text_mime_types(mangum)
    errors_are_500s(mangum)


def test_mangum_lambda_at_edge_is_unsupported(mangum):
    promise("mangum", "**Lambda@Edge is not served**: a CloudFront event is an `UnsupportedEvent` invocation error")
    function_error, payload = mangum.invoke(fixture("unsupported/cloudfront-viewer-request"))
    assert function_error is not None and payload["errorType"] == "UnsupportedEvent"


# --- the Lambda Web Adapter -----------------------------------------------------------------

@pytest.fixture(scope="module")
def adapter(start_emulator):
    return start_guide(start_emulator, "web-adapter")


def test_web_adapter_settings_base_path_and_stage(adapter):
    promise("web-adapter", "removed once and on a segment boundary")
    base_path(adapter)
    stage_in_script_name(adapter)


def test_web_adapter_decoded_paths_keep_their_query(adapter):
    promise("web-adapter", "a `#` or `?` that HTTP API decoded into the path stays in `PATH_INFO`")
    seen = environ_of(adapter, http_v2("/echo/hash#value", query="a=1"))
    assert (seen["PATH_INFO"], seen["QUERY_STRING"]) == ("/echo/hash#value", "a=1")
    paths_decoded_once(adapter)


def test_web_adapter_clients_headers_and_bodies(adapter):
    promise("web-adapter", "**`REMOTE_ADDR`** is the client's")
    client_address(adapter)
    promise("web-adapter", "**Repeated response headers on payload 2.0** are joined with `, `")
    cookies_once(adapter)
    promise("web-adapter", "a request body marked base64 that is not is a 400")
    bad = copy.deepcopy(fixture("http-v2/invalid-base64-body"))
    bad["rawPath"] = bad["requestContext"]["http"]["path"] = "/echo/"
    assert call(adapter, bad)["statusCode"] == 400
    binary_bodies(adapter)


def test_web_adapter_errors_are_raised_and_events_handled(adapter):
    promise("web-adapter", "`AWS_LWA_ERROR_STATUS_CODES=500` | `WSGI_ERROR_MODE=raise`")
    function_error, payload = adapter.invoke(rest("/boom"))
    assert function_error is not None and payload["errorType"] == "ZeroDivisionError"
    assert environ_of(adapter, rest("/echo/after"))["PATH_INFO"] == "/echo/after"
    promise("web-adapter", "`WSGI_EVENT_HANDLER=app:on_event`, called as `on_event(event, context)`")
    answer = call(adapter, fixture("unsupported/sqs"))
    assert answer["handled"] == ["Records"]


# --- the guides themselves ------------------------------------------------------------------

@pytest.mark.parametrize("name", ["apig-wsgi", "serverless-wsgi", "zappa", "mangum", "web-adapter"])
def test_each_guide_marks_settings_that_name_the_app(name):
    handler, env = function_of(guide_settings(name))
    assert handler in ("app.app", "lambda_wsgi.handler")
    assert env.get("WSGI_APP", "app:app") == "app:app"
    assert "## What to change" in guide_text(name) and "## What your app will see differently" in guide_text(name)


def test_a_guide_without_its_marked_settings_or_a_dropped_promise_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(__import__(__name__), "GUIDES", tmp_path)
    (tmp_path / "x.md").write_text("# X\n\n```json\n{}\n```\n")
    with pytest.raises(AssertionError, match="must mark exactly one settings block"):
        guide_settings("x")
    (tmp_path / "x.md").write_text("# X\n\n<!-- migration-test: x -->\n```toml\na = 1\n```\n")
    with pytest.raises(AssertionError, match="not json or yaml"):
        guide_settings("x")
    with pytest.raises(AssertionError, match="no longer says"):
        promise("x", "Paths decoded once.")


def test_settings_are_read_as_each_tool_reads_them():
    sam = {"AppFunction": {"Properties": {"Handler": "app.app", "Environment": {"Variables": {"A": 1}}}}}
    assert function_of(sam) == ("app.app", {"A": "1"})
    serverless = {"functions": {"app": {"handler": "lambda_wsgi.handler", "environment": {"WSGI_APP": "app:app"}}}}
    assert function_of(serverless) == ("lambda_wsgi.handler", {"WSGI_APP": "app:app"})
    zappa = {"production": {"app_function": "app.app", "environment_variables": {"B": True}}}
    assert function_of(zappa) == ("app.app", {"B": "True"})
