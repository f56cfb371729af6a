"""The built-in `facts` task: shipped data is big, well-formed and checkable; answers are
normalised the way the base model writes them; options select and interleave families."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import pytest

from ttscale.config import SamplingConfig
from ttscale.errors import ConfigError, DataError
from ttscale.registry import tasks
from ttscale.tasks.facts import FactsTask, check_families, load_families, normalize_fact


@pytest.fixture(scope="module")
def problems() -> list[Any]:
    return FactsTask().load()


# ---- the shipped data --------------------------------------------------------------------

def test_at_least_300_problems_in_at_least_4_families(problems: list[Any]) -> None:
    fams = Counter(p.metadata["family"] for p in problems)
    assert len(problems) >= 300
    assert len(fams) >= 4
    assert min(fams.values()) >= 30, fams  # no token family


def test_ids_unique_and_stable(problems: list[Any]) -> None:
    ids = [p.id for p in problems]
    assert len(ids) == len(set(ids))
    assert "capitals-000" in ids and "antonyms-000" in ids
    assert all(p.task == "facts" and p.answer_type == "text" for p in problems)


def test_every_answer_and_alias_normalises_to_something(problems: list[Any]) -> None:
    task = FactsTask()
    for p in problems:
        assert p.answers, p.id
        refs = task.reference_answers(p)
        assert len(refs) == len(p.answers), (p.id, p.answers)
        # the main answer is itself judged correct
        assert task.is_correct(task.extract(" " + p.answers[0] + "\n"), p), p.id


def test_no_duplicate_questions_per_family() -> None:
    for name, spec in load_families().items():
        qs = [normalize_fact(q) for q, *_ in spec["items"]]
        assert len(qs) == len(set(qs)), name
        shot_qs = {normalize_fact(q) for q, _ in spec["shots"]}
        assert not shot_qs & set(qs), (name, shot_qs & set(qs))  # never ask a question the prompt answers


def test_prompt_is_few_shot_completion(problems: list[Any]) -> None:
    p = next(x for x in problems if x.id == "capitals-000")
    spec = load_families()["capitals"]
    assert isinstance(p.prompt, str)
    assert p.prompt.endswith(spec["template"].format(q=p.metadata["question"]))
    for q, a in spec["shots"]:
        assert spec["template"].format(q=q) + " " + a + "\n\n" in p.prompt


def test_registered_and_short_answer_sampling() -> None:
    task = tasks.create("facts")
    assert isinstance(task, FactsTask)
    cfg = task.sampling(SamplingConfig(temperature=1.0))
    assert cfg.max_tokens == 8 and tuple(cfg.stop) == ("\n",) and cfg.temperature == 1.0


# ---- normalisation ------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "canon"), [
    (" Paris.", "paris"),
    ("Paris", "paris"),
    (" the Hague", "hague"),
    ("The Hague", "hague"),
    (" Tokyo\nCountry: Italy\nCapital: Rome", "tokyo"),
    (" Milan<start_of_image><start_of_image>Country: Rwanda", "milan"),
    (" Bogotá", "bogota"),
    ("BRASÍLIA!", "brasilia"),
    (" Chișinău", "chisinau"),
    (" Washington, D.C.", "washington d c"),
    (" Port-au-Prince", "port-au-prince"),
    (" Sana'a", "sana'a"),
    (" an elephant", "elephant"),
    (" a mouse ", "mouse"),
    ("  New   Delhi  ", "new delhi"),
    ("\n", None),
    ("", None),
    (" ...", None),
    (" the", "the"),  # an article alone is a (wrong) answer, not nothing
])
def test_normalize_fact(raw: str, canon: str | None) -> None:
    assert normalize_fact(raw) == canon


def _problem(family: str, question: str) -> Any:
    return next(p for p in FactsTask(families=family).load() if p.metadata["question"] == question)


@pytest.mark.parametrize(("family", "question", "said", "ok"), [
    ("capitals", "Bolivia", " Sucre", True),
    ("capitals", "Bolivia", " La Paz\n", True),
    ("capitals", "Bolivia", " Santa Cruz", False),
    ("capitals", "Netherlands", " Amsterdam.", True),
    ("capitals", "Netherlands", " Rotterdam", False),
    ("capitals", "Colombia", " Bogota", True),
    ("capitals", "United States", " Washington, D.C.", True),
    ("capitals", "United States", " Washington DC", True),
    ("capitals", "Ukraine", " Kiev", True),
    ("antonyms", "big", " little", True),
    ("antonyms", "big", " small", True),
    ("antonyms", "big", " large", False),
    ("antonyms", "open", " shut", True),
])
def test_aliases_honoured(family: str, question: str, said: str, ok: bool) -> None:
    task = FactsTask()
    p = _problem(family, question)
    assert task.is_correct(task.extract(said, p), p) is ok


def test_unanswerable_output_is_wrong_not_an_error() -> None:
    task = FactsTask()
    p = _problem("capitals", "Bolivia")
    assert task.extract("\n\n") is None
    assert task.is_correct(None, p) is False


# ---- options ------------------------------------------------------------------------------

def test_interleaved_so_any_prefix_covers_every_family(problems: list[Any]) -> None:
    names = list(load_families())
    head = [p.metadata["family"] for p in problems[: len(names)]]
    assert head == names
    first80 = Counter(p.metadata["family"] for p in problems[:80])
    assert set(first80) == set(names) and max(first80.values()) - min(first80.values()) <= 1
    # within a family, file order is kept
    caps = [p.id for p in problems if p.metadata["family"] == "capitals"]
    assert caps == sorted(caps)


def test_families_and_per_family() -> None:
    ps = FactsTask(families="antonyms, capitals", per_family=3).load()
    assert [p.id for p in ps] == ["antonyms-000", "capitals-000", "antonyms-001", "capitals-001",
                                  "antonyms-002", "capitals-002"]
    assert [p.id for p in FactsTask(families=["capitals"], per_family=2).load()] == ["capitals-000", "capitals-001"]
    # per_family above a family's size just takes all of it
    n_caps = len(load_families()["capitals"]["items"])
    assert len(FactsTask(families="capitals", per_family=10_000).load()) == n_caps
    # through the registry, as `--task-option` passes them
    assert len(tasks.create("facts", families="antonyms", per_family=4).load()) == 4


@pytest.mark.parametrize(("kwargs", "field", "words"), [
    ({"families": "capitals,nope"}, "families", "unknown family 'nope'"),
    ({"families": ["capitals", "capitals"]}, "families", "twice"),
    ({"families": 3}, "families", "list"),
    ({"per_family": 0}, "per_family", ">= 1"),
    ({"per_family": -2}, "per_family", ">= 1"),
    ({"per_family": "ten"}, "per_family", "integer"),
    ({"per_family": True}, "per_family", "integer"),
])
def test_bad_options_name_the_field(kwargs: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ConfigError) as e:
        FactsTask(**kwargs)
    assert e.value.field == field and words in str(e.value)


# ---- the data-file validator (so a bad edit to facts.json fails loudly) -------------------

GOOD = {"template": "Word: {q}\nOpposite:", "shots": [["hot", "cold"]], "items": [["up", "down", ["below"]]]}


@pytest.mark.parametrize(("family", "words"), [
    ({**GOOD, "template": "Word:"}, "template"),
    ({**GOOD, "shots": []}, "shots"),
    ({**GOOD, "items": [["up"]]}, "row 0"),
    ({**GOOD, "items": [["up", "down"], ["left", "right", "wrong"]]}, "row 1"),
    ({**GOOD, "items": [["up", "..."]]}, "normalises to nothing"),
    ({**GOOD, "items": [["up", "down"], ["up", "below"]]}, "duplicate question 'up'"),
    ({**GOOD, "shots": [["hot", "cold", ["chilly"]]]}, "shots"),
    ({**GOOD, "instruction": 5}, "instruction"),
    ([1, 2], "family must be an object"),
])
def test_bad_data_file_names_family_row_and_field(family: Any, words: str) -> None:
    with pytest.raises(DataError) as e:
        check_families({"antonyms": family})
    assert "antonyms" in str(e.value) and words in str(e.value)


def test_shipped_file_passes_the_validator() -> None:
    from importlib.resources import files
    raw = json.loads(files("ttscale.tasks").joinpath("data/facts.json").read_text(encoding="utf-8"))
    assert check_families(raw) is not None
    with pytest.raises(DataError):
        check_families({})


# ---- the real model -------------------------------------------------------------------------

@pytest.mark.model
def test_model_answers_some_facts(embedded_backend: Any) -> None:
    """Gemma 3 270M gets most of four easy facts right when greedy (the demo's premise)."""
    task = FactsTask(per_family=1)
    ps = task.load()[:4]
    cfg = task.sampling(SamplingConfig(temperature=0.0))
    right = 0
    for p in ps:
        gens = asyncio.run(embedded_backend.generate(p.prompt, 1, cfg, seed=0))
        right += bool(task.is_correct(task.extract(gens[0].text, p), p))
    assert right >= 2
