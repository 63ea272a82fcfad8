"""Response streaming (WSGI_INVOKE_MODE=response_stream) through the emulator's front door, which
passes a streamed response on to the client as it arrives, as a RESPONSE_STREAM function URL does."""

import hashlib
import http.client

import pytest

STREAM = {"WSGI_INVOKE_MODE": "response_stream"}


@pytest.fixture(scope="module")
def streamed(start_emulator):
    return start_emulator("streaming:app", event_format="function-url", env=STREAM)


@pytest.fixture(scope="module")
def buffered(start_emulator):
    return start_emulator("streaming:app", event_format="function-url")


def open_stream(emulator, path):
    connection = http.client.HTTPConnection("127.0.0.1", emulator.front_port, timeout=30)
    connection.request("GET", path)
    return connection, connection.getresponse()


def test_the_first_chunk_reaches_the_client_before_the_second_is_produced(streamed, tmp_path):
    gate = tmp_path / "gate"
    connection, response = open_stream(streamed, f"/chunks?gate={gate}")
    try:
        assert response.status == 200
        # The app produces "second" only once the gate exists, and the gate is opened only
        # after "first" arrived: a buffered response would never get here (the read times out).
        assert response.readline() == b"first\n"
        assert not gate.exists()
        gate.touch()
        assert response.read() == b"second\n"
    finally:
        connection.close()


def test_streamed_bytes_equal_buffered_ones(streamed, buffered):
    assert streamed.request("GET", "/write-mixed")[2] == b"abcd"
    many = streamed.request("GET", "/many?n=1000")[2]
    assert many == "".join(f"{n}\n" for n in range(1000)).encode()
    for path in ("/sse", "/big?mb=2", "/missing", "/write-mixed", "/many?n=1000"):
        streamed_status, streamed_headers, streamed_body = streamed.request("GET", path)
        buffered_status, buffered_headers, buffered_body = buffered.request("GET", path)
        assert (streamed_status, streamed_body) == (buffered_status, buffered_body), path
        cookies = lambda headers: [v for k, v in headers if k.lower() == "set-cookie"]  # noqa: E731
        assert cookies(streamed_headers) == cookies(buffered_headers), path


def test_server_sent_events_arrive_as_events(streamed):
    connection, response = open_stream(streamed, "/sse")
    try:
        assert response.getheader("Content-Type") == "text/event-stream"
        assert response.getheader("Cache-Control") == "no-cache"
        events = response.read().decode().strip().split("\n\n")
    finally:
        connection.close()
    assert events == [f"id: {n}\ndata: tick {n}" for n in range(3)]


def test_a_body_past_lambdas_6_mb_buffered_limit_streams_whole(streamed, buffered):
    status, _, body = streamed.request("GET", "/big?mb=7")
    assert status == 200 and len(body) == 7 * 1024 * 1024
    expected = hashlib.sha256(hashlib.sha256(b"lambda-wsgi").digest() * (1024 * 1024 // 32) * 7).hexdigest()
    assert hashlib.sha256(body).hexdigest() == expected
    # The same response buffered is over the limit: a 500, not a Lambda failure.
    assert buffered.request("GET", "/big?mb=7")[0] == 500


def test_an_error_midway_breaks_the_stream_off_and_the_runtime_keeps_serving(streamed):
    connection, response = open_stream(streamed, "/raise-midway")
    try:
        assert response.status == 200
        assert response.readline() == b"first\n"
        with pytest.raises(http.client.IncompleteRead):
            response.read()
    finally:
        connection.close()
    assert "RuntimeError: broke off midway" in streamed.logs()
    assert streamed.request("GET", "/sse")[0] == 200


def test_an_error_before_the_first_byte_is_a_500(streamed):
    status, _, body = streamed.request("GET", "/raise-before")
    assert status == 500 and body == b"Internal Server Error\n"


def test_a_rest_api_streaming_integration_gets_the_same_stream(start_emulator):
    rest = start_emulator("streaming:app", event_format="rest", env=STREAM)
    status, headers, body = rest.request("GET", "/sse")
    assert status == 200 and {k.lower(): v for k, v in headers}["content-type"] == "text/event-stream"
    assert body.decode().strip().split("\n\n") == [f"id: {n}\ndata: tick {n}" for n in range(3)]


def wait_for_log(emulator, text, limit=30.0):
    """Bounded wait for a line in the emulator's log (the runtime's output)."""
    import time

    until = time.monotonic() + limit
    while text not in emulator.logs():
        assert time.monotonic() < until, f"{text!r} never logged:\n{emulator.logs()[-3000:]}"
        time.sleep(0.05)


def test_a_client_that_stops_reading_costs_its_stream_not_the_environment(start_emulator):
    # A 3 s timeout and a 500 ms margin: the stream must be cut before the deadline, the app's
    # other threads must run while it waits for the client, and the same runtime serves on.
    slow = start_emulator("streaming:app", event_format="function-url", timeout=3,
                          env={**STREAM, "WSGI_DEADLINE_MARGIN_MS": "500"})
    assert slow.request("GET", "/heartbeat?reset=1")[0] == 200
    connection, response = open_stream(slow, "/big?mb=400")
    try:
        assert response.status == 200
        assert len(response.read(1024)) == 1024  # then it reads no more
        wait_for_log(slow, "the response stream was cut off")
        status, _, longest_gap_ms = slow.request("GET", "/heartbeat")
        assert status == 200
        # Before the fix the background thread froze for the whole wait (seconds).
        assert int(longest_gap_ms) < 1000, f"a background thread froze for {longest_gap_ms} ms"
    finally:
        connection.close()
    assert slow.request("GET", "/sse")[0] == 200
    logs = slow.logs()
    assert "timed out" not in logs and "restarting" not in logs, logs[-3000:]
