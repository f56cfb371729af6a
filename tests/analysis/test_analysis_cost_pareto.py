"""Cost model (price tables, FLOPs, PTE) and Pareto / compute-optimal / GenRM grid."""

from __future__ import annotations

import itertools
import json
import math

import pytest

from ttscale.analysis.cost import CostModel, TokenCounts, load_price_table, params_from_name
from ttscale.analysis.curves import Point
from ttscale.analysis.estimators import bon_at_k
from ttscale.analysis.pareto import compute_optimal, frontier, genrm_grid, optimal_table
from ttscale.errors import ConfigError, DataError


def test_flops_money_and_prefill_equivalents(tmp_path) -> None:  # type: ignore[no-untyped-def]
    t = TokenCounts(samples=4, prompt=100, cached=300, completion=40, wall_time=2.0)
    embedded = CostModel.for_model("gemma-3-270m-q4_k_m")
    pre, dec = embedded.flops(t)
    assert (pre, dec) == (2 * 2.68e8 * 100, 2 * 2.68e8 * 40)
    assert embedded.money(t) == 0.0
    prices = tmp_path / "prices.toml"
    prices.write_text('[models."acme-70b*"]\ninput = 1.0\ncached_input = 0.5\noutput = 4.0\ndecode_ratio = 3.0\n')
    table = load_price_table(prices)
    m = CostModel.for_model("ACME-70B-chat", table)
    assert m.params == 70e9  # parsed from the name
    assert m.money(t) == pytest.approx((100 * 1.0 + 300 * 0.5 + 40 * 4.0) / 1e6)
    assert m.pte(t) == 100 + 3.0 * 40
    axes = m.axes(t)
    assert axes["flops"] == pytest.approx(2 * 70e9 * 140) and axes["tokens"] == 40 and axes["samples"] == 4
    assert CostModel.for_model("gemma-3-270m", table).params == 2.68e8  # defaults still there
    js = tmp_path / "p.json"
    js.write_text(json.dumps({"models": {"*": {"output": 2.0}}}))
    assert CostModel.for_model("whatever", load_price_table(js)).money(t) == pytest.approx(80 / 1e6)
    assert math.isnan(CostModel.for_model("mystery").flops(t)[0])  # unknown size: NaN, not a guess


@pytest.mark.parametrize("text, suffix, field", [
    ('[models."x"]\noutput = -1\n', ".toml", "models.x.output"),
    ('{"models": {"x": {"speed": 1}}}', ".json", "models.x.speed"),
    ('{"price": 1}', ".json", "models"),
    ("not [ toml", ".toml", None),
])
def test_bad_price_tables_name_the_field(tmp_path, text, suffix, field) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / f"prices{suffix}"
    path.write_text(text)
    with pytest.raises(DataError) as info:
        load_price_table(path)
    assert str(path) in str(info.value)
    if field:
        assert field in str(info.value)
    with pytest.raises(ConfigError, match="prices"):
        load_price_table(tmp_path / "missing.json")


def test_params_from_name() -> None:
    assert params_from_name("Qwen2.5-7B-Instruct") == 7e9
    assert params_from_name("gemma-3-270m") == 270e6
    assert params_from_name("Llama-3.1-8B") == 8e9
    assert params_from_name("gpt-4o") is None


def pt(spec: str, budget: int, acc: float, tokens: float) -> Point:
    return Point(strategy=spec, params={}, budget=budget, label=f"sweep/{spec}@{budget}", accuracy=acc,
                 accuracy_se=0.0, problem_se=0.01, means={"tokens": tokens, "samples": budget, "cost": 0.0},
                 orderings=1, problems=10, method="exact", spec=spec)


def test_frontier_and_compute_optimal() -> None:
    pts = [pt("sc", 1, 0.5, 10), pt("sc", 4, 0.7, 40), pt("sc", 8, 0.72, 80),
           pt("beta", 8, 0.71, 30), pt("beta", 16, 0.69, 60)]
    front = frontier(pts, "tokens")
    assert [(p.strategy, p.budget) for p in front] == [("sc", 1), ("beta", 8), ("sc", 8)]
    assert compute_optimal(pts, 35, "tokens").label == "sweep/beta@8"  # type: ignore[union-attr]
    assert compute_optimal(pts, 5, "tokens") is None
    rows = optimal_table(pts, "tokens")
    assert [(r["from"], r["to"]) for r in rows] == [(10, 30), (30, 80), (80, math.inf)]
    with pytest.raises(ConfigError, match="x_axis"):
        frontier(pts, "bananas")


def test_genrm_grid_matches_enumeration_and_allocates_compute() -> None:
    correct = [[True, False, False, True], [False, False, True, False]]
    chains = [[[1, 1, 0], [0, 1, 0], [0, 0, 0], [1, 0, 1]], [[0, 0, 1], [1, 0, 0], [1, 1, 1], [0, 0, 0]]]
    answers = [["x", "y", "y", "x"], ["p", "q", "r", "q"]]
    grid = genrm_grid(correct, chains, [1, 2, 4], [0, 1, 3], lam=0.5, answers=answers, draws=400, seed=0)
    cell = {(c.solutions, c.verifications): c for c in grid.cells}
    # V = all chains: scores are fixed, so best-of-S is exact
    for s in (1, 2, 4):
        exact = sum(bon_at_k([sum(c) / 3 for c in ch], cs, s) for cs, ch in zip(correct, chains, strict=True)) / 2
        assert cell[(s, 3)].accuracy == pytest.approx(exact)
        assert cell[(s, 3)].compute == s * (1 + 0.5 * 3)
    # V = 1: average over the three single chains, by enumeration
    for s in (1, 2, 4):
        total = 0.0
        for p in range(2):
            vals = [bon_at_k([ch[v[i]] for i, ch in enumerate(chains[p])], correct[p], s)
                    for v in itertools.product(range(3), repeat=4)]
            total += sum(vals) / len(vals)
        assert abs(cell[(s, 1)].accuracy - total / 2) <= 4 * cell[(s, 1)].accuracy_se + 1e-9
    # V = 0 is majority vote over S: maj@2 = 3/6 on problem 0 and 1.5/6 on problem 1
    assert cell[(2, 0)].accuracy == pytest.approx((0.5 + 0.25) / 2)
    computes = [c.compute for c in grid.optimal]
    accs = [c.accuracy for c in grid.optimal]
    assert computes == sorted(computes) and accs == sorted(accs)
    with pytest.raises(ConfigError, match="chains"):
        genrm_grid(correct, [[[1]] * 4, [[1]] * 4], [1], [2], lam=1.0)
