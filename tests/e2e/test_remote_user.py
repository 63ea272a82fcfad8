"""REMOTE_USER end to end: the caller's identity comes from the authorizer or the IAM caller in
the event (the README's rule), never from a header the client sends. The expected values are
runtime/tests/fixtures/remote-user.json, written by hand from the rule."""

import copy
import json

import pytest

from conftest import FIXTURES

EXPECTED = {k: v for k, v in json.loads((FIXTURES / "remote-user.json").read_text()).items() if not k.startswith("_")}

# Header names an app or a proxy might take for the user. PEP 3333: a header is HTTP_<NAME>,
# so `Remote-User` is HTTP_REMOTE_USER, which is fine; it must never be REMOTE_USER.
LOOKALIKES = {"Remote-User": "mallory", "X-Remote-User": "mallory", "X-Forwarded-User": "mallory",
              "X-Amzn-Oidc-Identity": "mallory"}
LOOKALIKE_KEYS = {"HTTP_REMOTE_USER", "HTTP_X_REMOTE_USER", "HTTP_X_FORWARDED_USER", "HTTP_X_AMZN_OIDC_IDENTITY"}

FORMATS = ["http-v2", "http-v1", "rest", "alb", "alb-multi-value", "function-url"]


@pytest.fixture(scope="module", params=FORMATS)
def front(request, start_emulator):
    return start_emulator("echo:app", event_format=request.param)


def test_a_client_header_never_becomes_remote_user(front):
    status, _, body = front.request("GET", "/whoami", headers=LOOKALIKES)
    assert status == 200, body
    seen = json.loads(body)
    assert "REMOTE_USER" not in seen, seen
    assert {key: seen.get(key) for key in LOOKALIKE_KEYS} == dict.fromkeys(LOOKALIKE_KEYS, "mallory")


def with_lookalike_headers(event):
    """The event with the lookalike headers added, in whichever header maps it has."""
    event = copy.deepcopy(event)
    for name, value in LOOKALIKES.items():
        if isinstance(event.get("headers"), dict):
            event["headers"][name.lower()] = value
        if isinstance(event.get("multiValueHeaders"), dict):
            event["multiValueHeaders"][name.lower()] = [value]
    return event


@pytest.mark.parametrize("fixture", sorted(EXPECTED))
def test_the_authorizer_identity_is_remote_user_whatever_the_headers_say(echo, fixture):
    event = with_lookalike_headers(json.loads((FIXTURES / fixture).read_text()))
    function_error, payload = echo.invoke(event)
    assert function_error is None, payload
    seen = json.loads(payload["body"])
    assert seen["REMOTE_USER"] == EXPECTED[fixture]
    assert seen["HTTP_REMOTE_USER"] == "mallory"


@pytest.mark.parametrize("fixture", ["function-url/live-capture-post.json", "http-v2/live-capture-post.json",
                                     "http-v2/lambda-authorizer-context.json", "rest/live-capture-post.json"])
def test_no_authenticated_caller_means_no_remote_user(echo, fixture):
    # The live captures carry empty IAM fields (AuthType NONE); a Lambda authorizer's context
    # without a principalId names nobody.
    function_error, payload = echo.invoke(with_lookalike_headers(json.loads((FIXTURES / fixture).read_text())))
    assert function_error is None, payload
    seen = json.loads(payload["body"])
    assert "REMOTE_USER" not in seen, seen


def test_the_whole_authorizer_stays_reachable_through_lambda_event(start_emulator):
    emulator = start_emulator("whoami:app")
    event = json.loads((FIXTURES / "rest/lambda-authorizer.json").read_text())
    function_error, payload = emulator.invoke(event)
    assert function_error is None, payload
    assert json.loads(payload["body"]) == {
        "remote_user": "admin",
        "authorizer": {"principalId": "admin", "clientId": 1, "clientName": "Exata"},
    }
