"""Nothing of one invocation reaches the next (issue 12, fault 4)."""

import json
import urllib.request

from test_app_errors import http_v2

TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def invoke(emulator, event, trace_header):
    """A direct invoke whose `X-Amzn-Trace-Id` the emulator passes on as Lambda-Runtime-Trace-Id
    (empty: no trace header at all)."""
    url = f"http://127.0.0.1:{emulator.api_port}/2015-03-31/functions/function/invocations"
    request = urllib.request.Request(url, data=json.dumps(event).encode(), method="POST",
                                     headers={"X-Amzn-Trace-Id": trace_header})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def test_a_trace_id_does_not_outlive_its_invocation(misbehaving):
    traced = json.loads(invoke(misbehaving, http_v2("/context"), TRACE)["body"])
    assert traced["trace_id"] == TRACE
    untraced = json.loads(invoke(misbehaving, http_v2("/context"), "")["body"])
    assert untraced["trace_id"] is None
