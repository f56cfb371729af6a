"""How good is a verifier? Measured, never assumed.

A verifier's errors decide what sampling more can buy: with solver accuracy r, true-accept
rate c (recall on correct samples) and true-reject rate s, "resample until the verifier
accepts" converges to c·r / (c·r + (1−s)(1−r)) — a ceiling below 1 whenever the verifier
has false positives, so past some number of samples more compute buys nothing. These
functions compute the usual confusion-matrix metrics, verifier gain over the solver,
agreement of repeated judgments, that ceiling and the compute-optimal number of samples.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import ConfigError

__all__ = ["VerifierMetrics", "verifier_metrics", "false_positive_rate", "agreement", "accuracy_ceiling",
           "accuracy_after", "optimal_samples"]


@dataclass(frozen=True)
class VerifierMetrics:
    """Confusion counts and rates (None where undefined, e.g. precision with no accepts).
    ``gain`` = precision − solver accuracy: how much more often an accepted sample is
    correct than a random one."""

    n: int
    tp: int
    fp: int
    tn: int
    fn: int
    precision: float | None
    recall: float | None
    fpr: float | None
    tnr: float | None
    accuracy: float
    accept_rate: float
    solver_accuracy: float
    gain: float | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _accepts(scores: Sequence[float | bool | None], threshold: float) -> list[bool | None]:
    out: list[bool | None] = []
    for x in scores:
        if x is None:
            out.append(None)
        elif isinstance(x, bool):
            out.append(x)
        else:
            out.append(float(x) >= threshold)
    return out


def verifier_metrics(scores: Sequence[float | bool | None], correct: Sequence[bool],
                     threshold: float = 0.5) -> VerifierMetrics:
    """Metrics of a verifier that accepts a sample when its score ≥ ``threshold`` (booleans
    are accepts already). Samples the verifier did not score (None) are left out."""
    if len(scores) != len(correct):
        raise ConfigError("scores", f"{len(scores)} scores but {len(correct)} labels")
    pairs = [(a, bool(y)) for a, y in zip(_accepts(scores, threshold), correct, strict=True) if a is not None]
    tp = sum(1 for a, y in pairs if a and y)
    fp = sum(1 for a, y in pairs if a and not y)
    tn = sum(1 for a, y in pairs if not a and not y)
    fn = sum(1 for a, y in pairs if not a and y)
    n = len(pairs)

    def div(a: int, b: int) -> float | None:
        return a / b if b else None

    solver = (tp + fn) / n if n else 0.0
    precision = div(tp, tp + fp)
    return VerifierMetrics(n=n, tp=tp, fp=fp, tn=tn, fn=fn, precision=precision, recall=div(tp, tp + fn),
                           fpr=div(fp, fp + tn), tnr=div(tn, fp + tn), accuracy=(tp + tn) / n if n else 0.0,
                           accept_rate=(tp + fp) / n if n else 0.0, solver_accuracy=solver,
                           gain=None if precision is None else precision - solver)


def false_positive_rate(passed_visible: Sequence[bool], passed_hidden: Sequence[bool]) -> float | None:
    """Share of programs that pass the visible tests but fail the hidden ones, among those
    that fail the hidden ones (the FPR of "visible tests" as a verifier)."""
    if len(passed_visible) != len(passed_hidden):
        raise ConfigError("passed_visible", "needs one entry per program, like passed_hidden")
    wrong = [v for v, h in zip(passed_visible, passed_hidden, strict=True) if not h]
    return sum(wrong) / len(wrong) if wrong else None


def agreement(repeated: Sequence[Sequence[float | bool | None]], threshold: float = 0.5) -> dict[str, float | None]:
    """Self-consistency of repeated judgments: ``repeated[i]`` holds the judgments of item i
    (e.g. the same judge run R times). Returns the mean pairwise agreement (share of
    judgment pairs on the same item that agree), the share of items judged unanimously,
    and Fleiss' kappa (agreement beyond chance) over items with ≥ 2 judgments."""
    pair_agree = pairs = 0
    unanimous = items = 0
    props: list[float] = []
    per_item: list[tuple[int, int]] = []
    for row in repeated:
        acc = [a for a in _accepts(row, threshold) if a is not None]
        if len(acc) < 2:
            continue
        items += 1
        yes = sum(acc)
        k = len(acc)
        per_item.append((yes, k))
        unanimous += yes in (0, k)
        for a, b in itertools.combinations(acc, 2):
            pairs += 1
            pair_agree += a == b
        props.append(yes / k)
    if not items:
        return {"pairwise": None, "unanimous": None, "kappa": None, "items": 0}
    p_obs = pair_agree / pairs
    p_yes = sum(y for y, _ in per_item) / sum(k for _, k in per_item)
    p_exp = p_yes ** 2 + (1 - p_yes) ** 2
    kappa = None if p_exp >= 1.0 else (p_obs - p_exp) / (1 - p_exp)
    return {"pairwise": p_obs, "unanimous": unanimous / items, "kappa": kappa, "items": items}


def _check_rates(r: float, c: float, s: float) -> None:
    for name, v in (("r", r), ("c", c), ("s", s)):
        if not 0.0 <= v <= 1.0:
            raise ConfigError(name, f"must be in [0, 1], got {v}")


def accuracy_ceiling(r: float, c: float, s: float) -> float:
    """Accuracy of "resample until accepted" as samples → ∞: c·r / (c·r + (1−s)(1−r)),
    with r solver accuracy, c true-accept rate, s true-reject rate."""
    _check_rates(r, c, s)
    acc, wrong = c * r, (1 - s) * (1 - r)
    return acc / (acc + wrong) if acc + wrong > 0 else r


def accuracy_after(k: int, r: float, c: float, s: float) -> float:
    """Accuracy of drawing up to ``k`` samples and returning the first accepted one (or the
    k-th, rejected, sample if none was accepted)."""
    _check_rates(r, c, s)
    if k < 1:
        raise ConfigError("k", "must be >= 1")
    q = 1 - c * r - (1 - s) * (1 - r)  # P(a draw is rejected)
    first = c * r * sum(q ** i for i in range(k))
    fallback = q ** (k - 1) * r * (1 - c)  # the last draw was rejected, and correct
    return first + fallback


def optimal_samples(r: float, c: float, s: float, cost_per_sample: float = 0.0, value: float = 1.0,
                    max_k: int = 1024, tolerance: float = 1e-3) -> dict[str, float]:
    """How many samples are worth drawing under "resample until accepted (at most k)".

    One more allowed draw changes accuracy by q^(k−1)·r·(q − 1 + c) and expected draws by
    q^k (q = P(a draw is rejected)): both shrink by the same factor, so the sign of the net
    value ``value·r·(q − 1 + c) − cost·q`` decides alone. When it is ≤ 0 (a weak verifier, or
    dear samples) one sample is optimal; otherwise accuracy rises towards the ceiling with
    geometrically vanishing returns and k is the smallest that comes within ``tolerance``
    of it. Returns k, its accuracy, the ceiling and the expected number of draws."""
    _check_rates(r, c, s)
    q = 1 - c * r - (1 - s) * (1 - r)
    ceiling = accuracy_ceiling(r, c, s)
    k = 1
    if value * r * (q - 1 + c) - cost_per_sample * q > 0:
        while k < max_k and ceiling - accuracy_after(k, r, c, s) > tolerance:
            k += 1
    return {"k": float(k), "accuracy": accuracy_after(k, r, c, s), "ceiling": ceiling,
            "expected_draws": sum(q ** i for i in range(k))}
