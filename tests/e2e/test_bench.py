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
