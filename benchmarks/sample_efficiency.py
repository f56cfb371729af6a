"""Sample efficiency of adaptive stopping: SC@max vs beta, dirichlet, esc, bayes and ours (voi).

Banks (every one with ≥ 40 samples per problem; all rules are capped at 40):

- ``facts``: the embedded Gemma 3 270M on the built-in `facts` task (the first 240
  problems, all six families), 40 samples per problem at T=1, drawn once and cached in
  ``benchmarks/data/facts_gemma3_270m_n40.jsonl`` with each sample's summed log-prob, which
  at T=1 is its sampling log-probability — what ``voi``'s seen-mass certificate uses
  (``--regenerate`` draws it again with the same seed, about 2 minutes here);
- ``champ``: CHAMP's 72 real responses per problem (GPT-3.5/GPT-4/GPT-4 Turbo/PaLM 2 under 18
  prompt settings — a model/prompt ensemble, not i.i.d. samples; tokens estimated);
- synthetic banks with planted answer distributions: the correct answer's share and the
  number of distractors vary per problem; ``+signal`` plants a length/likelihood signal
  (correct paths shorter, likelier), ``flat`` none, ``hosted`` mimics a strong hosted model
  (most problems easy, one persistent wrong answer); the ``weak`` variants add only a weak
  log-prob signal (right paths 0.5 s.d. likelier, as a served model's log-probs might give);
  six ``extra-*`` banks (``--banks ...,extra``) plant signals of 0.3–1.0 s.d. with other seeds.
  Each holds a pool of 200 draws per
  problem, so every ordering's 40 samples are a fresh draw: SC@40 is then measured as the
  planted distribution's maj@40, not one realisation of it. (With exactly 40 samples, SC@40 is
  one fixed vote per problem, and whether a rule lands within 0.15 points of it is decided by
  how the bank's near-ties happened to fall — noise larger than the tolerance.)

Every rule runs through the same code as live runs (``strategy.decide(view)``) over ≥ 50
seeded orderings of each bank; accuracy is mean ± s.e. over orderings, and Δ is its paired
difference from SC@max on the same orderings (± s.e.), the figure the target is judged on.
Thresholds/windows are swept to draw each rule's trade-off curve, and the goal's ratios are
printed:

1. at accuracy ≥ SC@max − 0.15 points: ours' samples / the fewest samples of any beta, esc or
   bayes setting reaching that accuracy (goal ≤ 0.75), for ours' best setting and its default;
2. ours' default tokens / beta's at its default threshold, with the accuracy difference
   (goal ≤ 0.7 at accuracy within 0.2 points).

Any other bank ttscale can sweep is measured the same way with ``--banks bank:NAME_OR_RUN_DIR``
(e.g. a hosted model's outputs brought in by ``ttscale bank import FILE --name NAME --type math``;
equivalent answers are merged once with the bank's task before the replay).

``count_rule_oracle.py`` asks how much room a rule that sees only counts has on the planted
banks without a signal (the Bayes rule fitted to each bank's true prior).

Run: ``python benchmarks/sample_efficiency.py [--orderings 50] [--banks facts,champ,...] [--jobs 2]``
(about 5.5 minutes here with ``--jobs 2``, 9 with the extra banks); ``--write`` replaces the
``## sample_efficiency`` section of benchmarks/RESULTS.md (RESULTS holds the default banks
and the extra ones).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ttscale.config import derive_seed
from ttscale.runner import make_strategy
from ttscale.strategies.base import Done, Strategy, View
from ttscale.types import Sample, Usage

HERE = Path(__file__).resolve().parent
FACTS_CACHE = HERE / "data" / "facts_gemma3_270m_n40.jsonl"
CAP = 40
POOL = 200  # draws per problem in the planted banks (each ordering takes its 40 from these)
FACTS_PROBLEMS = 240
POINT = 0.01  # one accuracy point (accuracy is a fraction)


@dataclass
class Item:
    """One problem of a bank: its samples (answers already canonical) and which answers are right."""

    pid: str
    samples: list[Sample]
    correct: frozenset[str]


# --- banks ---------------------------------------------------------------------------------------

def facts_bank(regenerate: bool = False, problems: int = FACTS_PROBLEMS) -> list[Item]:
    if regenerate or not FACTS_CACHE.exists():
        _draw_facts(problems=problems)
    items = []
    for line in FACTS_CACHE.read_text().splitlines():
        row = json.loads(line)
        # drawn at T=1 by the embedded backend: the summed log-prob is the sampling log-prob
        ss = [Sample(problem_id=row["id"], index=i, text=t, answer=a, usage=Usage(completion_tokens=k),
                     logprob_mean=lp, logprob_sum=None if lp is None else lp * k, sampled_logprob=lp is not None,
                     self_certainty_mean=sc)
              for i, (t, a, k, lp, sc) in enumerate(zip(row["texts"], row["answers"], row["tokens"],
                                                        row["logprob"], row["self_certainty"], strict=True))]
        items.append(Item(row["id"], ss, frozenset(row["correct"])))
    return items


def _draw_facts(seed: int = 0, problems: int = FACTS_PROBLEMS) -> None:
    """Draw 40 samples for each of the first ``problems`` facts problems (the families are
    interleaved, so any prefix covers all six) with the embedded model (minutes on 2 CPU cores)."""
    from ttscale.engine import Engine, LiveSource
    from ttscale.registry import backends, tasks
    from ttscale.store import Store

    task = tasks.create("facts")
    chosen = task.load()[:problems]
    store = Store(HERE / "data" / ".facts_draw")
    backend = backends.create("hf")
    engine = Engine(task, LiveSource(backend, store, task, seed=seed), store=store, concurrency=1)
    t0 = time.monotonic()
    asyncio.run(engine.run(chosen, make_strategy(f"sc:n={CAP}")))
    asyncio.run(backend.aclose())
    print(f"drew the facts bank in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    FACTS_CACHE.parent.mkdir(parents=True, exist_ok=True)
    with open(FACTS_CACHE, "w") as f:
        for p in chosen:
            ss = sorted(store.get_samples(p.id, "main").values(), key=lambda s: s.index)[:CAP]
            answers = [s.answer for s in ss]
            f.write(json.dumps({
                "id": p.id, "texts": [s.text for s in ss], "answers": answers,
                "tokens": [s.usage.completion_tokens for s in ss], "logprob": [s.logprob_mean for s in ss],
                "self_certainty": [s.self_certainty_mean for s in ss],
                "correct": sorted({a for a in answers if a is not None and task.is_correct(a, p)})}) + "\n")
    store.close()


def champ_bank() -> list[Item]:
    from ttscale.tasks.champ import ChampTask, champ_samples, merge_answers

    task = ChampTask(equivalence="canonical")
    problems = task.load()
    samples = merge_answers(task, problems, champ_samples(task, problems, per_model_streams=False))
    by: dict[str, list[Sample]] = {}
    for s in samples:
        by.setdefault(s.problem_id, []).append(s)
    items = []
    for p in problems:
        ss = sorted(by.get(p.id, []), key=lambda s: s.index)
        ok = frozenset(a for a in {s.answer for s in ss} if a is not None and task.is_correct(a, p))
        items.append(Item(p.id, ss, ok))
    return items


def stored_bank(name_or_path: str) -> list[Item]:
    """Any bank ttscale can sweep — a run directory or a named bank (``ttscale bank import``),
    e.g. a hosted model's published outputs. Equivalent answers are merged once up front with
    the bank's own task (math equivalence for math banks), so the replay compares classes by
    string; a class is correct when its representative grades correct."""
    from ttscale.analysis.simulate import BankData
    from ttscale.backends.replay import pick_stream
    from ttscale.banks import resolve_bank
    from ttscale.verify.math import equivalence_classes

    data = BankData.load(resolve_bank(name_or_path))
    items = []
    for p in data.problems:
        ss = sorted(pick_stream(data.bank[p.id], "main"), key=lambda s: s.index)
        rep = {a: cls[0] for cls in equivalence_classes([s.answer for s in ss], data.task.same) for a in cls}
        merged = [s.model_copy(update={"answer": rep.get(s.answer) if s.answer is not None else None})
                  for s in ss]
        ok = frozenset(r for r in set(rep.values()) if data.task.is_correct(r, p))
        items.append(Item(p.id, merged, ok))
    short = sum(len(it.samples) < CAP for it in items)
    if short:
        print(f"note: {short} of {len(items)} problems have fewer than {CAP} samples; rules stop there",
              file=sys.stderr)
    return items


def synthetic_bank(seed: int, *, problems: int = 200, n: int = POOL, signal: bool, hard: float,
                   skew: float = 2.0, lp_gap: float = 0.0) -> list[Item]:
    """Planted answer distributions (:func:`synthetic_shares`), ``n`` draws per problem. With
    ``signal`` correct paths are shorter (log-normal tokens, median 200 vs 300) and likelier
    (mean log-prob −0.30 vs −0.45, 1.25 s.d. apart); ``lp_gap`` plants only a log-prob gap of
    that many s.d.; otherwise both are drawn from one distribution."""
    rng = random.Random(seed)
    gap, length = (1.25, True) if signal else (lp_gap, False)
    return [_planted(rng, f"s{p}", synthetic_shares(rng, hard, skew), n, gap, length) for p in range(problems)]


def synthetic_shares(rng: random.Random, hard: float, skew: float = 2.0) -> dict[str, float]:
    """One problem's answer shares (``c`` is correct): its share is drawn from a mixture of
    easy / medium / hard problems (``hard`` = share of hard ones), with 1–6 distractors taking
    the rest in random proportions (``u**skew`` for uniform u: larger skew, one dominant
    distractor more often)."""
    u = rng.random()
    pc = rng.uniform(0.05, 0.4) if u < hard else (rng.uniform(0.4, 0.8) if u < hard + 0.3 else rng.uniform(0.8, 1.0))
    k = rng.randint(1, 6)
    rest = [rng.random() ** skew for _ in range(k)]
    return {"c": pc, **{f"w{i}": (1 - pc) * r / sum(rest) for i, r in enumerate(rest)}}


def hosted_bank(seed: int, *, problems: int = 200, n: int = POOL, lp_gap: float = 0.0) -> list[Item]:
    """Planted distributions shaped like a strong hosted model's (:func:`hosted_shares`); with
    ``lp_gap`` right paths' mean log-probs sit that many s.d. above wrong ones', else no signal."""
    rng = random.Random(seed)
    return [_planted(rng, f"h{p}", hosted_shares(rng), n, lp_gap) for p in range(problems)]


def hosted_shares(rng: random.Random) -> dict[str, float]:
    """70% of problems easy (correct share 0.7–1), 20% medium (0.4–0.7), 10% hard (0.1–0.4);
    one persistent wrong answer takes 50–90% of the rest, two others split what remains."""
    u = rng.random()
    pc = rng.uniform(0.7, 1.0) if u < 0.7 else (rng.uniform(0.4, 0.7) if u < 0.9 else rng.uniform(0.1, 0.4))
    d1 = (1 - pc) * rng.uniform(0.5, 0.9)
    rest = 1 - pc - d1
    return {"c": pc, "d1": d1, "d2": rest * 0.6, "d3": rest * 0.4}


NO_ANSWER = 0.05  # share of planted draws that end without an answer
LP_SD = 0.12  # spread of planted mean log-probs


def _planted(rng: random.Random, pid: str, shares: dict[str, float], n: int, lp_gap: float = 0.0,
             length: bool = False) -> Item:
    """``n`` draws from one problem's planted answer shares (answer ``c`` is correct), 5% of
    them without an answer. Mean log-probs are normal (s.d. LP_SD), ``lp_gap`` s.d. lower on
    wrong paths; tokens log-normal, with ``length`` wrong paths 1.5× longer."""
    keys = [*shares, ""]
    weights = [w * (1 - NO_ANSWER) for w in shares.values()] + [NO_ANSWER]
    ss = []
    for i in range(n):
        a = rng.choices(keys, weights)[0]
        ok = a == "c"
        mu_t = math.log(300) if length and not ok else math.log(200)
        mu_l = -0.30 if ok else -0.30 - lp_gap * LP_SD
        ss.append(Sample(problem_id=pid, index=i, text=f"The answer is {a}", answer=a or None,
                         usage=Usage(completion_tokens=max(1, int(math.exp(rng.gauss(mu_t, 0.35))))),
                         logprob_mean=rng.gauss(mu_l, LP_SD)))
    return Item(pid, ss, frozenset({"c"}))


# --- replay --------------------------------------------------------------------------------------

def run_one(strategy: Any, item: Item, ordering: int) -> tuple[bool, int, int]:
    """One problem under one ordering, through ``strategy.decide`` exactly as the engine would
    call it (draws clipped to the bank; ``finalize`` once it runs out)."""
    order = item.samples[:]
    random.Random(derive_seed(ordering, item.pid)).shuffle(order)
    view = View(samples=[])
    pos = 0
    for _ in range(10_000):
        action = strategy.decide(view) if pos < len(order) else strategy.finalize(view)
        if isinstance(action, Done):
            used = view.samples
            return (action.answer in item.correct, len(used), sum(s.usage.completion_tokens for s in used))
        take = order[pos:pos + action.n]
        pos += len(take)
        view.samples.extend(take)
    raise RuntimeError(f"{strategy.label} did not finish")


@dataclass
class Row:
    family: str
    spec: str
    accuracy: float
    se: float
    samples: float
    tokens: float
    per_order: list[float]  # accuracy under each ordering, for paired differences

    def delta(self, ref: Row) -> tuple[float, float]:
        """Paired accuracy difference from ``ref`` over the same orderings: (mean, s.e.)."""
        d = [a - b for a, b in zip(self.per_order, ref.per_order, strict=True)]
        m = sum(d) / len(d)
        return m, math.sqrt(sum((x - m) ** 2 for x in d) / (len(d) - 1) / len(d))


def evaluate(spec: str | Strategy, bank: list[Item], orderings: int) -> Row:
    """A rule (spec or strategy object) over ``orderings`` seeded orderings of every problem."""
    strategy = make_strategy(spec) if isinstance(spec, str) else spec
    spec = spec if isinstance(spec, str) else strategy.label
    per_order, n_used, toks = [], 0, 0
    for o in range(orderings):
        hits = 0
        for item in bank:
            ok, k, t = run_one(strategy, item, o)
            hits += ok
            n_used += k
            toks += t
        per_order.append(hits / len(bank))
    m = sum(per_order) / len(per_order)
    se = math.sqrt(sum((a - m) ** 2 for a in per_order) / (len(per_order) - 1) / len(per_order))
    runs = orderings * len(bank)
    return Row(spec.split(":")[0], spec, m, se, n_used / runs, toks / runs, per_order)


SWEEPS = {
    "sc": [f"sc:n={CAP}"],
    "beta": [f"beta:threshold={t}" for t in (0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999)],
    "dirichlet": ["dirichlet:threshold=0.95", "dirichlet:threshold=0.99"],
    "esc": [f"esc:window={w}" for w in (2, 3, 4, 5, 6, 8)],
    "bayes": [f"bayes:threshold={b}" for b in (3, 10, 30, 100, 1000)],
    # the default first: its epsilon depends on the rule (0.01 calibrated with a signal, 0.02
    # sc on counts); an explicit epsilon applies to either
    "voi": ["voi"] + [f"voi:epsilon={e}" for e in (0.05, 0.03, 0.01, 0.005, 0.002, 0.001)]
           + ["voi:signal=none", "voi:model=calibrated"],
}
DEFAULTS = {"beta": "beta:threshold=0.95", "voi": "voi"}


BASELINES = ("beta", "esc", "bayes")


def cheapest_at_target(rows: list[Row], families: tuple[str, ...], sc: Row) -> Row | None:
    """The row of ``families`` with the fewest samples whose accuracy is within 0.15 points of ``sc``."""
    ok = [r for r in rows if r.family in families and r.accuracy >= sc.accuracy - 0.15 * POINT]
    return min(ok, key=lambda r: r.samples) if ok else None


def map_banks(fn: Any, jobs: list[tuple[Any, ...]], processes: int) -> list[Any]:
    """``fn(*job)`` for every job, in order; banks are independent, so with ``processes`` > 1
    they run in that many processes."""
    if processes > 1 and len(jobs) > 1:
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(min(processes, len(jobs))) as pool:
            return list(pool.map(fn, *zip(*jobs, strict=True)))
    return [fn(*job) for job in jobs]


def compare(rows: list[Row]) -> dict[str, Any]:
    """The goal's two ratios on one bank."""
    sc = next(r for r in rows if r.family == "sc")
    target = sc.accuracy - 0.15 * POINT
    best_base = cheapest_at_target(rows, BASELINES, sc)
    best_ours = cheapest_at_target(rows, ("voi",), sc)
    default = next(r for r in rows if r.spec == DEFAULTS["voi"])
    beta = next(r for r in rows if r.spec == DEFAULTS["beta"])
    out: dict[str, Any] = {"target": target, "best_base": best_base, "best_ours": best_ours, "default": default,
                           "sc": sc}
    if best_base:
        out["best_ratio"] = best_ours.samples / best_base.samples if best_ours else None
        out["default_ratio"] = default.samples / best_base.samples if default.accuracy >= target else None
    out["token_ratio"] = default.tokens / beta.tokens
    out["token_acc_diff"] = (default.accuracy - beta.accuracy) / POINT
    return out


