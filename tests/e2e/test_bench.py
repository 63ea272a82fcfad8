"""`lambda-wsgi-emulator bench`, which make bench builds on: it must time real invocations of
the real bootstrap, report them, and refuse to report a runtime that answers wrongly."""

import json
import subprocess

from conftest import APPS, BOOTSTRAP, EMULATOR, FIXTURES


def bench(*extra):
    return subprocess.run(
        [str(EMULATOR), "bench", "--bootstrap", str(BOOTSTRAP), "--handler", "hello:app",
         "--task-root", str(APPS), "--event", str(FIXTURES / "http-v2" / "no-cookies-no-query.json"),
         "--invocations", "50", "--warmup", "5", "--cold-starts", "2", *extra],
        capture_output=True, text=True, timeout=120)


def test_bench_reports_cold_starts_latency_and_memory():
    done = bench()
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert len(report["cold_start_ms"]) == 2 and all(ms > 0 for ms in report["cold_start_ms"])
    assert report["invocations"] == 50 and report["failures"] == 0
    assert 0 < report["p50_us"] <= report["p99_us"]
    assert report["per_second"] > 0
    assert report["peak_rss_kb"] > 1000  # an embedded CPython is megabytes, not bytes
    assert report["first_responses"][0]["statusCode"] == 200


def test_bench_refuses_a_runtime_that_answers_another_status():
    done = bench("--expect-status", "201")
    assert done.returncode != 0
    assert "expected statusCode 201" in done.stderr


def test_bench_with_concurrency_times_n_workers_ready_and_sums_the_process_group():
    done = bench("--max-concurrency", "4")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["clients"] == 4 and report["invocations"] == 50 and report["failures"] == 0
    # One ready time per spawn, each before that spawn's first response.
    assert len(report["ready_ms"]) == len(report["cold_start_ms"]) == 2
    assert all(0 < ready <= cold for ready, cold in zip(report["ready_ms"], report["cold_start_ms"]))
    # The supervisor and its 4 forked workers (DESIGN: the app imported once, then N forks).
    assert report["processes"] == 5
    assert all(kb > 1000 for kb in report["pss_ready_kb"])
    # Rss counts every shared page in full in each process, Pss splits it among its sharers.
    assert report["rss_after_kb"] >= report["pss_after_kb"] > 1000
