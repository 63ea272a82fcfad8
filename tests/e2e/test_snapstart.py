"""SnapStart through the emulator (`--snap-start`): the hooks registered with
snapshot_restore_py run in the documented order around the snapshot, the Runtime API connection
after the restore is a new one, `random` is seeded anew in each restored copy, and a failing hook
is reported where Lambda wants it, with the managed runtime's exit codes."""

import json
import re

from conftest import Emulator, run_invoke

SNAPSHOT_LINE = re.compile(r"snapshot taken; restoring \(restore/next from 127\.0\.0\.1:(\d+)\)")
READY_LINE = re.compile(r"runtime ready \(connection from 127\.0\.0\.1:(\d+)\)")


def lifecycle(tmp_path, env=None):
    emulator = Emulator("snapstart_app:app", tmp_path=tmp_path, env=env, serve_args=["--snap-start"])
    try:
        status, _, body = emulator.request("GET", "/")
        assert status == 200, body
        return json.loads(body), list(emulator.seen), emulator.logs()
    finally:
        emulator.stop()


def test_hooks_run_in_order_around_the_snapshot_and_the_connection_is_new_after_it(tmp_path):
    state, lines, _ = lifecycle(tmp_path)
    # Before-snapshot hooks last registered first; after-restore hooks in order, with their
    # arguments (snapshot_restore_py's contract, as the managed runtime runs it).
    assert state["events"] == [
        "before:flush_caches",
        "before:close_connections",
        "after:database:3",
        "after:warm",
    ]
    snapshots = [i for i, line in enumerate(lines) if SNAPSHOT_LINE.search(line)]
    ready = [i for i, line in enumerate(lines) if READY_LINE.search(line)]
    assert len(snapshots) == 1 and len(ready) == 1 and snapshots[0] < ready[0], lines
    snapshot_port = SNAPSHOT_LINE.search(lines[snapshots[0]]).group(1)
    serving_port = READY_LINE.search(lines[ready[0]]).group(1)
    assert snapshot_port != serving_port, "the connection open at snapshot time was used after the restore"


def test_each_restore_draws_different_random_numbers(tmp_path):
    # The app seeds random identically at import, as every copy of one snapshot would be.
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first, _, _ = lifecycle(tmp_path / "one")
    second, _, _ = lifecycle(tmp_path / "two")
    assert first["random"] is not None and second["random"] is not None
    assert first["random"] != second["random"]


def test_without_snap_start_no_hook_runs_and_the_app_still_imports(tmp_path):
    emulator = Emulator("snapstart_app:app", tmp_path=tmp_path)
    try:
        status, _, body = emulator.request("GET", "/")
    finally:
        emulator.stop()
    assert status == 200
    assert json.loads(body)["events"] == []
    assert not any(SNAPSHOT_LINE.search(line) for line in emulator.seen)


HTTP_EVENT = {
    "version": "2.0", "routeKey": "$default", "rawPath": "/", "rawQueryString": "",
    "headers": {"host": "example.com"},
    "requestContext": {"http": {"method": "GET", "path": "/", "protocol": "HTTP/1.1", "sourceIp": "1.2.3.4"},
                       "domainName": "example.com", "stage": "$default", "requestId": "r", "accountId": "1",
                       "apiId": "a", "routeKey": "$default", "time": "t", "timeEpoch": 0},
    "isBase64Encoded": False,
}


def test_a_failing_before_snapshot_hook_is_an_init_error_and_exit_64():
    code, stdout, stderr = run_invoke("snapstart_app:app", HTTP_EVENT, env={"SNAP_FAIL": "before"},
                                      extra_args=["--snap-start"])
    assert code == 2, stderr
    report = json.loads(stdout)
    assert report["errorType"] == "Runtime.BeforeSnapshotError"
    assert "the cache would not flush" in report["errorMessage"]
    assert any("flush_caches" in line for line in report["stackTrace"])
    assert "exit status: 64" in stderr


def test_a_failing_after_restore_hook_goes_to_restore_error_and_exit_65():
    code, stdout, stderr = run_invoke("snapstart_app:app", HTTP_EVENT, env={"SNAP_FAIL": "after"},
                                      extra_args=["--snap-start"])
    assert code == 2, stderr
    report = json.loads(stdout)
    assert report["errorType"] == "Runtime.AfterRestoreError"
    assert "the database is not reachable" in report["errorMessage"]
    assert "restore error: Runtime.AfterRestoreError" in stderr
    assert "exit status: 65" in stderr
