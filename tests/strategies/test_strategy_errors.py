"""Bad input: unknown names, out-of-range values, unsupported verifiers; and the CLI listing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from strategy_helpers import MockBackend, solve

from ttscale.errors import ConfigError, UnknownNameError
from ttscale.registry import strategies, tasks
from ttscale.runner import make_strategy


def test_unknown_strategy_lists_every_name():
    with pytest.raises(UnknownNameError) as e:
        make_strategy("majority")
    for name in ("sc", "beta", "voi", "usc", "cascade", "abstain"):
        assert name in str(e.value)


@pytest.mark.parametrize("spec, field, allowed", [
    ("beta:thresh=0.9", "beta.thresh", "threshold"),
    ("voi:eps=0.1", "voi.eps", "epsilon"),
    ("bon:k=3", "bon.k", "scorer"),
])
def test_unknown_parameter_lists_allowed(spec, field, allowed):
    with pytest.raises(ConfigError) as e:
        make_strategy(spec)
    assert e.value.field == field and allowed in str(e.value)


@pytest.mark.parametrize("spec, field", [
    ("beta:threshold=1.5", "beta.threshold"), ("esc:window=0", "esc.window"),
    ("sc:n=0", "sc.n"), ("borda:p=-1", "borda.p"), ("voi:epsilon=0", "voi.epsilon"),
    ("voi:signal=vibes", "voi.signal"), ("cascade:threshold=1", "cascade.threshold"),
    ("usc:n=1", "usc.n"), ("deepen:growth=0.5", "deepen.growth"), ("bayes:threshold=-3", "bayes.threshold"),
    ("voi:mass=on", "voi.mass"), ("voi:certainty=0.3", "voi.certainty"), ("voi:certainty=1.5", "voi.certainty"),
    ("voi:rivals=0", "voi.rivals"), ("voi:rivals=many", "voi.rivals"), ("voi:model=vibes", "voi.model"),
    ("voi:epsilon=1.5", "voi.epsilon"),
])
def test_out_of_range_values_name_the_parameter(spec, field):
    with pytest.raises(ConfigError) as e:
        make_strategy(spec)
    assert e.value.field == field


def test_unknown_scorer_lists_signals_and_verifiers():
    with pytest.raises(UnknownNameError) as e:
        make_strategy("weighted:weight=vibes")
    assert "logprob" in str(e.value) and "judge" in str(e.value)


def test_verifier_the_task_does_not_support_is_a_clear_error():
    facts = tasks.create("facts")
    with pytest.raises(ConfigError) as e:
        make_strategy("bon:scorer=code").check_task(facts)
    assert e.value.field == "bon.scorer" and "judge" in str(e.value) and "code" in str(e.value)
    with pytest.raises(ConfigError):  # the engine checks before drawing anything
        solve("refine:verifier=math", MockBackend(), task=facts)
    with pytest.raises(ConfigError):
        make_strategy("abstain:inner=weighted;weight=code").check_task(facts)


def test_every_strategy_describes_itself_with_documented_defaults():
    for name in strategies.names():
        d = strategies.get(name).describe()
        assert d["kind"] in {"vote", "select", "adaptive", "aggregate", "sequential"}
        assert d["doc"], name
        for p, spec in d["params"].items():
            assert spec["description"], f"{name}.{p} has no description"
        strategies.create(name)  # defaults are valid


def test_cli_strategies_json_lines():
    out = subprocess.run([sys.executable, "-m", "ttscale", "strategies", "--json"],
                         capture_output=True, text=True, check=True).stdout
    rows = [json.loads(line) for line in out.splitlines()]
    assert {r["name"] for r in rows} == set(strategies.names())
    assert all(set(r) == {"name", "kind", "params", "doc"} for r in rows)
    voi = next(r for r in rows if r["name"] == "voi")
    assert voi["kind"] == "adaptive" and voi["params"]["model"]["default"] == "auto"
    # epsilon's default depends on the valuation; the listing says which
    assert voi["params"]["epsilon"]["default"] == "auto"
    assert "auto: 0.01 calibrated, 0.02 sc" in voi["params"]["epsilon"]["description"]


def test_cli_strategies_unknown_name_is_a_clean_error():
    r = subprocess.run([sys.executable, "-m", "ttscale", "strategies", "nope"], capture_output=True, text=True)
    assert r.returncode == 2 and "choose one of" in r.stderr and "Traceback" not in r.stderr


def test_a_number_or_auto_parameter_names_itself_and_both_forms():
    # pydantic reports a union's members under tags ('constrained-int', "literal['auto']");
    # the error names the parameter and says every accepted form
    with pytest.raises(ConfigError) as e:
        make_strategy("voi:rivals=many")
    assert e.value.field == "voi.rivals"
    assert "valid integer" in str(e.value) and "'auto'" in str(e.value)
    assert make_strategy("voi:rivals=3,epsilon=0.02").params.rivals == 3
