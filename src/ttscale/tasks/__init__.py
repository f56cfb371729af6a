"""Tasks: problems + prompt template + answer type + verifier."""

from ..registry import tasks

tasks.register("facts", "ttscale.tasks.facts:FactsTask")
