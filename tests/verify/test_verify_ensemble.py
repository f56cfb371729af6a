"""The weak-verifier ensemble recovers planted accept rates without labels."""

from __future__ import annotations

import numpy as np
import pytest

from ttscale.errors import ConfigError
from ttscale.verify.ensemble import binarise, fit_dawid_skene, fit_ensemble, normalise

PLANTED = {"judge": (0.85, 0.20), "prm": (0.75, 0.30), "tests": (0.95, 0.10), "genrm": (0.70, 0.15),
           "lexical": (0.65, 0.35)}


def _synthetic(n: int = 4000, prior: float = 0.4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < prior
    cols = []
    for tpr, fpr in PLANTED.values():
        accept = np.where(y, rng.random(n) < tpr, rng.random(n) < fpr)
        # continuous scores that binarise at 0.5 to the planted accepts (noise inside each side)
        cols.append(np.where(accept, 0.5 + 0.5 * rng.random(n), 0.5 * rng.random(n)))
    return np.array(cols).T, y


def test_recovers_planted_rates_without_labels() -> None:
    scores, y = _synthetic()
    fit = fit_ensemble(scores, list(PLANTED))
    assert fit.kept == list(PLANTED) and not fit.dropped
    for name, (tpr, fpr) in PLANTED.items():
        assert abs(fit.tpr[name] - tpr) <= 0.05, (name, fit.tpr[name])
        assert abs(fit.fpr[name] - fpr) <= 0.05, (name, fit.fpr[name])
    assert abs(fit.prior - 0.4) <= 0.05
    # the posterior separates correct from wrong far better than any single verifier
    acc = ((fit.posterior >= 0.5) == y).mean()
    best_single = max(((scores[:, j] >= 0.5) == y).mean() for j in range(scores.shape[1]))
    assert acc > best_single


def test_filters_uninformative_verifiers_by_acceptance_rate() -> None:
    scores, _ = _synthetic(n=1000)
    always = np.full((scores.shape[0], 1), 0.99)
    never = np.full((scores.shape[0], 1), 0.01)
    fit = fit_ensemble(np.hstack([scores, always, never]), [*PLANTED, "always", "never"])
    assert "always" in fit.dropped and "never" in fit.dropped
    assert fit.accept_rate["always"] == 1.0 and "always" not in fit.tpr


def test_missing_scores_and_raw_scales() -> None:
    scores, _ = _synthetic(n=2000, seed=1)
    scores[::7, 0] = np.nan
    logits = np.log(np.clip(scores, 1e-3, 1 - 1e-3) / (1 - np.clip(scores, 1e-3, 1 - 1e-3)))
    norm = normalise(logits)
    assert np.nanmin(norm) >= 0 and np.nanmax(norm) <= 1
    votes = binarise(norm, [0.5] * norm.shape[1])
    assert np.isnan(votes[0, 0])
    fit = fit_ensemble({n: list(scores[:, j]) for j, n in enumerate(PLANTED)})
    assert abs(fit.tpr["tests"] - 0.95) <= 0.05


def test_label_switching_is_resolved() -> None:
    scores, y = _synthetic(n=2000, seed=2)
    votes = binarise(scores)
    post, tpr, fpr, _, _ = fit_dawid_skene(1 - votes)  # every verifier inverted: worse than chance
    assert (tpr > fpr).all()  # orientation fixed so that verifiers favour the "correct" class


def test_bad_input_names_the_field() -> None:
    with pytest.raises(ConfigError, match="scores"):
        fit_ensemble(np.zeros((3, 2)), ["a"])
    with pytest.raises(ConfigError, match="scores"):
        fit_ensemble({"a": [1, 0], "b": [1]})
    with pytest.raises(ConfigError, match="min_accept"):
        fit_ensemble(np.zeros((3, 1)), ["a"], min_accept=0.9, max_accept=0.1)
