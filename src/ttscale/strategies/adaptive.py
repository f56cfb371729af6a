"""Adaptive sampling: draw until the answer is decided, then majority-vote what was drawn.

- ``beta`` (Adaptive-Consistency): a, b = counts of the two leading answers;
  P = P(Binomial(a+b+1, ½) ≤ a) is the posterior probability (uniform prior) that the leader
  beats the runner-up; stop when P ≥ threshold (0.95: four unanimous samples suffice).
- ``dirichlet``: with ≥ 3 distinct answers, a Monte-Carlo estimate under Dirichlet(counts+1)
  over the top 5 answers that the leader's share beats every other; otherwise ``beta``.
- ``esc`` (early-stopping self-consistency): draw windows of w; stop at the first unanimous
  window.
- ``bayes`` (Best-of-Infinity): P = P(current mode is the true mode) under Dirichlet(counts+1);
  Bayes factor = (#distinct answers)·P/(1−P); stop when it exceeds B. With one distinct answer
  the posterior needs somewhere for "another answer" to live, so one pseudo-class of unseen
  answers (pseudo-count 1) joins the Dirichlet — our choice; the paper's exact prior is not
  restated in methods.md.
- ``voi`` (ours, *value of information*): the rules above ask "is the leader the true mode?",
  which keeps a problem with a flat answer distribution sampling to the cap although more
  samples barely change how likely the answer is to be right. ``voi`` asks the question the
  accuracy target is about: how much would drawing on to ``max_samples`` raise the chance
  that the majority answer is right? For the leader against a rival, with q the leader's
  share of the two (posterior Beta(a+1, b+1)), it computes the probability that the
  remaining draws flip the vote — the number of them landing on the pair is itself
  Binomial, not its rounded mean — and sums that over the rivals it weighs (a union bound).
  How that is judged is ``model``:

  - ``calibrated``: the flip is signed by whether it would find the true mode and valued at
    f·|1−2q|^c — f the two answers' share of all samples (the chance the right answer is
    one of them), |1−2q| the gap between them (self-consistency is roughly calibrated:
    swapping two near-equal answers gains little), ``calibration`` c setting how far to
    trust that; it stops when that gain is below ``epsilon`` (0.01). Flat or hopeless
    problems stop as soon as more samples cannot sharpen them; only the runner-up is
    weighed (a third answer's flip is worth its small share).
  - ``sc``: it stops when the rest of the budget would change the majority with probability
    below ``epsilon`` (0.02), every rival (up to 8) weighed and a final tie going to the class
    seen first, as in majority vote — it aims at SC@max's own answer. A signed gain is not
    enough there: a one-vote lead with a draw left gains nothing in expectation, yet on a
    finite bank the draws left lean toward the answers drawn least so far, and stopping
    there fell 0.33 points short of SC@40 on a 48-sample bank.
  - ``auto`` (default): calibrated when a per-sample signal weights the tally (below), sc on
    counts alone. Counts cannot tell a hopeless flat problem from one whose right answer is
    a consistent minority among scattered wrong ones: on CHAMP's real responses a leader
    holding 20–30% of the votes is right 55% of the time, and the calibrated rule stopped
    1.5 points short of SC@40 there (benchmarks/RESULTS.md, sample_efficiency).

  Easy problems stop after a short unanimous run, close races
  near the cap once the rest of the budget cannot overturn the leader — so it saves most
  where samples are most expensive (long, hesitant responses on hard problems). A 1-D
  quadrature, not Monte-Carlo: exact up to the grid and cheap after every sample. Votes can
  be weighted by path quality (``signal``: likelihood, brevity, few hedges, normalised
  within the problem; the weights steer only when to stop, the answer is the plain
  majority) and draws can come in batches sized from the posterior (``batch=0``)
  to cut the number of rounds.

  When the samples carry their sampling log-probabilities (``Sample.sampled_logprob``: drawn
  at temperature 1), ``voi`` also uses *seen mass*: exp(logprob_sum) of each distinct
  completion is a proven lower bound on how often it comes back, so each answer class has at
  least the mass of its distinct completions seen so far, and at most that plus the mass
  not yet seen. Once the leader's proven mass exceeds any rival's plus everything unseen, the
  leader *is* the mode of the answer distribution — exact, no prior — and sampling stops,
  after a single sample when that sample alone holds over half the mass. Short of that
  certificate, ``certainty`` stops when the leader is the mode with that posterior
  probability, the unseen mass spread over the classes by Dirichlet(counts + 1). For long
  reasoning chains every completion is unique and its probability negligible, so nothing
  changes there; for short answers (facts, choices, numbers) most problems stop at one to
  three samples.

Monte-Carlo estimates use a seed derived from the counts, so a decision is a deterministic
function of the samples seen: replay reproduces live runs exactly. Every rule reports its
posterior probability as the decision's confidence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import Field

from ..config import derive_seed
from ..types import Sample
from .base import Action, Done, Draw, Strategy, StrategyParams, View, vote
from .signals import hedge_count

__all__ = ["BetaStop", "DirichletStop", "EarlyStopSC", "BayesStop", "ValueOfInformation",
           "beta_confidence", "dirichlet_confidence", "mode_probability", "voi_gain", "class_tally",
           "ranked_classes", "change_probability", "leader_ahead",
           "seen_mass", "mass_mode_probability"]

MC_DRAWS = 1000
#: below this much proven probability mass, seen mass says nothing the counts do not
MIN_SEEN_MASS = 0.01


def ranked_classes(view: View, samples: Sequence[Sample], weights: Sequence[float] | None = None
                   ) -> list[tuple[float, int]]:
    """(vote total, first-seen rank) per answer class, leader first (ties: first seen), then
    descending. The rank says how majority vote would break a tie between two classes."""
    d = vote(view, samples, weights)
    if not d.votes:
        return []
    pos = {k: i for i, k in enumerate(d.votes)}  # votes are keyed in draw order
    order = sorted(d.votes, key=lambda k: (k != d.answer, -d.votes[k], pos[k]))
    return [(d.votes[k], pos[k]) for k in order]


def class_tally(view: View, samples: Sequence[Sample], weights: Sequence[float] | None = None
                ) -> list[float]:
    """Vote totals per answer class, leader first (ties: first seen), then descending."""
    return [v for v, _ in ranked_classes(view, samples, weights)]


def beta_confidence(a: float, b: float) -> float:
    """P(Binomial(a+b+1, ½) ≤ a) = P(p_leader > p_runner-up | a, b) under a uniform prior."""
    a_i, b_i = int(round(a)), int(round(b))
    n = a_i + b_i + 1
    return sum(math.comb(n, i) for i in range(a_i + 1)) / 2 ** n


def _rng(counts: Sequence[float], tag: str) -> Any:
    import numpy as np
    return np.random.default_rng(derive_seed(tag, *[round(c, 6) for c in counts]))


@lru_cache(maxsize=65536)
def dirichlet_confidence(counts: tuple[float, ...]) -> float:
    """MC estimate of P(leader's share beats every other) under Dirichlet(counts + 1)."""
    import numpy as np
    theta = _rng(counts, "dirichlet").dirichlet(np.asarray(counts) + 1.0, size=MC_DRAWS)
    return float((theta.argmax(axis=1) == 0).mean())


@lru_cache(maxsize=65536)
def mode_probability(counts: tuple[float, ...], unseen: float = 1.0) -> float:
    """MC estimate of P(the current leader is the true mode) under Dirichlet(counts + 1),
    with one extra pseudo-class of not-yet-seen answers (pseudo-count ``unseen``)."""
    import numpy as np
    alpha = np.asarray([*counts, 0.0]) + 1.0
    alpha[-1] = unseen
    theta = _rng(counts, "bayes").dirichlet(alpha, size=MC_DRAWS)
    return float((theta.argmax(axis=1) == 0).mean())


def seen_mass(view: View, samples: Sequence[Sample]) -> tuple[Done, dict[str, float], float] | None:
    """(the vote, the proven mass of each voted class, the unseen mass), or None unless every
    sample carries its sampling log-probability.

    A class's proven mass is the sum of exp(logprob_sum) over its *distinct* completions
    (the same text drawn twice is one event; of several token paths to one text the likeliest
    counts), so it never exceeds the class's true share; the unseen mass is one minus every
    distinct completion seen, answerless ones included (they belong to no class)."""
    if not samples or not all(s.sampled_logprob and s.logprob_sum is not None for s in samples):
        return None
    best: dict[str, tuple[float, str | None]] = {}
    for s in samples:
        lp = float(s.logprob_sum)  # type: ignore[arg-type]
        if s.text not in best or lp > best[s.text][0]:
            best[s.text] = (lp, s.answer)
    d = vote(view, samples)
    mass = dict.fromkeys(d.votes, 0.0)
    seen = 0.0
    for lp, answer in best.values():
        p = math.exp(min(lp, 0.0))
        seen += p
        if answer is not None:
            mass[view.canonical(answer)] += p
    return d, mass, max(0.0, 1.0 - seen)


@lru_cache(maxsize=65536)
def mass_mode_probability(masses: tuple[float, ...], counts: tuple[float, ...], unseen: float) -> float:
    """P(class 0 is the mode of the answer distribution) given proven masses, vote counts and
    the unseen mass: 1.0 exactly when masses[0] > max(others) + unseen (a certificate);
    otherwise a Monte-Carlo estimate with shares = masses + unseen·ρ, ρ ~ Dirichlet(counts + 1)
    over the voted classes plus one class of answers not seen yet (capped below 1: sampling
    cannot prove what only the certificate does)."""
    if masses[0] > max(masses[1:], default=0.0) + unseen:
        return 1.0
    import numpy as np
    rho = _rng((*masses, *counts, unseen), "mass").dirichlet(np.asarray([*counts, 0.0]) + 1.0, size=MC_DRAWS)
    share = np.asarray([*masses, 0.0]) + unseen * rho
    return min(float((share[:, 0] > share[:, 1:].max(axis=1)).mean()), 1.0 - 1.0 / MC_DRAWS)


_GRID = 256


@lru_cache(maxsize=1)
def _grid() -> Any:
    """The quadrature grid over q: midpoints of _GRID equal cells."""
    import numpy as np
    return (np.arange(_GRID) + 0.5) / _GRID


@lru_cache(maxsize=4096)
def _posterior(a: float, b: float, prior: float) -> Any:
    """Beta(a + prior, b + prior) weights of q on the grid (normalised)."""
    from scipy.stats import beta as beta_dist
    w = beta_dist.pdf(_grid(), a + prior, b + prior)
    return w / w.sum()


@lru_cache(maxsize=4096)
def _flip_matrix(lead: float, remaining: int, tie_flips: bool = False) -> Any:
    """F[i, m] = P(the rival ends ahead | m of the remaining draws land on the pair, the
    leader's share of them is q_i): the leader's hits k ~ Binomial(m, q) fall below
    (m − lead)/2, or reach it exactly when a final tie goes to the rival."""
    import numpy as np
    from scipy.special import bdtr
    m = np.arange(remaining + 1)
    k = np.floor((m - lead) / 2) if tie_flips else np.ceil((m - lead) / 2) - 1
    q = _grid()[:, None]
    return np.where(k[None, :] >= 0, bdtr(np.maximum(k, 0)[None, :], m[None, :], q), 0.0)


@lru_cache(maxsize=4096)
def _pair_draws(remaining: int, share: float) -> Any:
    """P(m of the remaining draws land on the pair), m = 0..remaining."""
    import numpy as np
    from scipy.stats import binom
    return binom.pmf(np.arange(remaining + 1), remaining, share)


def _flip(lead: float, remaining: int, share: float, tie_flips: bool) -> Any:
    """P(the rival ends ahead | q_i) on the grid, or None when the remaining draws cannot
    overturn the lead."""
    if remaining <= 0 or remaining < lead or (remaining == lead and not tie_flips):
        return None
    return _flip_matrix(lead, remaining, tie_flips) @ _pair_draws(remaining, share)


@lru_cache(maxsize=262144)
def voi_gain(a: float, b: float, remaining: int, share: float = 1.0, prior: float = 1.0,
             pair_share: float | None = None, calibration: float = 1.0) -> tuple[float, float]:
    """(gain, P(leader is the mode)) for a leader with ``a`` votes against a rival with ``b``,
    when ``remaining`` more draws would still come, each landing on one of the two with
    probability ``share``.

    q, the leader's share of the two, has posterior Beta(a + prior, b + prior). If q > ½ the
    leader is the mode and more draws can only lose it (a flip: the rival ends strictly
    ahead); if q < ½ more draws can only win it. So the gain of drawing on is
    E[(1{q<½} − 1{q>½})·P(flip | q)]: m ~ Binomial(remaining, share) draws land on the pair,
    the leader takes k ~ Binomial(m, q) of them, and the vote flips when m − k > k + a − b
    (a final tie is taken to keep the leader; :func:`change_probability` can give it to
    the rival). The number landing on the pair is a
    distribution, not its mean: rounding the mean made a rival on a flat problem near the cap
    look unable to catch up (0.8 expected draws → 0) although two or three of nine draws often
    land on it. With ``pair_share`` f each flip is valued f·|1 − 2q|^calibration instead of 1
    (see the module doc). A 1-D quadrature over q, exact up to the grid; its pieces are cached,
    so it is cheap after every sample."""
    import numpy as np
    w, q = _posterior(a, b, prior), _grid()
    p_mode = leader_ahead(a, b, prior)
    flip = _flip(a - b, remaining, share, False)
    if flip is None:
        return 0.0, p_mode
    value = 1.0 if pair_share is None else np.abs(1 - 2 * q) ** calibration * pair_share
    gain = float((w * value * np.where(q < 0.5, flip, -flip)).sum())
    return max(gain, 0.0), p_mode


def leader_ahead(a: float, b: float, prior: float = 1.0) -> float:
    """P(q > ½): the posterior probability that the leader's share beats the rival's."""
    return float(_posterior(a, b, prior)[_grid() > 0.5].sum())


@lru_cache(maxsize=262144)
def change_probability(a: float, b: float, remaining: int, share: float = 1.0, prior: float = 1.0,
                       tie_flips: bool = False) -> float:
    """P(after ``remaining`` more draws the rival, not the leader, holds the majority): the
    flip probability of :func:`voi_gain`, unsigned and unvalued — how likely drawing to the
    cap is to change the answer. ``tie_flips``: a final tie goes to the rival (seen first)."""
    flip = _flip(a - b, remaining, share, tie_flips)
    return 0.0 if flip is None else float((_posterior(a, b, prior) * flip).sum())


class AdaptiveParams(StrategyParams):
    max_samples: int = Field(40, ge=1, le=4096, description="hard cap on samples per problem")
    batch: int = Field(1, ge=1, le=256, description="samples drawn per round")


class _Adaptive(Strategy):
    """Shared loop: draw ``batch`` at a time until ``stop`` or the cap; answer by majority."""

    kind = "adaptive"
    Params = AdaptiveParams

    def confidence(self, view: View, samples: list[Sample]) -> tuple[bool, float]:
        """(stop now?, confidence in the current leader)."""
        raise NotImplementedError

    def batch_size(self, view: View, samples: list[Sample]) -> int:
        return self.params.batch

    def decide(self, view: View) -> Action:
        samples = view.stream()
        cap = self.params.max_samples
        if len(samples) >= cap:
            return self.finalize(view)
        if samples and self.confidence(view, samples)[0]:
            return self.finalize(view)
        return Draw(max(1, min(self.batch_size(view, samples), cap - len(samples))))

    def finalize(self, view: View) -> Done:
        samples = view.stream()[: self.params.max_samples]
        d = vote(view, samples)
        if d.answer is None:
            return d
        return Done(d.answer, self.confidence(view, samples)[1], d.votes, d.sample_index, d.text)


class BetaParams(AdaptiveParams):
    threshold: float = Field(0.95, gt=0.0, lt=1.0, description="stop when P(leader beats runner-up) ≥ this")


class BetaStop(_Adaptive):
    """Adaptive-Consistency Beta rule: stop once the leader beats the runner-up with P ≥ threshold."""

    name = "beta"
    Params = BetaParams

    def confidence(self, view: View, samples: list[Sample]) -> tuple[bool, float]:
        c = class_tally(view, samples)
        if not c:
            return False, 0.0
        p = beta_confidence(c[0], c[1] if len(c) > 1 else 0.0)
        return p >= self.params.threshold, p


class DirichletParams(BetaParams):
    top: int = Field(5, ge=2, le=50, description="answers in the Dirichlet (the most frequent ones)")


class DirichletStop(_Adaptive):
    """Adaptive-Consistency Dirichlet rule: P(leader's share is the largest) over the top answers."""

    name = "dirichlet"
    Params = DirichletParams

    def confidence(self, view: View, samples: list[Sample]) -> tuple[bool, float]:
        c = class_tally(view, samples)
        if not c:
            return False, 0.0
        if len(c) >= 3:
            p = dirichlet_confidence(tuple(c[: self.params.top]))
        else:
            p = beta_confidence(c[0], c[1] if len(c) > 1 else 0.0)
        return p >= self.params.threshold, p


class ESCParams(StrategyParams):
    window: int = Field(5, ge=1, le=256, description="samples per window; stop at a unanimous window")
    max_samples: int = Field(40, ge=1, le=4096, description="hard cap on samples per problem")


class EarlyStopSC(_Adaptive):
    """Early-stopping self-consistency: sample windows, stop at the first unanimous one."""

    name = "esc"
    Params = ESCParams

    def batch_size(self, view: View, samples: list[Sample]) -> int:
        return self.params.window

    def confidence(self, view: View, samples: list[Sample]) -> tuple[bool, float]:
        w = self.params.window
        c = class_tally(view, samples)
        share = c[0] / sum(c) if c else 0.0
        if len(samples) % w != 0 and len(samples) < self.params.max_samples:
            return False, share
        last = samples[len(samples) - w:] if len(samples) >= w else []
        unanimous = bool(last) and all(s.answer is not None for s in last) and \
            len({view.canonical(s.answer) for s in last if s.answer is not None}) == 1
        return unanimous, share


class BayesParams(AdaptiveParams):
    threshold: float = Field(30.0, gt=0.0, le=1e9, description="stop when the Bayes factor exceeds B")


class BayesStop(_Adaptive):
    """Best-of-Infinity Bayes-factor rule: stop when (#answers)·P/(1−P) exceeds B."""

    name = "bayes"
    Params = BayesParams

    def confidence(self, view: View, samples: list[Sample]) -> tuple[bool, float]:
        c = class_tally(view, samples)
        if not c:
            return False, 0.0
        p = mode_probability(tuple(c))
        bf = len(c) * p / (1 - p) if p < 1 else math.inf
        return bf > self.params.threshold, p


class VOIParams(AdaptiveParams):
    epsilon: Annotated[float, Field(gt=0.0, lt=1.0)] | Literal["auto"] = Field(
        "auto", description="stop when drawing to max_samples would raise the answer's odds (calibrated) "
                            "or change the majority (sc) with probability below this (auto: 0.01 "
                            "calibrated, 0.02 sc)")
    calibration: float = Field(0.5, ge=0.0, le=4.0, description="how little a near-tie is worth: "
                               "switching to the true mode gains pair share × |share gap|^calibration")
    model: Literal["auto", "calibrated", "sc"] = Field(
        "auto", description="calibrated = value a flip at f·|share gap|^calibration (see the module "
                            "doc); sc = stop when the rest of the budget would hardly change the "
                            "majority (aim at SC@max's answer); auto = calibrated when a per-sample "
                            "signal weights the tally, sc on counts alone")
    rivals: Annotated[int, Field(ge=1, le=64)] | Literal["auto"] = Field(
        "auto", description="answers besides the leader that could overtake it, weighed and added "
                            "(auto: 1 calibrated, 8 sc)")
    prior: float = Field(1.0, gt=0.0, le=100.0, description="Beta pseudo-count of leader and runner-up")
    min_samples: int = Field(2, ge=1, le=4096, description="never stop before this many samples")
    batch: int = Field(1, ge=0, le=256, description="samples per round; 0 sizes each round from the posterior")
    signal: Literal["none", "auto", "logprob", "brevity", "hedges"] = Field(
        "auto", description="weight the stopping tally by path quality: auto = likelihood when every "
                            "sample has it, else none; brevity = short and unhedged; hedges = unhedged")
    signal_strength: float = Field(0.5, ge=0.0, lt=1.0, description="stopping-tally weights span 1 ± this "
                                   "(the answer stays the plain majority)")
    mass: Literal["auto", "off"] = Field(
        "auto", description="auto: when samples carry their sampling log-probs, stop as soon as "
                            "the seen probability mass proves the leader is the mode")
    certainty: float = Field(0.99, gt=0.5, le=1.0, description="with seen mass: also stop once "
                             "P(leader is the mode) reaches this (1.0: only on a certificate)")


class ValueOfInformation(_Adaptive):
    """Ours: stop when sampling to the cap would barely change the majority answer's odds of being right."""

    name = "voi"
    Params = VOIParams

    def _signal(self, samples: list[Sample]) -> str:
        """The per-sample signal the tally is weighted by ("none" when there is none)."""
        sig = self.params.signal
        if sig == "auto":  # likelihood is the one signal known to track correctness broadly
            return "logprob" if samples and all(s.logprob_mean is not None for s in samples) else "none"
        return sig

    def _weights(self, samples: list[Sample], sig: str) -> list[float] | None:
        """Per-sample vote weights from signal ``sig``, z-scored within the problem."""
        if sig == "none" or len(samples) < 3:
            return None
        if sig == "logprob":
            raw = [s.logprob_mean if s.logprob_mean is not None else 0.0 for s in samples]
        elif sig == "brevity":
            raw = [-math.log1p(s.usage.completion_tokens) - 0.5 * hedge_count(s.text) for s in samples]
        else:
            raw = [-float(hedge_count(s.text)) for s in samples]
        mean = sum(raw) / len(raw)
        sd = math.sqrt(sum((r - mean) ** 2 for r in raw) / len(raw))
        if sd < 1e-9:
            return None
        # a bounded multiplicative weight in 1 ± signal_strength. It only decides when to stop:
        # the answer is the plain majority. 0.5 measured best on ten planted and real banks
        # whose log-probs carry a signal (0.3–1.25 s.d.; more hurt), at ≈0.1 points' cost
        # where they are decoys (benchmarks/RESULTS.md, signal_strength)
        return [1.0 + self.params.signal_strength * math.tanh((r - mean) / sd) for r in raw]

    def _mass_confidence(self, view: View, samples: list[Sample]) -> float | None:
        """P(the vote's leader is the mode) from seen mass, or None when it does not apply."""
        if self.params.mass == "off":
            return None
        seen = seen_mass(view, samples)
        if seen is None or seen[0].answer is None:
            return None
        d, mass, unseen = seen
        if unseen > 1.0 - MIN_SEEN_MASS:  # long, unique completions: nothing proven, and the
            return None                   # counts alone are the gain rule's job
        order = [d.answer, *(k for k in d.votes if k != d.answer)]  # the leader first
        return mass_mode_probability(tuple(mass[k] for k in order), tuple(d.votes[k] for k in order),
                                     unseen)

    def confidence(self, view: View, samples: list[Sample]) -> tuple[bool, float]:
        sig = self._signal(samples)
        ranked = ranked_classes(view, samples, self._weights(samples, sig))
        if not ranked:
            return False, 0.0
        pm = self._mass_confidence(view, samples)
        if pm is not None and (pm >= 1.0 or (pm >= self.params.certainty
                                             and len(samples) >= self.params.min_samples)):
            return True, pm  # a certificate needs no minimum: it is exact
        calibrated = self.params.model == "calibrated" or (self.params.model == "auto" and sig != "none")
        epsilon = (0.01 if calibrated else 0.02) if self.params.epsilon == "auto" else self.params.epsilon
        rivals = (1 if calibrated else 8) if self.params.rivals == "auto" else self.params.rivals
        n, remaining, (a, first) = len(samples), self.params.max_samples - len(samples), ranked[0]
        # the share of future draws that lands on an answer class, posterior mean
        per_vote = sum(1 for s in samples if s.answer is not None) / sum(v for v, _ in ranked) / (n + 1)
        # quarter-vote resolution: finer differences do not matter, and equal states share one
        # cached estimate
        a4, total = round(a * 4) / 4, 0.0
        for b, seen in ranked[1:1 + rivals] or [(0.0, len(ranked))]:  # summed: a union bound
            b4, share = round(b * 4) / 4, round((a + b) * per_vote, 2)
            if calibrated:
                total += voi_gain(a4, b4, remaining, share, self.params.prior, round((a + b) / (n + 1), 2),
                                  self.params.calibration)[0]
            else:  # a final tie goes to the class seen first, as in majority vote
                total += change_probability(a4, b4, remaining, share, self.params.prior, seen < first)
        runner_up = ranked[1][0] if len(ranked) > 1 else 0.0
        return n >= self.params.min_samples and total < epsilon, leader_ahead(a4, round(runner_up * 4) / 4,
                                                                             self.params.prior)

    def batch_size(self, view: View, samples: list[Sample]) -> int:
        if self.params.batch:
            return self.params.batch
        # posterior-sized rounds: if the leader's lead needs d more unanimous votes to clear
        # the beta rule, draw about that many at once (at least 1, at most 8)
        c = class_tally(view, samples)
        if not c:
            return max(1, self.params.min_samples - len(samples))
        a, b = c[0], (c[1] if len(c) > 1 else 0.0)
        need = 0
        while beta_confidence(a + need, b) < 0.95 and need < 8:
            need += 1
        return max(1, need, self.params.min_samples - len(samples))
