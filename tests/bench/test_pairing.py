"""The statistics `make bench` and `make bench-concurrency` report (bench/pairing.py), and how
bench/run.py turns slice pairs into its targets. Pure functions: no runtime, no clock; every
expected value below is worked out by hand in the comment next to it."""

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import pairing  # noqa: E402
import run  # noqa: E402


def test_schedule_alternates_the_order_within_a_pair_from_one_round_to_the_next():
    assert pairing.schedule(3, [("k", "A", "B")]) == [
        (0, "k", "A"), (0, "k", "B"),  # round 0: A B
        (1, "k", "B"), (1, "k", "A"),  # round 1: B A
        (2, "k", "A"), (2, "k", "B"),  # round 2: A B
    ]


def test_schedule_runs_every_comparison_once_per_round_as_adjacent_slices():
    assert pairing.schedule(2, [("k1", "A", "B"), ("k2", "A", "C")]) == [
        (0, "k1", "A"), (0, "k1", "B"), (0, "k2", "A"), (0, "k2", "C"),
        (1, "k1", "B"), (1, "k1", "A"), (1, "k2", "C"), (1, "k2", "A"),
    ]


def drifting_machine():
    """A run_slice for a machine that gets slower by one unit per slice, both runtimes equal:
    the slice run n-th (from 0) reports 10 + n."""
    calls = []

    def run_slice(key, runtime, round_index):
        calls.append((key, runtime, round_index))
        return {"x": 10 + len(calls) - 1}

    return run_slice, calls


def test_alternate_pairs_the_two_slices_of_a_round_whichever_ran_first():
    run_slice, calls = drifting_machine()
    results = pairing.alternate(3, [("k", "A", "B")], run_slice)
    # Slices in order: A=10 B=11 | B=12 A=13 | A=14 B=15.
    assert calls == [("k", "A", 0), ("k", "B", 0), ("k", "B", 1), ("k", "A", 1), ("k", "A", 2), ("k", "B", 2)]
    assert results == {"k": {"A": [{"x": 10}, {"x": 13}, {"x": 14}], "B": [{"x": 11}, {"x": 12}, {"x": 15}]}}
    value_pairs = pairing.pairs(results["k"]["A"], results["k"]["B"], "x")
    assert value_pairs == [(10, 11), (13, 12), (14, 15)]
    # A / B in every pair, also in round 1 where B ran first: the drift lowers the ratio in the
    # A B rounds and raises it in the B A round.
    ratios = pairing.ratios(value_pairs)
    assert ratios == [10 / 11, 13 / 12, 14 / 15]
    assert ratios[0] < 1 < ratios[1]
    # Odd count: the middle of 10/11 = 0.909, 14/15 = 0.933, 13/12 = 1.083.
    assert pairing.spread(ratios)["median"] == 14 / 15


def test_an_even_number_of_pairs_takes_the_mean_of_the_two_middle_ratios():
    run_slice, _ = drifting_machine()
    results = pairing.alternate(4, [("k", "A", "B")], run_slice)
    # A=10 B=11 | B=12 A=13 | A=14 B=15 | B=16 A=17: ratios 10/11, 13/12, 14/15, 17/16.
    ratios = pairing.ratios(pairing.pairs(results["k"]["A"], results["k"]["B"], "x"))
    stats = pairing.spread(ratios)
    # Sorted: 10/11 = 0.909, 14/15 = 0.933, 17/16 = 1.0625, 13/12 = 1.083.
    assert stats["median"] == pytest.approx((14 / 15 + 17 / 16) / 2)  # 0.99792
    # q1 at position 0.75: 10/11 + 0.75 * (14/15 - 10/11) = 150/165 + 3/165 = 153/165.
    assert stats["q1"] == pytest.approx(153 / 165)
    # q3 at position 2.25: 17/16 + 0.25 * (13/12 - 17/16) = 204/192 + 1/192 = 205/192.
    assert stats["q3"] == pytest.approx(205 / 192)
    assert (stats["n"], stats["min"], stats["max"]) == (4, 10 / 11, 13 / 12)


@pytest.mark.parametrize("values, expected", [
    # sorted 1 3 5: q1 halfway between 1 and 3, q3 halfway between 3 and 5.
    ([5, 1, 3], {"n": 3, "median": 3, "q1": 2, "q3": 4, "min": 1, "max": 5}),
    # sorted 1 2 3 4: median (2 + 3) / 2; q1 at 0.75 -> 1.75; q3 at 2.25 -> 3.25.
    ([4, 1, 3, 2], {"n": 4, "median": 2.5, "q1": 1.75, "q3": 3.25, "min": 1, "max": 4}),
    ([7], {"n": 1, "median": 7, "q1": 7, "q3": 7, "min": 7, "max": 7}),
])
def test_spread(values, expected):
    assert pairing.spread(values) == expected


def test_spread_of_nothing_is_none():
    assert pairing.spread([]) is None


def test_pairs_skip_a_pair_where_either_side_lacks_the_metric():
    a = [{"x": 1}, {"x": None}, {"x": 3}]
    b = [{"x": 2}, {"x": 5}, {}]
    assert pairing.pairs(a, b, "x") == [(1, 2)]


def test_ratios_skip_a_zero_denominator_and_differences_keep_the_sign():
    assert pairing.ratios([(1, 0), (2, 4)]) == [0.5]
    assert pairing.differences([(120, 107), (100, 104)]) == [13, -4]


