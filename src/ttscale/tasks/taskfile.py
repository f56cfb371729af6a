"""YAML/TOML task files: define a task without writing Python.

``ttscale run --task path/to/task.yaml`` (or ``make_task("path/to/task.yaml")``) reads::

    name: capitals                 # optional; default: the file's stem
    answer_type: text              # math | choice | text | code (default: the loader's; file: math)
    loader: file                   # optional: a built-in row loader (gsm8k, math500, aime2024,
                                   #   aime2025, gpqa, mbpp) to reuse its parsing
    source:                        # where rows come from (paths relative to this file)
      path: capitals.jsonl         #   or data_files: [...], or dataset: NAME, config:, split:
    problems:                      # ...or the rows inline instead of `source`
      - {question: France, answer: Paris}
    fields: {question: country, answer: capital}   # logical name -> column
    prompt:
      style: completion            # chat | completion
      system: null
      template: "Q: What is the capital of {question}?\\nA:"
      answer_template: " {answer}"
      shots: [{question: Italy, answer: Rome}]
    sampling: {max_tokens: 8, stop: ["\\n"]}
    on_error: skip                 # skip | raise

Unknown keys are errors naming the key, so a typo never silently changes a benchmark.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..config import validate_model
from ..errors import ConfigError
from .generic import FileTask, RowsTask
from .sources import FILE_BUILDERS

__all__ = ["TaskFile", "load_task_file", "is_task_file", "is_data_file", "TASK_FILE_SUFFIXES"]

TASK_FILE_SUFFIXES = (".yaml", ".yml", ".toml")


class SourceSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    path: str | None = None
    data_files: str | list[str] | None = None
    dataset: str | None = None
    config: str | None = None
    split: str | None = None


class TaskFile(BaseModel):
    """The validated content of a task file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str | None = None
    answer_type: Literal["math", "choice", "text", "code"] | None = None
    loader: str = "file"
    source: SourceSpec | None = None
    problems: list[dict[str, Any]] | None = None
    fields: dict[str, str] = Field(default_factory=dict)
    prompt: dict[str, Any] = Field(default_factory=dict)
    sampling: dict[str, Any] = Field(default_factory=dict)
    on_error: Literal["skip", "raise"] = "skip"
    options: dict[str, Any] = Field(default_factory=dict, description="extra loader options (e.g. gpqa seed)")


def is_task_file(name: str) -> bool:
    return name.lower().endswith(TASK_FILE_SUFFIXES)


def is_data_file(name: str) -> bool:
    """A JSONL/JSON/CSV/Parquet path (``--task problems.jsonl``)."""
    lower = name.lower()
    lower = lower[:-3] if lower.endswith(".gz") else lower
    return Path(lower).suffix in FILE_BUILDERS


def _parse(path: Path) -> dict[str, Any]:
    text = path.read_text()
    try:
        if path.suffix.lower() == ".toml":
            data: Any = tomllib.loads(text)
        else:
            import yaml
            data = yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise ConfigError("task", f"{path}: not valid {path.suffix[1:].upper()}: {exc}") from None
    except Exception as exc:  # yaml.YAMLError and friends
        raise ConfigError("task", f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError("task", f"{path}: expected a mapping at the top level")
    return data


def load_task_file(path: str | Path, **overrides: Any) -> RowsTask:
    """Build the task a file describes; ``overrides`` are task options given on the command
    line (``--task-option``), which win over the file."""
    path = Path(path)
    if not path.exists():
        raise ConfigError("task", f"task file {path} not found")
    spec: TaskFile = validate_model(TaskFile, _parse(path), prefix=f"{path.name}: ")
    if spec.source is None and spec.problems is None:
        raise ConfigError(f"{path.name}: source", "give `source` (path/data_files/dataset) or inline `problems`")
    if spec.source is not None and spec.problems is not None:
        raise ConfigError(f"{path.name}: source", "give `source` or `problems`, not both")
    base = path.parent

    def rel(p: str) -> str:
        q = Path(p).expanduser()
        return str(q if q.is_absolute() else base / q)

    kwargs: dict[str, Any] = {"name": spec.name or path.stem, "answer_type": spec.answer_type,
                              "fields": spec.fields or None, "on_error": spec.on_error, "sampling": spec.sampling,
                              **spec.options}
    if spec.prompt:
        kwargs["prompt"] = spec.prompt
    if spec.problems is not None:
        kwargs.update(rows=spec.problems, source=str(path))
    else:
        src = spec.source
        assert src is not None
        if src.path:
            kwargs["path"] = rel(src.path)
        if src.data_files:
            files = [src.data_files] if isinstance(src.data_files, str) else src.data_files
            kwargs["data_files"] = [rel(f) for f in files]
        if src.dataset:
            local = base / src.dataset
            kwargs["dataset"] = str(local) if local.exists() else src.dataset
        if src.config:
            kwargs["config"] = src.config
        if src.split:
            kwargs["split"] = src.split
    kwargs.update(overrides)
    cls = _loader_class(spec.loader, path)
    return cls(**kwargs)


def _loader_class(loader: str, path: Path) -> type[RowsTask]:
    if loader == "file":
        return FileTask
    from ..registry import tasks

    try:
        cls = tasks.get(loader)
    except KeyError:
        raise ConfigError(f"{path.name}: loader", f"unknown loader {loader!r}") from None
    if not (isinstance(cls, type) and issubclass(cls, RowsTask)):
        raise ConfigError(f"{path.name}: loader", f"{loader!r} is not a row loader; use file, gsm8k, math500, "
                          "aime2024, aime2025, gpqa or mbpp")
    return cls
