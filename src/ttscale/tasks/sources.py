"""Reading rows from datasets and files, and turning them into Problems without losing any.

Every loader reads through ``datasets.load_dataset`` — a hub name (``openai/gsm8k``), a
local dataset directory, or local files passed as ``data_files``/``path`` (CSV, Parquet) —
so the code path users run against the hub is the one the tests run against local
fixtures. One exception: a single JSON/JSONL file given as ``path=`` is read line by line
as written (see :func:`_read_json_file` for why), so row numbers are line numbers. Rows then pass through :func:`convert_rows`, which validates each one.

Why the care with bad rows: a benchmark that silently drops a tenth of its problems reports
a wrong accuracy. So a malformed row (missing field, wrong type, empty answer) is either
rejected (``on_error="raise"``: a :class:`DataError` naming the source, row and field) or
skipped with a :class:`DataWarning` that gives the count and every row number, and the
task keeps the list in ``task.skipped``. Row numbers count data rows from 1, so they are
JSONL line numbers (CSV: the line number minus the header).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from ..errors import ConfigError, DataError, MissingDependencyError
from ..types import Problem

__all__ = [
    "DataWarning",
    "OnError",
    "read_rows",
    "convert_rows",
    "get_field",
    "get_text",
    "get_answer",
    "FILE_BUILDERS",
]

OnError = Literal["skip", "raise"]

#: file extension → ``datasets`` packaged builder
FILE_BUILDERS = {".jsonl": "json", ".json": "json", ".ndjson": "json", ".csv": "csv",
                 ".parquet": "parquet", ".pq": "parquet"}


class DataWarning(UserWarning):
    """Rows were skipped; the message lists how many and which."""


def _builder_for(paths: list[str]) -> str:
    kinds = set()
    for p in paths:
        name = p[:-3] if p.endswith(".gz") else p
        ext = Path(name).suffix.lower()
        if ext not in FILE_BUILDERS:
            raise ConfigError("data_files", f"cannot read {p!r}: use .jsonl, .json, .csv or .parquet")
        kinds.add(FILE_BUILDERS[ext])
    if len(kinds) != 1:
        raise ConfigError("data_files", f"mixed file formats in {paths}")
    return kinds.pop()


def _datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise MissingDependencyError("dataset loaders", "data") from None
    datasets.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    return datasets


def read_rows(*, dataset: str | None = None, config: str | None = None, split: str | None = None,
              data_files: str | list[str] | None = None, path: str | os.PathLike[str] | None = None,
              ) -> tuple[list[dict[str, Any]], str]:
    """Rows (plain dicts) and a human-readable name of where they came from.

    ``path``/``data_files``: local files (format from the extension); ``dataset``: a hub
    name or a local dataset directory, with ``config`` and ``split``. Errors that mean "the
    data is not there" become :class:`ConfigError`/:class:`DataError` with the source named.
    """
    if path is not None and data_files is not None:
        raise ConfigError("path", "give either path or data_files, not both")
    files = [str(path)] if path is not None else (
        [data_files] if isinstance(data_files, str) else list(data_files) if data_files else [])
    for f in files:
        if not Path(f).exists():
            raise ConfigError("path", f"no such file: {f}")
    if path is not None and _builder_for(files) == "json":
        return _read_json_file(Path(path)), str(path)
    ds = _datasets()
    try:
        if files:
            source = ", ".join(files)
            data = ds.load_dataset(_builder_for(files), data_files=files, split="train")
        elif dataset:
            source = dataset + (f" ({config})" if config else "") + (f" [{split}]" if split else "")
            data = ds.load_dataset(dataset, config, split=split)
            if split is None:  # a DatasetDict: fine when there is only one split
                if len(data) != 1:
                    raise ConfigError("split", f"{dataset} has splits {', '.join(data)}; choose one with split=")
                data = next(iter(data.values()))
        else:
            raise ConfigError("dataset", "give a dataset name, a local dataset directory, or path=FILE")
    except (ConfigError, MissingDependencyError):
        raise
    except FileNotFoundError as exc:
        raise ConfigError("dataset", f"{dataset or files}: not found ({exc}); offline? pass a local "
                          "copy with path=FILE or dataset=DIR") from None
    except ValueError as exc:  # unknown split / config
        raise ConfigError("split", f"{dataset or files}: {exc}") from None
    except Exception as exc:  # pyarrow/json parse errors, hub errors: name the source
        raise DataError(f"cannot read: {type(exc).__name__}: {exc}", source=", ".join(files) or dataset) from None
    return [dict(r) for r in data], source


def _read_json_file(path: Path) -> list[Any]:
    """A local JSON Lines file (or one JSON array), read as written.

    Why not ``datasets`` here: its JSON builder stores a column of mixed types as JSON
    *text* and decodes every value back, so the string ``"14"`` comes back as the number
    14 — a malformed-row check could then neither trust types nor report the row a user
    sees. A line that is not JSON becomes a row error (reported with its line number)."""
    import gzip
    import json

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:  # type: ignore[operator]
        text = f.read()
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"not valid JSON: {exc}", source=str(path)) from None
        return list(data)
    rows: list[Any] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            rows.append(DataError(f"not valid JSON: {exc.msg}", source=str(path), row=line_no))
    return rows


# --- field access --------------------------------------------------------------------------


def get_field(row: Mapping[str, Any], names: str | Iterable[str], *, row_no: int, source: str,
              required: bool = True) -> tuple[str, Any]:
    """The first of ``names`` present (and not null) in ``row``: (name, value)."""
    cands = [names] if isinstance(names, str) else list(names)
    for name in cands:
        if name in row and row[name] is not None:
            return name, row[name]
    if required:
        raise DataError(f"missing field (expected {' or '.join(repr(c) for c in cands)})",
                        source=source, row=row_no, field=cands[0])
    return cands[0], None


def get_text(row: Mapping[str, Any], names: str | Iterable[str], *, row_no: int, source: str,
             required: bool = True, allow_empty: bool = False) -> str | None:
    """A string field: missing, non-string or empty values are row errors."""
    name, value = get_field(row, names, row_no=row_no, source=source, required=required)
    if value is None:
        return None
    if not isinstance(value, str):
        raise DataError(f"expected a string, got {type(value).__name__} {value!r:.60}", source=source,
                        row=row_no, field=name)
    if not allow_empty and not value.strip():
        raise DataError("empty value", source=source, row=row_no, field=name)
    return value


def get_answer(row: Mapping[str, Any], names: str | Iterable[str], *, row_no: int, source: str) -> str:
    """A gold answer: a non-empty string, or an int/float (AIME answers are ints), as text."""
    name, value = get_field(row, names, row_no=row_no, source=source)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise DataError(f"expected a string or number answer, got {type(value).__name__} {value!r:.60}",
                        source=source, row=row_no, field=name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if not text:
        raise DataError("empty answer", source=source, row=row_no, field=name)
    return text


# --- row conversion --------------------------------------------------------------------------


def convert_rows(rows: Iterable[Mapping[str, Any]], convert: Callable[[Mapping[str, Any], int], Problem | None],
                 *, source: str, on_error: OnError = "skip",
                 skipped: list[DataError] | None = None) -> list[Problem]:
    """Apply ``convert(row, row_no)`` to every row (row_no from 1).

    A :class:`DataError` raised by ``convert`` either propagates (``on_error="raise"``) or
    the row is skipped; skipped rows are appended to ``skipped`` and announced in one
    :class:`DataWarning` listing their numbers. Duplicate problem ids are errors too (they
    would silently merge samples in the store). ``convert`` may return None to drop a row
    on purpose (e.g. a filter), which is not an error.
    """
    if on_error not in ("skip", "raise"):
        raise ConfigError("on_error", f"must be 'skip' or 'raise', got {on_error!r}")
    out: list[Problem] = []
    errors: list[DataError] = []
    seen: dict[str, int] = {}
    for row_no, row in enumerate(rows, start=1):
        try:
            if isinstance(row, DataError):  # a line that did not parse
                raise row
            if not isinstance(row, Mapping):
                raise DataError(f"expected an object, got {type(row).__name__}", source=source, row=row_no)
            problem = convert(row, row_no)
            if problem is None:
                continue
            if problem.id in seen:
                raise DataError(f"duplicate problem id {problem.id!r} (first at row {seen[problem.id]})",
                                source=source, row=row_no, field="id")
        except DataError as exc:
            if on_error == "raise":
                raise
            errors.append(exc)
            continue
        seen[problem.id] = row_no
        out.append(problem)
    if errors:
        if skipped is not None:
            skipped.extend(errors)
        warnings.warn(skip_message(errors, source), DataWarning, stacklevel=2)
    return out


def skip_message(errors: list[DataError], source: str, show: int = 20) -> str:
    """"skipped 3 malformed rows of FILE: rows 2, 5, 9 — row 2: field 'answer': empty answer; ..." """
    rows = [e.row for e in errors]
    head = ", ".join(str(r) for r in rows[:show]) + (f", … ({len(rows) - show} more)" if len(rows) > show else "")
    detail = "; ".join(f"row {e.row}: " + (f"field {e.field!r}: " if e.field else "") + _reason(e)
                       for e in errors[:5])
    return (f"skipped {len(errors)} malformed row{'s' if len(errors) != 1 else ''} of {source}: "
            f"row{'s' if len(rows) != 1 else ''} {head} — {detail}; pass on_error=raise to stop instead")


def _reason(e: DataError) -> str:
    """The message without DataError's "source, row N, field F: " prefix."""
    where = ", ".join(p for p in (e.source, f"row {e.row}" if e.row is not None else None,
                                  f"field {e.field!r}" if e.field else None) if p)
    msg = str(e)
    return msg[len(where) + 2:] if where and msg.startswith(where + ": ") else msg
