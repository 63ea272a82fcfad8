"""bench/mounts.py's checks before it reports: which comparisons it races, that a router whose
`/api` event did not reach the `api` app cannot win, and what it takes as the table's cost.
Pure functions on hand-written slice reports: no runtime, no clock."""

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH / "apps"))

import mount_pair  # noqa: E402
import mounts  # noqa: E402


def answer(app, routed, body="Hello, world!"):
    """One HTTP API v2 answer as the emulator records it: the runtime lowercases header names."""
    return {"statusCode": 200, "headers": {"x-app": app, "x-routed": routed}, "body": body,
            "isBase64Encoded": False}


def flask_answer():
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": '{"ok":true}'}


def report(*answers):
    return {"per_second": 1000.0, "first_responses": list(answers)}


ROUTED_RIGHT = report(answer("site", " /json"), answer("api", "/api /json"))


def test_routed_answers_from_both_routers_are_a_fair_race():
    key = ("trivial pair", mounts.TABLE, mounts.OURS_DISPATCHER)
    slices = {key: {mounts.TABLE: [ROUTED_RIGHT] * 2, mounts.OURS_DISPATCHER: [ROUTED_RIGHT] * 2}}
    assert mounts.answer_problems(slices) == []


def test_a_router_that_did_not_move_the_prefix_is_named():
    key = ("trivial pair", mounts.TABLE, mounts.APIG_DISPATCHER)
    unrouted = report(answer("site", " /json"), answer("site", " /api/json"))
    slices = {key: {mounts.TABLE: [ROUTED_RIGHT], mounts.APIG_DISPATCHER: [unrouted]}}
    assert mounts.answer_problems(slices) == [
        f"trivial pair, {mounts.APIG_DISPATCHER}: http-v2-get-api.json reached 'site' as ' /api/json', "
        "not 'api' as '/api /json'"
    ]


def test_a_root_request_sent_to_the_wrong_app_is_named_though_the_bodies_agree():
    key = ("trivial pair", mounts.TABLE, mounts.OURS_DISPATCHER)
    misrouted = report(answer("api", "/api /json"), answer("api", "/api /json"))
    slices = {key: {mounts.TABLE: [ROUTED_RIGHT], mounts.OURS_DISPATCHER: [misrouted]}}
    assert mounts.answer_problems(slices) == [
        f"trivial pair, {mounts.OURS_DISPATCHER}: http-v2-get.json reached 'api' as '/api /json', not 'site' as ' /json'"
    ]


def test_the_flask_pair_needs_flask_at_the_root_and_the_api_app_under_api():
    key = ("Flask + trivial", mounts.TABLE, mounts.APIG_DISPATCHER)
    right = report(flask_answer(), answer("api", "/api /json"))
    assert mounts.answer_problems({key: {mounts.TABLE: [right], mounts.APIG_DISPATCHER: [right]}}) == []
    api_at_root = report(answer("api", " /json", body='{"ok":true}'), answer("api", "/api /json"))
    assert mounts.answer_problems({key: {mounts.TABLE: [right], mounts.APIG_DISPATCHER: [api_at_root]}}) == [
        f"Flask + trivial, {mounts.APIG_DISPATCHER}: http-v2-get.json reached 'api' as ' /json', not None as None"
    ]


def test_every_slice_is_held_to_the_same_bodies_not_only_each_runtimes_first():
    key = ("trivial pair", mounts.TABLE, mounts.OURS_DISPATCHER)
    later = report(answer("site", " /json", body="Hello"), answer("api", "/api /json"))
    slices = {key: {mounts.TABLE: [ROUTED_RIGHT, later], mounts.OURS_DISPATCHER: [ROUTED_RIGHT, ROUTED_RIGHT]}}
    assert mounts.answer_problems(slices) == [
        f"trivial pair, http-v2-get.json: the answers' bodies differ: {mounts.OURS_DISPATCHER}; {mounts.TABLE} / "
        f"{mounts.TABLE}"
    ]


def test_the_one_app_stand_in_is_not_held_to_routing_but_to_the_same_bodies():
    key = ("trivial pair", mounts.TABLE, mounts.ONE_APP)
    one_app = report(answer("site", " /json"), answer("site", " /api/json"))
    assert mounts.answer_problems({key: {mounts.TABLE: [ROUTED_RIGHT], mounts.ONE_APP: [one_app]}}) == []
    shorter = report(answer("site", " /json"), answer("site", " /api/json", body="Hello"))
    assert mounts.answer_problems({key: {mounts.TABLE: [ROUTED_RIGHT], mounts.ONE_APP: [shorter]}}) == [
        f"trivial pair, http-v2-get-api.json: the answers' bodies differ: {mounts.TABLE} / {mounts.ONE_APP}"
    ]


