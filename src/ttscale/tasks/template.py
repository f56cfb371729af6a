"""Prompt templates: how a problem's fields become what the backend sees.

A template is chat (system + user messages, few-shot examples as user/assistant turns) or
completion (one text: instruction, shots, then the query — what a base model like the
embedded Gemma 270M continues best). Placeholders are ``{field}`` for identifier-like names
not glued to a LaTeX command or group, so ``\\boxed{}``, ``\\frac{a}{b}`` or ``x^{n}`` in a
template are left alone;
a placeholder the problem does not provide is a :class:`ConfigError`, not a silent blank.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..config import validate_model
from ..errors import ConfigError
from ..types import Message, Prompt

__all__ = ["PromptTemplate", "fill", "DEFAULT_TEMPLATES"]

# a slot is {name} not glued to a LaTeX command or group: "\\frac{a}{b}", "x^{n}", "\\text{cm}" stay
_SLOT = re.compile(r"(?<![\w}^_\\])\{([A-Za-z_][A-Za-z0-9_]*)\}")


def fill(template: str, fields: Mapping[str, Any], *, where: str = "template") -> str:
    """Replace ``{name}`` slots with ``fields[name]``; unknown names are errors."""
    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in fields:
            raise ConfigError(where, f"placeholder {{{name}}} has no value; available: {', '.join(sorted(fields))}")
        return str(fields[name])
    return _SLOT.sub(sub, template)


class PromptTemplate(BaseModel):
    """``style``: chat or completion. ``shots``: few-shot examples, each a mapping with the
    template's fields plus ``answer`` (rendered with ``answer_template``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    style: Literal["chat", "completion"] = "chat"
    system: str | None = None
    instruction: str = Field("", description="completion style: text before the shots")
    template: str = "{question}"
    answer_template: str = "{answer}"
    shots: tuple[dict[str, Any], ...] = ()
    separator: str = Field("\n\n", description="completion style: between shots and the query")

    @classmethod
    def build(cls, spec: Mapping[str, Any] | PromptTemplate | None, **defaults: Any) -> PromptTemplate:
        if isinstance(spec, PromptTemplate):
            return spec
        return validate_model(cls, {**defaults, **(spec or {})}, prefix="prompt.")

    def render(self, fields: Mapping[str, Any]) -> Prompt:
        query = fill(self.template, fields, where="prompt.template")
        shots = [(fill(self.template, s, where=f"prompt.shots[{i}]"),
                  fill(self.answer_template, s, where=f"prompt.shots[{i}]"))
                 for i, s in enumerate(self.shots)]
        if self.style == "completion":
            parts = [q + a for q, a in shots] + [query]
            return self.instruction + self.separator.join(parts)
        messages: list[Message] = []
        if self.system:
            messages.append({"role": "system", "content": self.system})
        for q, a in shots:
            messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        messages.append({"role": "user", "content": query})
        return messages


#: zero-shot chat prompts per answer type, used when a task file or loader gives none
DEFAULT_TEMPLATES: dict[str, dict[str, Any]] = {
    "math": {"template": "Solve the following problem. Reason step by step and put the final answer "
                         "in \\boxed{}.\n\n{question}"},
    "choice": {"template": "Answer the following multiple-choice question. Reason step by step, then "
                           "finish with \"The answer is (X)\" where X is the letter of the correct "
                           "option.\n\n{question}"},
    "text": {"template": "{question}"},
    "code": {"template": "{question}"},
}