def report(name: str, rows: list[Row], cmp: dict[str, Any], note: str = "") -> str:
    lines = [f"### {name}", ""]
    if note:
        lines += [note, ""]
    lines += [f"| rule | setting | accuracy ± s.e. | Δ vs SC@{CAP}, points (paired) | mean samples | mean tokens |",
              "|---|---|---|---|---|---|"]
    for r in rows:
        setting = r.spec.partition(":")[2] or "defaults"
        star = " (default)" if r.spec in DEFAULTS.values() else ""
        d, dse = r.delta(cmp["sc"])
        lines.append(f"| {r.family} | {setting}{star} | {r.accuracy:.4f} ± {r.se:.4f} | {d / POINT:+.2f} ± {dse / POINT:.2f} "
                     f"| {r.samples:.2f} | {r.tokens:.1f} |")
    bb, bo = cmp["best_base"], cmp["best_ours"]
    lines.append("")
    lines.append(f"- target accuracy (SC@{CAP} − 0.15 points): {cmp['target']:.4f}")
    if bb is None:
        lines.append("- no beta/esc/bayes setting reaches the target")
    else:
        lines.append(f"- cheapest baseline at target: `{bb.spec}` with {bb.samples:.2f} samples")
        lines.append("- ours best at target: " + (f"`{bo.spec}` {bo.samples:.2f} samples → **ratio "
                                                    f"{cmp['best_ratio']:.2f}** (goal ≤ 0.75)" if bo else "none reaches it"))
        dr = cmp["default_ratio"]
        lines.append("- ours default at target: " + (f"**ratio {dr:.2f}**" if dr is not None else
                                                      f"no (accuracy {cmp['default'].accuracy:.4f})"))
    lines.append(f"- tokens, ours default / beta default: **{cmp['token_ratio']:.2f}** (goal ≤ 0.7) at "
                 f"{cmp['token_acc_diff']:+.2f} accuracy points")
    return "\n".join(lines) + "\n"


