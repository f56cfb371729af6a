"""Every estimator equals brute-force enumeration on random small banks (hypothesis)."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ttscale.analysis.estimators import (
    bon_at_k,
    bon_at_k_curve,
    brier,
    class_counts,
    ece,
    expected_draws_until_correct,
    maj_at_k,
    maj_at_k_curve,
    pass_at_k,
    pass_until,
    weighted_maj_at_k,
)

# a small bank: answer labels (None = no answer), the correct label is "a"
labels = st.lists(st.sampled_from(["a", "b", "c", "d", None]), min_size=1, max_size=8)


def brute_maj(answers: list[str | None], correct_label: str, k: int) -> float:
    total, credit = 0, Fraction(0)
    for sub in itertools.combinations(range(len(answers)), k):
        votes: dict[str, int] = {}
        for i in sub:
            if answers[i] is not None:
                votes[answers[i]] = votes.get(answers[i], 0) + 1
        total += 1
        if votes:
            top = max(votes.values())
            tied = [a for a, c in votes.items() if c == top]
            credit += Fraction(sum(a == correct_label for a in tied), len(tied))
    return float(credit / total)


@settings(max_examples=150, deadline=None)
@given(labels)
def test_maj_at_k_equals_enumeration(answers: list[str | None]) -> None:
    counts, corr, none = class_counts(answers, [a == "a" for a in answers])
    ks = list(range(1, len(answers) + 1))
    curve = maj_at_k_curve(counts, corr, ks, none)
    for k, value in zip(ks, curve, strict=True):
        assert value == pytest.approx(brute_maj(answers, "a", k), abs=1e-12)
        assert maj_at_k(counts, corr, k, none) == pytest.approx(value, abs=1e-15)


def test_maj_at_k_is_not_the_first_k_vote() -> None:
    # the first two samples say "b"; a first-k vote answers b (wrong) at k = 2, but over
    # random 2-subsets: aa (3 pairs) right, bb (1) wrong, ab (6) tied → 0.5 → (3 + 3)/10
    answers = ["b", "b", "a", "a", "a"]
    counts, corr, none = class_counts(answers, [a == "a" for a in answers])
    first_k = max(set(answers[:2]), key=answers[:2].count) == "a"
    assert not first_k
    assert maj_at_k(counts, corr, 2, none) == pytest.approx(0.6)
    assert maj_at_k(counts, corr, 2, none) == pytest.approx(brute_maj(answers, "a", 2))


def test_maj_at_k_exact_beyond_float_range() -> None:
    # n > 1000 switches to exact integers; compare with the float path on a scaled-down twin
    big = maj_at_k_curve([600, 350, 60], [True, False, False], [1, 3], 0)
    assert big[0] == pytest.approx(600 / 1010)
    assert 0.0 < big[1] < 1.0
    assert big[1] == pytest.approx(brute_maj_small_k([600, 350, 60], 3), abs=1e-12)


def brute_maj_small_k(counts: list[int], k: int) -> float:
    """maj@k for k = 3 by summing over count compositions (multivariate hypergeometric)."""
    n = sum(counts)
    credit = Fraction(0)
    for x in itertools.product(*(range(min(c, k) + 1) for c in counts)):
        if sum(x) != k:
            continue
        ways = math.prod(math.comb(c, xi) for c, xi in zip(counts, x, strict=True))
        top = max(x)
        tied = [i for i, xi in enumerate(x) if xi == top]
        credit += Fraction(ways * (0 in tied), len(tied))
    return float(credit / math.comb(n, k))


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 12), st.data())
def test_pass_at_k_equals_enumeration(n: int, data: st.DataObject) -> None:
    c = data.draw(st.integers(0, n))
    k = data.draw(st.integers(1, n))
    hits = sum(1 for sub in itertools.combinations(range(n), k) if any(i < c for i in sub))
    assert pass_at_k(n, c, k) == pytest.approx(hits / math.comb(n, k), abs=1e-12)


def brute_bon(scores: list[float], correct: list[bool], k: int, answers: list[str | None] | None) -> float:
    total, credit = 0, Fraction(0)
    for sub in itertools.combinations(range(len(scores)), k):
        best = max(scores[i] for i in sub)
        tied = [i for i in sub if scores[i] == best]
        total += 1
        if answers is None:
            credit += Fraction(sum(correct[i] for i in tied), len(tied))
            continue
        votes: dict[str, int] = {}
        for i in tied:
            if answers[i] is not None:
                votes[answers[i]] = votes.get(answers[i], 0) + 1  # type: ignore[index]
        if votes:
            top = max(votes.values())
            win = [a for a, v in votes.items() if v == top]
            credit += Fraction(sum(any(correct[i] for i in tied if answers[i] == a) for a in win), len(win))
    return float(credit / total)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.1, 0.5, 0.9]), st.sampled_from(["a", "b", "c"])),
                min_size=1, max_size=8))
def test_bon_at_k_equals_enumeration(rows: list[tuple[float, str]]) -> None:
    scores = [s for s, _ in rows]
    answers: list[str | None] = [a for _, a in rows]
    correct = [a == "a" for a in answers]
    for k in range(1, len(rows) + 1):
        # methods.md: ties averaged
        assert bon_at_k(scores, correct, k) == pytest.approx(brute_bon(scores, correct, k, None), abs=1e-9)
        # the bon strategy's rule: majority among the tied top-scored samples
        assert bon_at_k_curve(scores, correct, [k], answers)[0] == pytest.approx(
            brute_bon(scores, correct, k, answers), abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0, 1, 2, -1]), st.floats(0.1, 2.0)), min_size=2, max_size=7),
       st.data())
def test_weighted_majority_monte_carlo_within_its_standard_error(rows: list[tuple[int, float]],
                                                                  data: st.DataObject) -> None:
    classes = [c for c, _ in rows]
    weights = [w for _, w in rows]
    correct = [c == 0 for c in classes]
    k = data.draw(st.integers(1, len(rows)))
    total, credit = 0, 0.0
    for sub in itertools.combinations(range(len(rows)), k):
        tot: dict[int, float] = {}
        for i in sub:
            if classes[i] >= 0:
                tot[classes[i]] = tot.get(classes[i], 0.0) + weights[i]
        total += 1
        if tot:
            top = max(tot.values())
            tied = [c for c, v in tot.items() if v == top]
            credit += sum(c == 0 for c in tied) / len(tied)
    exact = credit / total
    est = weighted_maj_at_k(classes, weights, correct, k, draws=4000, seed=1)
    assert abs(est.mean - exact) <= 5 * est.se + 1e-9
    again = weighted_maj_at_k(classes, weights, correct, k, draws=4000, seed=1)
    assert again == est  # seeded


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.data())
def test_pass_until_equals_enumeration(n: int, data: st.DataObject) -> None:
    c = data.draw(st.integers(0, n))
    bank = [True] * c + [False] * (n - c)
    if c == 0:
        assert math.isinf(expected_draws_until_correct(n, c))
        assert pass_until(n, c) == 0.0
        return
    perms = list(itertools.permutations(range(n)))
    draws = [next(t + 1 for t, i in enumerate(p) if bank[i]) for p in perms]
    assert expected_draws_until_correct(n, c) == pytest.approx(sum(draws) / len(draws))
    assert pass_until(n, c) == pytest.approx(len(draws) / sum(draws))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(0.0, 1.0), st.booleans()), min_size=1, max_size=30))
def test_ece_and_brier_match_their_definitions(rows: list[tuple[float, bool]]) -> None:
    conf = [c for c, _ in rows]
    ok = [o for _, o in rows]
    bins: dict[int, list[int]] = {}
    for i, c in enumerate(conf):
        bins.setdefault(min(int(c * 10), 9), []).append(i)
    expected = sum(len(ix) / len(conf) * abs(sum(ok[i] for i in ix) / len(ix) - sum(conf[i] for i in ix) / len(ix))
                   for ix in bins.values())
    assert ece(conf, ok) == pytest.approx(expected, abs=1e-12)
    assert brier(conf, ok) == pytest.approx(sum((c - o) ** 2 for c, o in rows) / len(rows), abs=1e-12)


@pytest.mark.parametrize("call, message", [
    (lambda: maj_at_k([2, 1], [True, False], 4), "1 <= k <= n"),
    (lambda: maj_at_k([2, 1], [True], 1), "differ in length"),
    (lambda: pass_at_k(3, 4, 1), "0 <= c <= n"),
    (lambda: bon_at_k([0.1], [True, False], 1), "one entry per sample"),
    (lambda: ece([1.5], [True]), "confidence\\[0\\]"),
    (lambda: brier([], []), "at least one"),
    (lambda: weighted_maj_at_k([0], [1.0], [True], 1, draws=1), "draws"),
])
def test_bad_input_is_named(call, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        call()
