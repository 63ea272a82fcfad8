"""Paired slices: how make bench and make bench-concurrency keep the machine's noise out of a ratio.

This machine changes speed by up to 1.7x within one run, so two runtimes measured one after the
other in long cells can land anywhere. Instead each comparison (runtime A against runtime B) is
measured as many short slice pairs, A and B back to back, the order alternating from one round to
the next (A B, then B A, ...) so that a steady drift favours neither side. Each pair gives one
ratio A / B (or one difference A - B); a comparison reports the median over its pairs and the
spread (quartiles, min and max).

Everything here is pure (no clock, no processes): the scripts pass in the function that runs one
slice. tests/bench/test_pairing.py checks it with hand-computed values.
"""

import statistics


def schedule(rounds, comparisons):
    """The order slices run in: a list of (round, key, runtime).

    `comparisons` is a list of (key, a, b). Every round runs every comparison once as a pair of
    adjacent slices: a then b in even rounds, b then a in odd rounds.
    """
    order = []
    for round_index in range(rounds):
        for key, a, b in comparisons:
            pair = (a, b) if round_index % 2 == 0 else (b, a)
            order += [(round_index, key, runtime) for runtime in pair]
    return order


def alternate(rounds, comparisons, run_slice):
    """Runs `schedule(rounds, comparisons)` with `run_slice(key, runtime, round)`, which returns one
    slice's report. Returns {key: {runtime: [report per round, in round order]}}, so the i-th
    reports of a and b are the i-th pair, whichever of the two ran first."""
    results = {key: {a: [], b: []} for key, a, b in comparisons}
    for round_index, key, runtime in schedule(rounds, comparisons):
        results[key][runtime].append(run_slice(key, runtime, round_index))
    return results


def flatten(report, keys=None):
    """One slice's report with each list (per-spawn cold starts) replaced by its median, and only
    `keys` kept when given."""
    return {key: statistics.median(value) if isinstance(value, list) and value else value
            for key, value in report.items() if keys is None or key in keys}


def pairs(a_reports, b_reports, key):
    """[(a, b)] for one metric over the pairs, skipping a pair where either side lacks it."""
    return [(a[key], b[key]) for a, b in zip(a_reports, b_reports)
            if a.get(key) is not None and b.get(key) is not None]


def ratios(value_pairs):
    """a / b per pair (a pair with b == 0 has no ratio and is skipped)."""
    return [a / b for a, b in value_pairs if b]


def differences(value_pairs):
    """a - b per pair."""
    return [a - b for a, b in value_pairs]


def spread(values):
    """The median and spread of per-pair values: {n, median, q1, q3, min, max}, or None if empty.

    Quartiles by linear interpolation between the sorted values (statistics.quantiles' "inclusive"
    method, numpy's default): q1 sits at position (n - 1) / 4 of the sorted list counted from 0.
    """
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        q1 = q3 = ordered[0]
    else:
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    return {"n": len(ordered), "median": statistics.median(ordered), "q1": q1, "q3": q3,
            "min": ordered[0], "max": ordered[-1]}


def moved(first, second):
    """How far a median moved from one run to the next, relative to the first: (second - first) /
    first, or None when either is missing or the first is 0."""
    if first is None or second is None or not first:
        return None
    return (second - first) / first


def met(value, goal, better):
    """Whether `value` meets `goal` when `better` is "higher" (value >= goal) or "lower" (<=)."""
    if value is None:
        return None
    return value >= goal if better == "higher" else value <= goal