SUMMARY_HEAD = ["| bank | cheapest baseline at target | ours default: samples ratio (≤ 0.75) | ours best: ratio |"
                " tokens vs beta default (≤ 0.7 within 0.2 points) |", "|---|---|---|---|---|"]


def summary_row(name: str, cmp: dict[str, Any]) -> str:
    """One bank's verdicts against the two goals."""
    bb = cmp["best_base"]
    base = f"`{bb.spec}` {bb.samples:.2f}" if bb else "none"

    def verdict(ratio: float | None) -> str:
        if ratio is None:
            return "misses the target accuracy"
        return f"{ratio:.2f} " + ("met" if ratio <= 0.75 else "not met")

    tok_ok = cmp["token_ratio"] <= 0.7 and cmp["token_acc_diff"] >= -0.2  # more accurate is fine
    tokens = f"{cmp['token_ratio']:.2f} at {cmp['token_acc_diff']:+.2f} points: " + ("met" if tok_ok else "not met")
    return (f"| {name} | {base} | {verdict(cmp.get('default_ratio')) if bb else '-'} | "
            f"{verdict(cmp.get('best_ratio')) if bb else '-'} | {tokens} |")


BANKS: dict[str, tuple[Any, str]] = {
    "facts": (facts_bank, "Gemma 3 270M (Q4_K_M) on `facts`, T=1.0, 40 samples per problem."),
    "champ": (champ_bank, "CHAMP: 72 real responses per problem (4 models × 18 prompt settings; not i.i.d.; "
                          "tokens estimated as characters/4)."),
    "synthetic+signal": (lambda: synthetic_bank(1, signal=True, hard=0.2),
                         "Planted distributions, correct paths shorter and likelier."),
    "synthetic-flat": (lambda: synthetic_bank(2, signal=False, hard=0.2),
                       "Planted distributions, no length/likelihood signal (log-probs present but drawn "
                       "alike for right and wrong paths: decoys)."),
    "synthetic-hard": (lambda: synthetic_bank(3, signal=False, hard=0.5),
                       "Half the problems hard (correct share 5–40%), no signal (decoy log-probs)."),
    "synthetic-hosted": (lambda: hosted_bank(4),
                         "Planted like a strong hosted model: 70% easy, one persistent wrong answer, no signal "
                         "(decoy log-probs)."),
    "synthetic-weak": (lambda: synthetic_bank(5, signal=False, hard=0.2, lp_gap=0.5),
                       "As synthetic-flat, plus a weak log-prob signal: right paths 0.5 s.d. likelier "
                       "(within-problem AUC ≈ 0.64), no length signal."),
    "synthetic-hosted-weak": (lambda: hosted_bank(6, lp_gap=0.5),
                              "As synthetic-hosted, plus the same weak log-prob signal."),
}
DEFAULT_BANKS = list(BANKS)
# More planted banks with a log-prob signal, other seeds and strengths: not in the default run
# (``--banks extra``), and used by signal_strength.py to choose voi's signal_strength.
EXTRA_BANKS: dict[str, tuple[Any, str]] = {
    "extra-hosted-20": (lambda: hosted_bank(20, lp_gap=0.5), "Hosted-like, log-prob signal 0.5 s.d."),
    "extra-hosted-22": (lambda: hosted_bank(22, lp_gap=0.3), "Hosted-like, log-prob signal 0.3 s.d."),
    "extra-hosted-24": (lambda: hosted_bank(24, lp_gap=0.8), "Hosted-like, log-prob signal 0.8 s.d."),
    "extra-flat-21": (lambda: synthetic_bank(21, signal=False, hard=0.2, lp_gap=0.5),
                      "As synthetic-flat, log-prob signal 0.5 s.d."),
    "extra-mixed-23": (lambda: synthetic_bank(23, signal=False, hard=0.35, lp_gap=1.0),
                       "35% hard problems, log-prob signal 1.0 s.d."),
    "extra-hard-25": (lambda: synthetic_bank(25, signal=False, hard=0.5, lp_gap=0.3),
                      "As synthetic-hard, log-prob signal 0.3 s.d."),
}
BANKS.update(EXTRA_BANKS)


