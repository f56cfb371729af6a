"""The cost model: what a decision spent, in every unit a curve's x-axis may use.

A decision's compute is first counted as :class:`TokenCounts` — fresh prompt tokens (the
prefill actually computed), cached prompt tokens (re-sent but served from a prefix cache),
completion tokens (decoded), verifier tokens and wall time — and then priced by a
:class:`CostModel`:

- FLOPs ≈ 2·params·tokens, split into prefill (fresh prompt tokens) and decode
  (completion tokens); cached prompt tokens cost no FLOPs;
- money from an editable per-model price table ($ per 1M input / cached input / output
  tokens), loaded from JSON or TOML (``--prices FILE``);
- prefill-token-equivalents (PTE): fresh prompt tokens + ``decode_ratio`` × completion
  tokens (+ ``cached_weight`` × cached tokens), so that long contexts and expensive decode
  steps are not hidden behind a sample count.

Why not "number of samples": two strategies with the same sample count can differ several
times in tokens (adaptive rules stop long generations early; verifiers add their own
prompts), and only tokens, FLOPs, time and money are what users pay.

A price-table file looks like (TOML; JSON is the same structure)::

    [models."gemma*270m*"]       # fnmatch pattern on the model id, case-insensitive
    params = 2.68e8              # parameters, for FLOPs
    input = 0.0                  # $ per 1M fresh prompt tokens
    cached_input = 0.0           # $ per 1M cached prompt tokens
    output = 0.0                 # $ per 1M completion tokens
    decode_ratio = 1.0           # cost of one decoded token in prefill tokens
"""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ConfigError, DataError

__all__ = [
    "TokenCounts",
    "ModelPrice",
    "PriceTable",
    "CostModel",
    "AXES",
    "DEFAULT_PRICES",
    "params_from_name",
    "load_price_table",
]

#: x-axes a curve may use → (column title, unit)
AXES: dict[str, tuple[str, str]] = {
    "samples": ("samples / problem", "samples"),
    "tokens": ("generated tokens / problem", "tokens"),
    "total_tokens": ("prompt + generated tokens / problem", "tokens"),
    "flops": ("FLOPs / problem", "FLOPs"),
    "cost": ("cost / problem", "$"),
    "pte": ("prefill-token-equivalents / problem", "tokens"),
    "wall_time": ("wall time / problem", "s"),
}


@dataclass(frozen=True)
class TokenCounts:
    """What one decision spent (or its expectation: fields may be fractional).
    ``completion`` includes the verifiers' completion tokens; ``prompt`` the fresh prompt
    tokens of samples and verifier calls."""

    samples: float = 0.0
    prompt: float = 0.0
    cached: float = 0.0
    completion: float = 0.0
    wall_time: float = 0.0

    def __add__(self, other: TokenCounts) -> TokenCounts:
        return TokenCounts(self.samples + other.samples, self.prompt + other.prompt,
                           self.cached + other.cached, self.completion + other.completion,
                           self.wall_time + other.wall_time)

    def scaled(self, factor: float) -> TokenCounts:
        return TokenCounts(self.samples * factor, self.prompt * factor, self.cached * factor,
                           self.completion * factor, self.wall_time * factor)


class ModelPrice(BaseModel):
    """One price-table entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    params: float | None = Field(None, gt=0, description="parameter count (None: parsed from the model id)")
    input: float = Field(0.0, ge=0, description="$ per 1M fresh prompt tokens")
    cached_input: float = Field(0.0, ge=0, description="$ per 1M cached prompt tokens")
    output: float = Field(0.0, ge=0, description="$ per 1M completion tokens")
    decode_ratio: float = Field(1.0, gt=0, description="cost of a decoded token in prefill tokens")
    cached_weight: float = Field(0.0, ge=0, description="cost of a cached prompt token in prefill tokens")


class PriceTable(BaseModel):
    """Model-id pattern → price; the first matching pattern wins, ``*`` is the fallback."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    models: dict[str, ModelPrice] = Field(default_factory=dict)

    def lookup(self, model: str) -> tuple[str, ModelPrice]:
        low = (model or "").lower()
        for pattern, price in self.models.items():
            if pattern != "*" and fnmatch.fnmatch(low, pattern.lower()):
                return pattern, price
        return "*", self.models.get("*", ModelPrice())


