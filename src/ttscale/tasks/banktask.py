"""`bank`: the task of an imported sample bank — its stored problems, graded by answer type.

An imported bank (``ttscale bank import``) has gold answers but no task code; this task
reads its problems back from the bank and extracts/compares answers by the ``--type``
given at import (math, choice, text, code), so every strategy, ``ttscale sweep`` and the
reports work on it like on a bank drawn by ``ttscale run``.
"""

from __future__ import annotations

from typing import Any

from ..types import Problem
from .base import AnswerTask

__all__ = ["BankTask"]


class BankTask(AnswerTask):
    """Problems of the bank ``bank`` (a name or a run directory)."""

    name = "bank"

    def __init__(self, bank: str, answer_type: str = "math", **options: Any) -> None:
        super().__init__(answer_type=answer_type, **options)
        self.bank = bank

    def load(self) -> list[Problem]:
        from ..banks import resolve_bank
        from ..store import Store

        with Store(resolve_bank(self.bank), readonly=True) as store:
            return store.problems()
