"""Lambda Managed Instances (AWS_LAMBDA_MAX_CONCURRENCY=N) through the emulator
(`--max-concurrency N`): the app is imported once and N forked workers serve N invocations at
once, each answer reaching its own request; a worker that dies is replaced while the others keep
serving; SIGTERM runs the app's atexit handlers once in every worker.

Concurrency is shown without timing: `/meet?n=N` answers `met` only if N requests were in flight
together (each waits for the others' files)."""

import json
import signal
import threading
import uuid

from conftest import Emulator

JSON_LOGS = {"AWS_LAMBDA_LOG_FORMAT": "JSON"}


def concurrently(emulator, paths):
    """GETs every path at once; returns (status, parsed body or raw) per path, in order."""
    results = [None] * len(paths)

    def get(index, path):
        status, _, body = emulator.request("GET", path)
        try:
            results[index] = (status, json.loads(body))
        except ValueError:
            results[index] = (status, body)

    threads = [threading.Thread(target=get, args=(i, path)) for i, path in enumerate(paths)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def meet(tmp_path, count, name):
    directory = tmp_path / name
    directory.mkdir()
    tokens = [uuid.uuid4().hex for _ in range(count)]
    return tokens, [f"/meet?dir={directory}&n={count}&token={token}" for token in tokens]


def test_n_workers_serve_n_requests_at_once_each_answer_to_its_own_request(tmp_path):
    emulator = Emulator("concurrent_app:app", tmp_path=tmp_path, env=JSON_LOGS, serve_args=["--max-concurrency", "4"])
    try:
        tokens, paths = meet(tmp_path, 4, "meet")
        results = concurrently(emulator, paths)
    finally:
        emulator.stop()
    assert [status for status, _ in results] == [200] * 4, results
    answers = [body for _, body in results]
    assert all(answer["met"] for answer in answers), "the four requests were not in flight together"
    assert [answer["token"] for answer in answers] == tokens
    assert len({answer["pid"] for answer in answers}) == 4
    assert len({answer["parent"] for answer in answers}) == 1, "the workers are forks of one process"
    assert len({answer["request_id"] for answer in answers}) == 4
    # Each log line carries the request id of the invocation that wrote it.
    logged = {}
    for line in emulator.logs().splitlines():
        if line.startswith("{") and "handling token" in line:
            record = json.loads(line)
            logged[record["message"].rsplit(" ", 1)[1]] = record["requestId"]
    assert logged == {answer["token"]: answer["request_id"] for answer in answers}


def test_a_worker_killed_mid_request_is_replaced_and_the_others_are_answered(tmp_path):
    emulator = Emulator("concurrent_app:app", tmp_path=tmp_path, timeout=5, serve_args=["--max-concurrency", "4"])
    try:
        tokens, paths = meet(tmp_path, 3, "before")
        results = concurrently(emulator, [*paths, "/die?token=dying"])
        # Four in flight again: possible only if the dead worker was replaced.
        later_tokens, later_paths = meet(tmp_path, 4, "after")
        later = concurrently(emulator, later_paths)
    finally:
        emulator.stop()
    survivors, died = results[:3], results[3]
    assert [(status, body["met"], body["token"]) for status, body in survivors] == [(200, True, t) for t in tokens]
    # Reported as failed by the supervisor at once, not left to time out (502: an invocation
    # error; a timeout would be 504 after the 5 s limit).
    assert died[0] == 502, died
    assert [(status, body["met"]) for status, body in later] == [(200, True)] * 4
    assert [body["token"] for _, body in later] == later_tokens
    logs = emulator.logs()
    assert "was killed by SIGKILL; starting a new one" in logs
    assert "reported as failed (202 Accepted): the worker serving this invocation" in logs


def test_sigterm_reaches_every_worker_and_atexit_runs_once_in_each(tmp_path):
    marker = tmp_path / "marker"
    emulator = Emulator("atexit_app:app", tmp_path=tmp_path, env={"ATEXIT_MARKER": str(marker)},
                        serve_args=["--max-concurrency", "3"])
    try:
        status, _, _ = emulator.request("GET", "/")
        assert status == 200
        emulator.process.send_signal(signal.SIGTERM)
        assert emulator.process.wait(timeout=15) == 0
    finally:
        emulator.stop()
    lines = marker.read_text().splitlines()
    assert len(lines) == 3 and len(set(lines)) == 3, lines
    assert "runtime stopped (exit status: 0)" in emulator.logs()
