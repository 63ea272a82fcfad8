"""A buffered response stops being read once it cannot fit its front door's limit, and a
`wsgi.file_wrapper` is read in `block_size` pieces (issue 12, fault 3)."""

import json

import pytest

from test_app_errors import body_of, http_v2

MB = 1024 * 1024
LAMBDA_LIMIT = 6_291_556
TOO_LARGE = b"Internal Server Error: the response is too large\n"


def pulled(emulator):
    _, payload = emulator.invoke(http_v2("/pulled"))
    return json.loads(payload["body"])


# A text body renders to at least its own length, so past LAMBDA_LIMIT raw bytes it cannot fit;
# a binary one goes as base64 (4 bytes per 3), so past 3/4 of the limit it cannot either. The
# runtime pulls chunks until the body passes that bound: one MB chunk more than fit under it.
@pytest.mark.parametrize(("content_type", "raw_limit"), [
    ("text/plain", LAMBDA_LIMIT),
    ("application/octet-stream", LAMBDA_LIMIT // 4 * 3),
])
def test_a_100_mb_response_stops_being_read_at_the_limit(misbehaving, content_type, raw_limit):
    event = http_v2("/megabytes")
    event["rawQueryString"] = f"mb=100&type={content_type}"
    function_error, payload = misbehaving.invoke(event)
    assert function_error is None
    assert (payload["statusCode"], body_of(payload)) == (500, TOO_LARGE)
    seen = pulled(misbehaving)
    assert seen == {"chunks": raw_limit // MB + 1, "closed": True}
    assert f"over the {LAMBDA_LIMIT}-byte limit for HTTP API (payload 2.0)" in misbehaving.logs()
    _, after = misbehaving.invoke(http_v2("/ok"))
    assert (after["statusCode"], after["body"]) == (200, "ok")


def test_write_refuses_output_past_the_limit(misbehaving):
    """write() output waits for the iterable; past the limit, write() raises instead of holding
    100 MB, and the answer is the same 500."""
    event = http_v2("/write-megabytes")
    event["rawQueryString"] = "mb=100"
    function_error, payload = misbehaving.invoke(event)
    assert function_error is None
    assert (payload["statusCode"], body_of(payload)) == (500, TOO_LARGE)
    assert pulled(misbehaving)["chunks"] == LAMBDA_LIMIT // MB + 1
    _, after = misbehaving.invoke(http_v2("/write"))
    assert (after["statusCode"], body_of(after)) == (200, b"hello world")


def test_a_head_request_for_a_large_body_is_not_too_large(misbehaving):
    """HEAD sends no body, so there is nothing to cap: the app's headers come back."""
    event = http_v2("/megabytes", method="HEAD")
    event["rawQueryString"] = "mb=10"
    _, payload = misbehaving.invoke(event)
    assert (payload["statusCode"], payload["body"]) == (200, "")


def test_a_response_just_under_the_limit_is_whole(misbehaving):
    event = http_v2("/megabytes")
    event["rawQueryString"] = "mb=5"
    _, payload = misbehaving.invoke(event)
    assert payload["statusCode"] == 200 and len(body_of(payload)) == 5 * MB
    assert pulled(misbehaving) == {"chunks": 5, "closed": True}


@pytest.mark.parametrize("invoke_mode", ["response_stream", "buffered"])
def test_a_file_wrapper_is_read_in_block_size_pieces(start_emulator, invoke_mode):
    emulator = start_emulator("streaming:app", event_format="function-url",
                              env={"WSGI_INVOKE_MODE": invoke_mode})
    size, block = 3 * MB + 10, 64 * 1024
    status, _, body = emulator.request("GET", f"/file?bytes={size}&block={block}")
    assert (status, body) == (200, b"f" * size)
    status, _, reads = emulator.request("GET", "/file-reads")
    # Every read asks for one block; the last one finds the end of the file.
    assert json.loads(reads) == [block] * (size // block + 2)
