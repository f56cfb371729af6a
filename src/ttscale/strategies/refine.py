"""Sequential strategies that revise one solution instead of sampling many.

- ``refine`` (review–refine–repeat): draw n candidates, score them with a verifier, then for
  each round ask the model to revise the best one given the verifier's feedback; a revision
  replaces the best only if its score rises (by more than ``min_gain``). Confidence is the
  best's score.
- ``deepen`` (iterative deepening): extend one solution in growing token budgets, inserting
  a self-reflection cue ("Wait, let me check this.") at each boundary; stop when two
  consecutive stages give the same answer.

Both are stateless policies: where they are is read off the streams already drawn
(``refine0``, ``refine1``, ... / ``deepen0``, ...), so replay reproduces a live run.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from ..types import Prompt, Sample, prompt_text
from .aggregate import with_user_text
from .base import Action, Done, Draw, Strategy, StrategyParams, View
from .select import best_of
from .signals import check_scorer, check_task_verifiers, pending_verify, scores, verifier_parts

__all__ = ["Refine", "Deepen", "revise_prompt", "continue_prompt"]


def revise_prompt(question: Prompt, best: Sample, score: float, feedback: str, limit: int) -> Prompt:
    """The original prompt preceded by the attempt and its review, so a base model answers in
    the task's format and a chat model sees the feedback first."""
    attempt = best.text.strip()[:limit]
    note = f" Reviewer feedback: {feedback.strip()[:limit]}" if feedback.strip() else ""
    header = (f"A previous attempt at this question answered:\n{attempt}\n"
              f"A reviewer scored that attempt {score:.2f} out of 1.{note}\n"
              "Write an improved, correct response.\n\n")
    if isinstance(question, str):
        return header + question
    return with_user_text(question, header.rstrip(), prepend=True)


def continue_prompt(question: Prompt, partial: str, cue: str = "") -> Prompt:
    """A prompt that makes the model continue ``partial`` (optionally after a cue): text is
    appended to a completion prompt; a chat gets the partial as an assistant turn and the cue
    (or "Continue.") as the next user turn."""
    if isinstance(question, str):
        return question + partial + (f" {cue}" if cue else "")
    return [*question, {"role": "assistant", "content": partial},
            {"role": "user", "content": cue or "Continue exactly where you stopped."}]


class RefineParams(StrategyParams):
    n: int = Field(4, ge=1, le=256, description="initial candidates")
    rounds: int = Field(2, ge=0, le=32, description="revision rounds")
    verifier: str = Field("judge", description="scorer of candidates and revisions (a verifier name "
                          "gives feedback; logprob/self_certainty/brevity also work)")
    min_gain: float = Field(0.0, ge=0.0, le=1.0, description="a revision must beat the best by more than this")
    target: float = Field(1.0, gt=0.0, le=1.0, description="stop once the best scores at least this")
    max_chars: int = Field(2000, ge=50, le=100_000, description="attempt/feedback clipped to this many characters")

    @field_validator("verifier")
    @classmethod
    def _known(cls, v: str) -> str:
        return check_scorer(v, "refine.verifier")