def test_a_missing_or_non_json_answer_or_no_slice_at_all_is_named_and_not_read():
    key = ("trivial pair", mounts.TABLE, mounts.OURS_DISPATCHER)
    one = report(answer("site", " /json"))
    not_json = report(answer("site", " /json"), None)  # the emulator records a non-JSON answer as null
    problems = mounts.answer_problems({key: {mounts.TABLE: [not_json], mounts.OURS_DISPATCHER: [one]}})
    assert sorted(problem.split(": ")[0] for problem in problems) == sorted([
        f"trivial pair, {mounts.TABLE}", f"trivial pair, {mounts.OURS_DISPATCHER}"])
    assert all("are not one JSON answer per event (2)" in problem for problem in problems)
    assert mounts.answer_problems({key: {mounts.TABLE: [], mounts.OURS_DISPATCHER: []}}) == sorted([
        f"trivial pair, {mounts.OURS_DISPATCHER}: no slices", f"trivial pair, {mounts.TABLE}: no slices"])


def test_a_base64_body_is_compared_decoded():
    base64_answer = dict(answer("api", "/api /json"), body="SGVsbG8sIHdvcmxkIQ==", isBase64Encoded=True)
    assert mounts.body_of(base64_answer) == b"Hello, world!" == mounts.body_of(answer("api", "/api /json"))


def test_the_pair_apps_say_where_the_router_put_them():
    seen = {}
    body = mount_pair.api({"SCRIPT_NAME": "/api", "PATH_INFO": "/json"}, lambda status, headers: seen.update(headers))
    assert (seen["X-App"], seen["X-Routed"], body) == ("api", mounts.ROUTED, [b"Hello, world!"])
    assert mounts.EXPECTED["trivial pair"][1] == ("api", mounts.ROUTED)


def test_what_the_table_adds_is_the_environs_difference_or_at_least_the_route():
    # criterion: route 10 ns; the environ 900 under the table, 880 without: +20 ns is taken.
    assert mounts.added_ns({"route-alone": 10.0, "environ difference": 20.0}) == 20.0
    # noise made the table's environ the faster one (-15 ns): the route alone is the floor.
    assert mounts.added_ns({"route-alone": 10.0, "environ difference": -15.0}) == 10.0


def test_a_harness_section_replaces_only_its_own_markers_and_is_appended_once(tmp_path):
    import harness

    results = tmp_path / "RESULTS.md"
    start, end = "<!-- x:start (written by x.py) -->", "<!-- x:end -->"
    results.write_text(f"# Results\n\n## X\n\n<!-- x:start (an older comment) -->\nold\n{end}\n\n## Y\n\ny\n")
    harness.write_section(start, end, ["new"], "X", results)
    assert results.read_text() == f"# Results\n\n## X\n\n{start}\nnew\n{end}\n\n## Y\n\ny\n"
    other = ("<!-- z:start (written by z.py) -->", "<!-- z:end -->")
    harness.write_section(*other, ["z"], "Z", results)
    assert harness.write_section(*other, ["z2"], "Z", results) == f"{other[0]}\nz2\n{other[1]}"
    assert results.read_text().endswith(f"## Y\n\ny\n\n## Z\n\n{other[0]}\nz2\n{other[1]}\n")


def test_a_section_whose_name_begins_another_sections_name_leaves_that_one_alone(tmp_path):
    import harness

    # As concurrency.py writes for py3.11, beside its WSGI_WARMUP_PATH section placed before it.
    results = tmp_path / "RESULTS.md"
    warm = ("<!-- c-py3.11, W=/json:start (by c.py) -->", "<!-- c-py3.11, W=/json:end -->")
    plain = ("<!-- c-py3.11:start (by c.py) -->", "<!-- c-py3.11:end -->")
    results.write_text(f"{warm[0]}\nwarm\n{warm[1]}\n{plain[0]}\nplain\n{plain[1]}\n")
    harness.write_section(*plain, ["plain 2"], "C", results)
    assert results.read_text() == f"{warm[0]}\nwarm\n{warm[1]}\n{plain[0]}\nplain 2\n{plain[1]}\n"
    # an end marker that comes before its start (another section's) is not taken as this one's
    results.write_text(f"{plain[1]}\n")
    harness.write_section(*plain, ["new"], "C", results)
    assert results.read_text() == f"{plain[1]}\n\n## C\n\n{plain[0]}\nnew\n{plain[1]}\n"
