"""Solve–detect–verify: stop a long solution as soon as it has (verifiably) reached its answer.

The solution is drawn in chunks of ``chunk_tokens`` (each a continuation prompt: the problem
plus the text so far), which is how a policy that never touches the model can watch a
stream. After each chunk the rule *detects* whether the text states an answer — and, when a
hesitation marker ("wait", "alternatively", "hmm") follows it, treats that as a pause too.
Then it *verifies cheaply*: ``probes`` short independent draws of the answer (the problem
prompt alone, ``probe_tokens`` tokens). If at least ``agree`` of them give the detected
answer, it stops early. Otherwise it keeps solving; once the solution is finished and the
probes still disagree it *escalates*: ``escalate`` more probes, and the answer is the
majority over the solution's answer and every probe.
"""

from __future__ import annotations

import math

from pydantic import Field, model_validator

from ..types import Sample
from .base import Action, Done, Draw, Strategy, StrategyParams, View, vote
from .refine import continue_prompt
from .signals import HEDGES

__all__ = ["SolveDetectVerify"]


class SDVParams(StrategyParams):
    chunk_tokens: int = Field(16, ge=1, le=65536, description="tokens per solution chunk")
    max_chunks: int = Field(8, ge=1, le=1024, description="solution chunks at most")
    probes: int = Field(3, ge=1, le=64, description="cheap verification draws per detected answer")
    probe_tokens: int | None = Field(None, ge=1, le=65536, description="tokens per probe (task default if unset)")
    agree: float = Field(0.67, gt=0.0, le=1.0, description="fraction of probes that must give the detected answer")
    escalate: int = Field(4, ge=0, le=256, description="extra probes when the finished solution is still disputed")

    @model_validator(mode="after")
    def _probes_can_agree(self) -> SDVParams:
        if math.ceil(self.agree * self.probes) > self.probes:
            raise ValueError("agree * probes exceeds probes")
        return self


class SolveDetectVerify(Strategy):
    """Solve-detect-verify: stream a solution in chunks; at a detected answer, stop if cheap probes agree."""

    name = "sdv"
    kind = "sequential"
    Params = SDVParams

    def _probe(self, stream: str, n: int) -> Draw:
        over = {} if self.params.probe_tokens is None else {"max_tokens": self.params.probe_tokens}
        return Draw(n, overrides=over, stream=stream)

    def _agrees(self, view: View, probes: list[Sample], answer: str) -> bool:
        same = sum(1 for s in probes if s.answer is not None and view.canonical(s.answer) == answer)
        return same >= math.ceil(self.params.agree * len(probes))

    @staticmethod
    def _detect(view: View, text: str, chunk: str) -> str | None:
        """The answer the text states so far; when the newest chunk hesitates ("wait", ...)
        and the whole text yields nothing, the answer stated just before the hesitation."""
        raw = view.extract(text)
        if raw is None:
            m = HEDGES.search(chunk)
            if m is not None:
                raw = view.extract(text[: len(text) - len(chunk) + m.start()])
        return view.canonical(raw) if raw is not None else None

    def _walk(self, view: View) -> tuple[Action | None, Done | None]:
        """Replay the protocol over the streams drawn so far; return the next Draw or the Done."""
        p = self.params
        text = ""
        checked: set[str] = set()
        finished = False
        answer: str | None = None
        for k in range(p.max_chunks):
            chunk = view.stream(f"sdv-solve{k}")
            if not chunk:
                prompt = view.prompt if k == 0 else continue_prompt(view.prompt, text)
                return Draw(1, overrides={"max_tokens": p.chunk_tokens}, prompt=None if k == 0 else prompt,
                            stream=f"sdv-solve{k}"), None
            text += chunk[0].text
            finished = chunk[0].finish_reason != "length"
            answer = self._detect(view, text, chunk[0].text)
            if answer is not None and answer not in checked:
                checked.add(answer)
                stream = f"sdv-verify{len(checked) - 1}"
                probes = view.stream(stream)
                if not probes:
                    return self._probe(stream, p.probes), None
                if self._agrees(view, probes, answer):
                    same = sum(1 for s in probes if s.answer is not None and view.canonical(s.answer) == answer)
                    return None, Done(answer, (same + 1) / (len(probes) + 1), {answer: float(same + 1)},
                                      chunk[0].index, text)
            if finished:
                break
        # finished (or out of chunks) without agreement: escalate, then majority of everything
        esc = view.stream("sdv-escalate")
        if p.escalate and not esc:
            return self._probe("sdv-escalate", p.escalate), None
        return None, self._final(view, text, answer)

    def _final(self, view: View, text: str, answer: str | None) -> Done:
        probes = [s for s in view.samples if s.stream.startswith("sdv-verify") or s.stream == "sdv-escalate"]
        d = vote(view, probes)
        votes = dict(d.votes)
        if answer is not None:
            votes[answer] = votes.get(answer, 0.0) + 1.0
        if not votes:
            return Done(None, 0.0, {}, None, text)
        best = max(votes, key=lambda a: votes[a])  # ties: the solution's answer was added last…
        if answer is not None and votes[answer] == votes[best]:
            best = answer  # …so prefer it explicitly on a tie
        return Done(best, votes[best] / sum(votes.values()), votes, None, text if best == answer else d.text)

    def decide(self, view: View) -> Action:
        action, done = self._walk(view)
        return action if action is not None else done  # type: ignore[return-value]

    def finalize(self, view: View) -> Done:
        """Out of budget: the solution's answer so far, checked against any probes drawn."""
        text = "".join(view.stream(f"sdv-solve{k}")[0].text for k in range(self.params.max_chunks)
                       if view.stream(f"sdv-solve{k}"))
        raw = view.extract(text) if text else None
        return self._final(view, text, view.canonical(raw) if raw is not None else None)
