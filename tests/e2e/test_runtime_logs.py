"""The runtime's own JSON log lines name the request id once, as the managed runtime does
(`requestId`), not twice under two names (issue 12, fault 6)."""

import json

from test_app_errors import http_v2


def keys(value):
    """Every key in a JSON value, however deep."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from keys(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from keys(inner)


def test_a_json_log_line_carries_the_request_id_once_as_request_id(start_emulator):
    emulator = start_emulator("misbehaving:app", env={"AWS_LAMBDA_LOG_FORMAT": "JSON"})
    emulator.invoke(http_v2("/raise"))
    [line] = [json.loads(line) for line in emulator.logs().splitlines()
              if line.startswith("{") and "500 for GET /raise" in line]
    assert "request_id" not in set(keys(line)), line
    assert len(line["span"]["requestId"]) == 36, line