class Refine(Strategy):
    """Verifier-guided refinement: revise the best candidate with feedback; keep a revision only if its score rises."""

    name = "refine"
    kind = "sequential"
    Params = RefineParams

    @property
    def needs_verifier(self) -> bool:  # type: ignore[override]
        return bool(verifier_parts(self.params.verifier))

    def check_task(self, task: Any) -> None:
        check_task_verifiers(self.params.verifier, task, "refine.verifier")

    def _walk(self, view: View) -> tuple[Sample | None, float, Action | None]:
        """Replay the rounds so far: (best, its score, the next action or None when done)."""
        p = self.params
        cands = view.stream()[: p.n]
        if len(cands) < p.n:
            return None, 0.0, Draw(p.n - len(cands))
        pending = pending_verify(view, cands, p.verifier)
        if pending is not None:
            return None, 0.0, pending
        pick = best_of(view, cands, p.verifier)
        best = next(s for s in cands if s.index == pick.sample_index)
        best_score = scores(view, cands, p.verifier)[cands.index(best)]
        for r in range(p.rounds):
            if best_score >= p.target:
                return best, best_score, None
            stream = f"refine{r}"
            rev = view.stream(stream)
            if not rev:
                v = view.verdict(best, p.verifier)
                feedback = (v.raw or v.label or "") if v is not None else ""
                return best, best_score, Draw(1, prompt=revise_prompt(view.prompt, best, best_score,
                                                                      feedback, p.max_chars), stream=stream)
            pending = pending_verify(view, rev[:1], p.verifier)
            if pending is not None:
                return best, best_score, pending
            # a revision's score on the same scale as the candidates' (signals are filled per pool)
            pool = [*cands, rev[0]]
            s_rev = scores(view, pool, p.verifier)[-1]
            if rev[0].answer is not None and s_rev > best_score + p.min_gain:
                best, best_score = rev[0], s_rev
        return best, best_score, None

    def decide(self, view: View) -> Action:
        _, _, action = self._walk(view)
        return action if action is not None else self.finalize(view)

    def finalize(self, view: View) -> Done:
        best, score, _ = self._walk(view)
        if best is None:  # budget ran out before the candidates were scored
            cands = view.stream()[: self.params.n]
            return best_of(view, cands, self.params.verifier)
        answer = None if best.answer is None else view.canonical(best.answer)
        return Done(answer, min(1.0, max(0.0, score)), {answer: score} if answer else {}, best.index, best.text)


class DeepenParams(StrategyParams):
    start_tokens: int = Field(16, ge=1, le=65536, description="token budget of the first stage")
    growth: float = Field(2.0, ge=1.0, le=16.0, description="each stage's budget is the last one's times this")
    rounds: int = Field(3, ge=1, le=16, description="stages at most (the first included)")
    cue: str = Field("Wait, let me check this.", min_length=1, description="reflection cue at each boundary")


class Deepen(Strategy):
    """Iterative deepening: extend one solution in growing budgets with a reflection cue; stop when the answer is stable."""

    name = "deepen"
    kind = "sequential"
    Params = DeepenParams

    def _stages(self, view: View) -> list[Sample]:
        out = []
        for k in range(self.params.rounds):
            s = view.stream(f"deepen{k}")
            if not s:
                break
            out.append(s[0])
        return out

    def _answers(self, view: View, stages: list[Sample]) -> list[str | None]:
        """Each stage's answer: what its own text says, else the previous stage's (a stage
        that only re-checks without restating the answer keeps it)."""
        out: list[str | None] = []
        for s in stages:
            a = view.canonical(s.answer) if s.answer is not None else (out[-1] if out else None)
            out.append(a)
        return out

    def decide(self, view: View) -> Action:
        p = self.params
        stages = self._stages(view)
        answers = self._answers(view, stages)
        stable = len(answers) >= 2 and answers[-1] == answers[-2]
        if len(stages) >= p.rounds or stable:
            return self.finalize(view)
        k = len(stages)
        budget = int(round(p.start_tokens * p.growth ** k))
        if k == 0:
            return Draw(1, overrides={"max_tokens": budget}, stream="deepen0")
        partial = "".join(s.text for s in stages)
        return Draw(1, overrides={"max_tokens": budget}, prompt=continue_prompt(view.prompt, partial, p.cue),
                    stream=f"deepen{k}")

    def finalize(self, view: View) -> Done:
        stages = self._stages(view)
        answers = self._answers(view, stages)
        if not stages:
            return Done(answer=None)
        final = answers[-1]
        have = [a for a in answers if a is not None]
        conf = sum(1 for a in have if a == final) / len(have) if final is not None and have else 0.0
        text = prompt_text("".join(s.text for s in stages))
        return Done(final, conf, {final: float(len(have))} if final else {}, stages[-1].index, text)