#: built-in table: the embedded Gemma 3 270M is free (it runs here); unknown models cost
#: $0 and get their parameter count from their name ("Qwen2.5-7B" → 7e9)
DEFAULT_PRICES = PriceTable(models={
    "*gemma*3*270m*": ModelPrice(params=2.68e8),
    "*": ModelPrice(),
})


_SIZE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*([bm])(?![a-z])", re.IGNORECASE)


def params_from_name(model: str) -> float | None:
    """Parameter count from a model id such as ``Llama-3.1-70B`` or ``gemma-3-270m``."""
    found = _SIZE.findall((model or "").replace("_", "-"))
    if not found:
        return None
    value, unit = found[-1]
    return float(value) * (1e9 if unit.lower() == "b" else 1e6)


def load_price_table(path: str | Path | None) -> PriceTable:
    """The default table, overlaid with ``path`` (JSON or TOML; file entries come first)."""
    if path is None:
        return DEFAULT_PRICES
    p = Path(path)
    if not p.exists():
        raise ConfigError("prices", f"price table {p} not found")
    try:
        raw: Any = tomllib.loads(p.read_text()) if p.suffix.lower() == ".toml" else json.loads(p.read_text())
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"not valid {'TOML' if p.suffix.lower() == '.toml' else 'JSON'}: {exc}",
                        source=str(p)) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("models"), dict):
        raise DataError("expected a table 'models' mapping model patterns to prices", source=str(p),
                        field="models")
    try:
        table = PriceTable.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise DataError(err["msg"], source=str(p), field=".".join(str(x) for x in err["loc"])) from None
    return PriceTable(models={**table.models, **{k: v for k, v in DEFAULT_PRICES.models.items()
                                                 if k not in table.models}})


@dataclass(frozen=True)
class CostModel:
    """Prices :class:`TokenCounts` for one model (see the module docstring)."""

    model: str = ""
    price: ModelPrice = ModelPrice()
    params: float | None = None

    @classmethod
    def for_model(cls, model: str, table: PriceTable | None = None, *,
                  decode_ratio: float | None = None) -> CostModel:
        _, price = (table or DEFAULT_PRICES).lookup(model)
        if decode_ratio is not None:
            if decode_ratio <= 0:
                raise ConfigError("decode_ratio", f"must be > 0 (got {decode_ratio})")
            price = price.model_copy(update={"decode_ratio": decode_ratio})
        return cls(model=model, price=price, params=price.params or params_from_name(model))

    def flops(self, t: TokenCounts) -> tuple[float, float]:
        """(prefill, decode) FLOPs ≈ 2·params·tokens; NaN when the size is unknown."""
        if self.params is None:
            return float("nan"), float("nan")
        return 2.0 * self.params * t.prompt, 2.0 * self.params * t.completion

    def money(self, t: TokenCounts) -> float:
        p = self.price
        return (t.prompt * p.input + t.cached * p.cached_input + t.completion * p.output) / 1e6

    def pte(self, t: TokenCounts) -> float:
        p = self.price
        return t.prompt + p.cached_weight * t.cached + p.decode_ratio * t.completion

    def axes(self, t: TokenCounts) -> dict[str, float]:
        """Every x-axis value of ``t`` (keys of :data:`AXES`), plus the FLOPs split."""
        pre, dec = self.flops(t)
        return {"samples": t.samples, "tokens": t.completion,
                "total_tokens": t.prompt + t.cached + t.completion, "flops": pre + dec,
                "flops_prefill": pre, "flops_decode": dec, "cost": self.money(t), "pte": self.pte(t),
                "wall_time": t.wall_time, "prompt_tokens": t.prompt, "cached_tokens": t.cached}

    def describe(self) -> dict[str, Any]:
        return {"model": self.model, "params": self.params, **self.price.model_dump()}
