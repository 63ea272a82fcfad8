"""An app that registers SnapStart hooks through snapshot_restore_py, for the SnapStart tests.

Its random state at import is fixed (as it would be in every restored copy of one snapshot), so
a value drawn after the restore differs between two restores only if the runtime seeds `random`
anew. SNAP_FAIL=before or after makes that hook raise.
"""

import json
import os
import random

from snapshot_restore_py import register_after_restore, register_before_snapshot

random.seed(1234)
events = []
drawn = {}


@register_before_snapshot
def close_connections():
    events.append("before:close_connections")


@register_before_snapshot
def flush_caches():
    events.append("before:flush_caches")
    if os.environ.get("SNAP_FAIL") == "before":
        raise RuntimeError("the cache would not flush")


def reconnect(label, *, retries):
    events.append(f"after:{label}:{retries}")
    drawn["random"] = random.random()
    if os.environ.get("SNAP_FAIL") == "after":
        raise ConnectionError("the database is not reachable")


register_after_restore(reconnect, "database", retries=3)


@register_after_restore
def warm():
    events.append("after:warm")


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"events": events, "random": drawn.get("random")}).encode()]
