"""Verifier metrics: confusion rates, gain, agreement, the imperfect-verifier ceiling."""

from __future__ import annotations

import random

import pytest

from ttscale.analysis.verifier_metrics import (
    accuracy_after,
    accuracy_ceiling,
    agreement,
    false_positive_rate,
    optimal_samples,
    verifier_metrics,
)
from ttscale.errors import ConfigError


def test_confusion_metrics_and_gain() -> None:
    correct = [True, True, True, False, False, False, False, False]
    scores = [0.9, 0.8, 0.2, 0.7, 0.1, 0.1, None, 0.3]
    m = verifier_metrics(scores, correct)
    assert (m.tp, m.fn, m.fp, m.tn, m.n) == (2, 1, 1, 3, 7)
    assert m.precision == pytest.approx(2 / 3)
    assert m.recall == pytest.approx(2 / 3)
    assert m.fpr == pytest.approx(1 / 4)
    assert m.solver_accuracy == pytest.approx(3 / 7)
    assert m.gain == pytest.approx(2 / 3 - 3 / 7)
    assert verifier_metrics([False, False], [True, False]).precision is None
    with pytest.raises(ConfigError, match="scores"):
        verifier_metrics([1.0], [True, False])


def test_false_positive_rate_of_visible_tests() -> None:
    assert false_positive_rate([True, True, False, True], [True, False, False, False]) == pytest.approx(2 / 3)
    assert false_positive_rate([True], [True]) is None


def test_agreement_of_repeated_judgments() -> None:
    a = agreement([[1, 1, 1], [0, 0, 0], [1, 0, 1], [0.9, 0.8, None]])
    assert a["items"] == 4 and a["unanimous"] == pytest.approx(3 / 4)
    assert a["pairwise"] == pytest.approx((3 + 3 + 1 + 1) / 10)
    assert agreement([[1], [0]])["pairwise"] is None


def test_ceiling_matches_simulation() -> None:
    r, c, s = 0.3, 0.9, 0.8
    ceiling = accuracy_ceiling(r, c, s)
    assert ceiling == pytest.approx(0.27 / (0.27 + 0.14))
    rng = random.Random(0)
    wins = 0
    trials = 20000
    k = 5
    for _ in range(trials):
        for i in range(k):
            ok = rng.random() < r
            accepted = rng.random() < (c if ok else 1 - s)
            if accepted or i == k - 1:
                wins += ok
                break
    assert wins / trials == pytest.approx(accuracy_after(k, r, c, s), abs=0.015)
    assert accuracy_after(200, r, c, s) == pytest.approx(ceiling, abs=1e-9)
    assert accuracy_after(1, r, c, s) == pytest.approx(r)


def test_optimal_samples() -> None:
    free = optimal_samples(0.3, 0.9, 0.8)
    assert free["accuracy"] >= free["ceiling"] - 1e-3 and free["k"] > 1
    assert optimal_samples(0.3, 0.9, 0.8, tolerance=0.05)["k"] < free["k"]
    assert optimal_samples(0.3, 0.9, 0.8, cost_per_sample=10)["k"] == 1
    # a verifier that accepts wrong answers more often than right ones never pays off
    assert optimal_samples(0.3, 0.2, 0.1)["k"] == 1
    with pytest.raises(ConfigError, match="c"):
        accuracy_ceiling(0.5, 1.5, 0.5)