def measure_bank(name: str, orderings: int, families: tuple[str, ...], regenerate: bool = False) -> tuple[str, str]:
    """One bank's table (and its row of the goals table, when every family ran)."""
    t0 = time.monotonic()
    if name.startswith("bank:"):
        bank, note = stored_bank(name[5:]), f"Stored bank `{name[5:]}`."
    else:
        build, note = BANKS[name]
        bank = build(regenerate) if build is facts_bank else build()
        if build not in (facts_bank, champ_bank):
            note += f" A pool of {POOL} draws per problem."
    note += f" {len(bank)} problems."
    rows = [evaluate(spec, bank, orderings) for fam in families for spec in SWEEPS[fam]]
    cmp = compare(rows) if {"sc", "voi", "beta"} <= set(families) else None
    text = report(name, rows, cmp, note) if cmp else "\n".join(
        f"{name} {r.spec}: accuracy {r.accuracy:.4f} ± {r.se:.4f}, samples {r.samples:.2f}, tokens {r.tokens:.1f}"
        for r in rows)
    print(f"{name}: {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
    return text, summary_row(name, cmp) if cmp else ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orderings", type=int, default=50)
    ap.add_argument("--banks", default=",".join(DEFAULT_BANKS),
                    help="comma-separated built-in banks (`extra` adds the extra-* planted banks); add "
                         "bank:NAME_OR_RUN_DIR for any bank ttscale can sweep (e.g. one brought in with "
                         "`ttscale bank import`)")
    ap.add_argument("--regenerate", action="store_true", help="draw the facts bank again with the model")
    ap.add_argument("--only", default=None, help="comma-separated families to run (default all)")
    ap.add_argument("--write", action="store_true", help="write the tables into benchmarks/RESULTS.md")
    ap.add_argument("--jobs", type=int, default=1, help="banks measured in parallel processes")
    args = ap.parse_args(argv)
    families = args.only.split(",") if args.only else list(SWEEPS)
    names = [n for part in args.banks.split(",") for n in (EXTRA_BANKS if part == "extra" else [part])]
    for name in names:
        if name not in BANKS and not name.startswith("bank:"):
            ap.error(f"unknown bank {name!r}; choose from {', '.join(BANKS)} or bank:NAME_OR_RUN_DIR")
    out = [f"Orderings per bank: {args.orderings}; every rule capped at {CAP} samples; accuracy is a "
           "fraction, a *point* is 0.01. Measured in one run by `python benchmarks/sample_efficiency.py`.\n"]
    t_all = time.monotonic()
    results = map_banks(measure_bank, [(n, args.orderings, tuple(families), args.regenerate) for n in names],
                        args.jobs)
    summaries = [row for _, row in results if row]
    for text, _ in results:
        out.append(text)
        print(text, flush=True)
    print(f"total {time.monotonic() - t_all:.0f} s")
    if summaries:
        table = "\n".join(SUMMARY_HEAD + summaries) + "\n"
        print(table)
        out.insert(1, "### Against the goals\n\n" + table)
    if args.write:
        write_section("sample_efficiency", "\n".join(out))
    return 0


def write_section(name: str, body: str) -> None:
    """Replace (or append) the ``## name`` section of benchmarks/RESULTS.md."""
    path = HERE / "RESULTS.md"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    head = f"## {name}"
    section = f"{head}\n\n{body}\n"
    if head in text:
        start = text.index(head)
        nxt = text.find("\n## ", start + len(head))
        text = text[:start] + section + (text[nxt + 1:] if nxt != -1 else "")
    else:
        text = text.rstrip() + "\n\n" + section
    path.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