def test_flatten_takes_the_median_of_per_spawn_lists_and_keeps_the_named_keys():
    report = {"cold_start_ms": [30, 10, 20], "ready_ms": [1, 2, 3, 10], "mean_us": 5, "other": 1}
    assert pairing.flatten(report, {"cold_start_ms", "ready_ms", "mean_us"}) == {
        "cold_start_ms": 20, "ready_ms": 2.5, "mean_us": 5}


def test_moved_is_relative_to_the_first_run():
    assert pairing.moved(2.0, 2.2) == pytest.approx(0.1)
    assert pairing.moved(2.0, 1.5) == pytest.approx(-0.25)
    assert pairing.moved(None, 1.0) is None
    assert pairing.moved(0, 1.0) is None


def test_met_counts_the_goal_itself_as_met():
    assert pairing.met(2.8, 2.8, "higher") and not pairing.met(2.79, 2.8, "higher")
    assert pairing.met(0.5, 0.5, "lower") and not pairing.met(0.51, 0.5, "lower")
    assert pairing.met(None, 0.5, "lower") is None


def synthetic_run(values):
    """A run whose every comparison has three slice pairs; `values(app, event, runtime)` gives a
    runtime's three reports, or the default ones."""
    slices = {}
    for key, ours, other in run.comparisons(every_peer=True):
        app, event, _ = key
        slices[key] = {runtime: values(app, event, runtime) for runtime in (ours, other)}
    in_process = {app: {event: [{"mean_us": 1.0}] for event in (run.HEADLINE_EVENT, "v2 POST 10 KB JSON")}
                  for app in run.APPS_UNDER_TEST}
    return {"slices": slices, "in_process": in_process, "load": [1.0]}


def test_the_targets_are_judged_on_paired_ratios_and_the_paired_mean_difference():
    def values(app, event, runtime):
        if runtime == run.OURS:
            means, rates, colds, rss = [120, 118, 125], [3000, 2000, 3300], [20, 30, 40], [100, 100, 100]
        elif runtime == run.ECHO:
            means, rates, colds, rss = [107, 110, 112], [9000] * 3, [1, 1, 1], [10] * 3
        else:
            means, rates, colds, rss = [300] * 3, [1000, 800, 1100], [50, 50, 50], [110, 100, 95]
        return [{"mean_us": m, "per_second": r, "cold_start_ms": c, "peak_rss_kb": k}
                for m, r, c, k in zip(means, rates, colds, rss)]

    rows = {name: (value, ok) for name, value, _, ok in run.judge(run.summarize(synthetic_run(values)))}
    # Mean minus the echo floor's, per pair: 120-107 = 13, 118-110 = 8, 125-112 = 13 -> median 13 > 10.
    value, ok = rows["trivial, v2: mean minus the Rust echo floor's (us)"]
    assert (value["median"], value["min"], value["max"], ok) == (13, 8, 13, False)
    # Invocations/s per pair: 3000/1000 = 3.0, 2000/800 = 2.5, 3300/1100 = 3.0 -> median 3.0 >= 2.8,
    # and the slowest pair's 2.5 is its minimum.
    value, ok = rows["trivial, v2: invocations/s vs apig-wsgi"]
    assert (value["median"], value["min"], ok) == (3.0, 2.5, True)
    assert rows["Flask /json, v2: invocations/s vs apig-wsgi"][1] is True
    assert rows["Flask /json, v2: invocations/s vs apig-wsgi (stretch)"][1] is True
    # Cold start per pair: 20/50 = 0.4, 30/50 = 0.6, 40/50 = 0.8 -> median 0.6: over 0.5, under 0.85.
    assert rows["trivial: cold start vs apig-wsgi"][0]["median"] == pytest.approx(0.6)
    assert rows["trivial: cold start vs apig-wsgi"][1] is False
    assert rows["Flask: cold start vs apig-wsgi"][1] is True
    # Peak RSS per pair: 100/110 = 0.909, 100/100 = 1.0, 100/95 = 1.053 -> median 1.0 > 0.95.
    assert rows["trivial: peak RSS vs apig-wsgi"][0]["median"] == pytest.approx(1.0)
    assert rows["Flask: peak RSS vs apig-wsgi"][1] is False


def test_every_peer_is_compared_on_the_headline_event_and_the_floors_next_to_the_trivial_app():
    keys = [key for key, _, _ in run.comparisons()]
    apps, events, peers = len(run.APPS_UNDER_TEST), len(run.EVENTS), len(run.PEERS)
    # Headline: every peer per app, + the 2 floors (trivial); other events: apig-wsgi 3.11 only.
    assert len(keys) == len(set(keys)) == apps * peers + 2 + apps * (events - 1)
    assert ("trivial", run.HEADLINE_EVENT, run.ECHO) in keys
    assert ("Flask", run.HEADLINE_EVENT, run.ECHO) not in keys
    assert ("Flask", "ALB GET", run.BASELINE) in keys and ("Flask", "ALB GET", "apig-wsgi (3.12)") not in keys
    assert all(ours == run.OURS for _, ours, _ in run.comparisons())
    every = [key for key, _, _ in run.comparisons(every_peer=True)]
    assert len(every) == len(set(every)) == apps * events * peers + 2
