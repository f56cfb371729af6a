"""Validated sampling and run configuration.

Configs are frozen and hashable (the sampling config's hash names a sample stream, so a
resumed or replayed run finds exactly the samples drawn under the same settings).
Invalid values raise :class:`~ttscale.errors.ConfigError` naming the parameter.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError

__all__ = ["SamplingConfig", "Budget", "RunConfig", "validate_model", "stable_hash", "derive_seed"]


def validate_model(cls: type[BaseModel], data: dict[str, Any], prefix: str = "") -> Any:
    """Build ``cls`` from ``data``; turn pydantic's error into a ConfigError naming the field."""
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        # a union field (e.g. a number or "auto") reports one error per member, each under a
        # tag such as 'constrained-int' appended to its location: name the field itself and
        # say every form it accepts
        def path(err: Any) -> list[str]:
            return [str(p) for p in err["loc"] if not isinstance(p, str) or p.isidentifier()]
        errors = exc.errors()
        where = path(errors[0])
        msgs = list(dict.fromkeys(e["msg"] for e in errors if path(e) == where))
        raise ConfigError(prefix + (".".join(where) or cls.__name__), " or ".join(msgs)) from None


def stable_hash(obj: Any, length: int = 12) -> str:
    """A short hash of a JSON-serialisable object that is stable across processes."""
    data = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(data).hexdigest()[:length]


def derive_seed(*parts: Any) -> int:
    """A 31-bit seed derived from a run seed and names (problem id, stream, index)."""
    return int(stable_hash([str(p) for p in parts], 8), 16) & 0x7FFFFFFF


class SamplingConfig(BaseModel):
    """How one completion is sampled. ``temperature == 0`` means greedy."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    temperature: float = Field(1.0, ge=0.0, le=5.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    top_k: int | None = Field(None, ge=1)
    max_tokens: int = Field(32, ge=1, le=131072)
    stop: tuple[str, ...] = ()
    logprobs: bool = True
    top_logprobs: int = Field(0, ge=0, le=20)

    @classmethod
    def build(cls, **kwargs: Any) -> SamplingConfig:
        return validate_model(cls, {k: v for k, v in kwargs.items() if v is not None})

    def with_overrides(self, overrides: dict[str, Any]) -> SamplingConfig:
        if not overrides:
            return self
        return validate_model(SamplingConfig, {**self.model_dump(), **overrides})

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def hash(self) -> str:
        return stable_hash(self.model_dump(mode="json"))


class Budget(BaseModel):
    """Limits on compute. ``None`` means unlimited. Per-problem limits cap each strategy run;
    per-run limits stop scheduling new problems once reached."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    max_samples: int | None = Field(None, ge=1)
    max_tokens: int | None = Field(None, ge=1)
    run_max_samples: int | None = Field(None, ge=1)
    run_max_tokens: int | None = Field(None, ge=1)


class RunConfig(BaseModel):
    """Everything that defines a run; saved resolved as ``config.json`` in the run directory."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    task: str = "facts"
    task_options: dict[str, Any] = Field(default_factory=dict)
    limit: int | None = Field(None, ge=1)
    backend: str = "hf"
    model: str | None = None
    backend_options: dict[str, Any] = Field(default_factory=dict)
    n: int = Field(8, ge=1, le=4096)
    strategy: str = "sc"
    strategy_params: dict[str, Any] = Field(default_factory=dict)
    greedy: bool = True
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    budget: Budget = Field(default_factory=Budget)
    seed: int = 0
    concurrency: int = Field(4, ge=1, le=4096)
    out_dir: str | None = None

    @classmethod
    def build(cls, **kwargs: Any) -> RunConfig:
        return validate_model(cls, kwargs)

    def to_json(self) -> dict[str, Any]:
        """JSON form; sampling keeps only the fields set explicitly, so task defaults still
        apply to the others when the config is loaded again (``--resume``)."""
        data = self.model_dump(mode="json")
        data["sampling"] = self.sampling.model_dump(mode="json", exclude_unset=True)
        return data

    def save(self, path: Path, extra: dict[str, Any] | None = None) -> None:
        data = {"config": self.to_json(), **(extra or {})}
        path.write_text(json.dumps(data, indent=2, sort_keys=True))
