"""Tasks built from rows: a source of rows + a field mapping + a prompt template + an answer type.

This is the one generic task every dataset loader specialises. Users reach it three ways:

- ``ttscale run --task problems.jsonl --field question=problem --field answer=solution``
  (JSONL, CSV or Parquet; the task is chosen from the file extension),
- the registered names ``file`` / ``jsonl`` / ``csv`` / ``parquet`` with ``path=`` options,
- a YAML/TOML task file (:mod:`ttscale.tasks.taskfile`) that fills the same options.

``fields`` maps the logical names the task needs (``question``, ``answer``, optionally
``id``) to the source's column names; every column is also available to the prompt
template under its own name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError, DataError
from ..types import Problem
from .base import AnswerTask
from .sources import OnError, convert_rows, get_answer, get_text, read_rows
from .template import DEFAULT_TEMPLATES, PromptTemplate

__all__ = ["RowsTask", "FileTask", "SCALAR_METADATA_MAX"]

SCALAR_METADATA_MAX = 500  # longer columns (solutions, tests) stay out of Problem.metadata


class RowsTask(AnswerTask):
    """Problems from rows. Subclasses set hub defaults (``default_dataset`` etc.), the
    logical ``default_fields`` and may override :meth:`convert_row`."""

    name = "file"
    default_dataset: str | None = None
    default_config: str | None = None
    default_split: str | None = None
    default_answer_type = "math"
    default_fields: dict[str, Any] = {"question": ("question", "problem", "prompt", "input"),
                                      "answer": ("answer", "solution", "target", "output")}
    default_prompt: dict[str, Any] | None = None

    def __init__(self, path: str | None = None, *, data_files: str | list[str] | None = None,
                 dataset: str | None = None, config: str | None = None, split: str | None = None,
                 fields: Mapping[str, str] | None = None, answer_type: str | None = None,
                 prompt: Mapping[str, Any] | PromptTemplate | None = None, on_error: OnError = "skip",
                 name: str | None = None, sampling: Mapping[str, Any] | None = None,
                 rows: list[Mapping[str, Any]] | None = None, source: str | None = None,
                 **options: Any) -> None:
        super().__init__(answer_type=answer_type or self.default_answer_type, **options)
        if on_error not in ("skip", "raise"):
            raise ConfigError("on_error", f"must be 'skip' or 'raise', got {on_error!r}")
        if name:
            self.name = name  # type: ignore[misc]  # a task file names its task
        self.path = path
        self.data_files = data_files
        self.rows = rows
        self.source = source or ("inline rows" if rows is not None else "")
        self.dataset = dataset if dataset is not None else (
            None if path or data_files or rows is not None else self.default_dataset)
        # the default config/split belong to the default dataset, not to one the user names
        own = dataset is None or dataset == self.default_dataset
        self.config = config if config is not None else (self.default_config if own else None)
        self.split = split if split is not None else (self.default_split if own else None)
        if self.path is None and self.data_files is None and self.dataset is None and rows is None:
            raise ConfigError("path", f"task {self.name!r} needs path=FILE, data_files=... or dataset=NAME")
        unknown = set(fields or {}) - {"question", "answer", "id"} - set(self._extra_fields())
        if unknown:
            raise ConfigError("fields", f"unknown logical field {sorted(unknown)[0]!r}; map question, answer or id")
        self.fields: dict[str, Any] = {**self.default_fields, **dict(fields or {})}
        defaults = self.default_prompt or DEFAULT_TEMPLATES[self.answer_type]
        self.prompt = PromptTemplate.build(prompt, **defaults)
        self.on_error: OnError = on_error
        if sampling:
            self.sampling_defaults = {**self.sampling_defaults, **dict(sampling)}  # type: ignore[misc]
        self._problems: list[Problem] | None = None

    def _extra_fields(self) -> list[str]:
        """Logical fields a subclass understands besides question/answer/id."""
        return []

    def load(self) -> list[Problem]:
        if self._problems is None:
            if self.rows is not None:
                rows = list(self.rows)
            else:
                rows, self.source = read_rows(dataset=self.dataset, config=self.config, split=self.split,
                                              data_files=self.data_files, path=self.path)
            self._problems = convert_rows(rows, self.convert_row, source=self.source, on_error=self.on_error,
                                          skipped=self.skipped)
        return list(self._problems)

    # --- per-row conversion --------------------------------------------------------------
    def convert_row(self, row: Mapping[str, Any], row_no: int) -> Problem | None:
        question = get_text(row, self.fields["question"], row_no=row_no, source=self.source)
        assert question is not None
        answers = [self.gold(row, row_no)]
        return self.problem(row, row_no, question, answers)

    def gold(self, row: Mapping[str, Any], row_no: int) -> str:
        """The reference answer of a row; its canonical form must exist (else the row could
        never be graded, which is a data error, not a wrong model)."""
        answer = get_answer(row, self.fields["answer"], row_no=row_no, source=self.source)
        if self.answer_type != "code" and self.canonicalize(answer) is None:
            field = self.fields["answer"]
            raise DataError(f"answer {answer!r:.60} has no {self.answer_type} reading", source=self.source,
                            row=row_no, field=field if isinstance(field, str) else field[0])
        return answer

    def problem_id(self, row: Mapping[str, Any], row_no: int) -> str:
        id_field = self.fields.get("id")
        if id_field:
            for name in ([id_field] if isinstance(id_field, str) else id_field):
                value = row.get(name)
                if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
                    return str(value).strip()
        return f"{self.name}-{row_no:05d}"

    def problem(self, row: Mapping[str, Any], row_no: int, question: str, answers: list[str],
                extra_fields: Mapping[str, Any] | None = None, metadata: Mapping[str, Any] | None = None,
                ) -> Problem:
        """Render the prompt and build the Problem; scalar columns go to metadata."""
        fields = {**{k: v for k, v in row.items() if isinstance(k, str)}, "question": question,
                  **(extra_fields or {})}
        meta: dict[str, Any] = {"row": row_no, "question": question}
        for k, v in row.items():
            if isinstance(v, str | int | float | bool) and len(str(v)) <= SCALAR_METADATA_MAX and k not in meta:
                meta[k] = v
        meta.update(metadata or {})
        try:
            prompt = self.prompt.render(fields)
        except ConfigError as exc:
            raise DataError(str(exc), source=self.source, row=row_no, field=exc.field) from None
        return Problem(id=self.problem_id(row, row_no), prompt=prompt, answers=answers, task=self.name,
                       answer_type=self.answer_type, metadata=meta)  # type: ignore[arg-type]


class FileTask(RowsTask):
    """Problems from a local JSONL, CSV or Parquet file (``path=``) with a field mapping."""

    name = "file"
