"""ttscale — efficient test-time scaling of LLM reasoning.

Sample several solutions, extract and verify their answers, aggregate them, stop as soon
as the answer is decided, and account for every token. The public API is listed in
``__all__`` (a test pins it); everything else is internal.
"""

from __future__ import annotations

from .config import Budget, RunConfig, SamplingConfig
from .engine import Engine, LiveSource
from .errors import (
    BackendError,
    ConfigError,
    DataError,
    MissingDependencyError,
    StoreError,
    TTScaleError,
    UnknownNameError,
    UserError,
    VerifierError,
)
from .registry import backends, strategies, tasks, verifiers
from .runner import RunResult, make_backend, make_strategy, make_task, run, run_async, solve
from .store import Store
from .strategies.base import Done, Draw, Strategy, Verify, View
from .tasks.base import Task
from .types import Decision, Generation, Problem, Sample, Usage, Verdict

__version__ = "0.1.0"

__all__ = [
    "__version__",
    # entry points
    "run", "run_async", "solve", "RunResult", "make_backend", "make_strategy", "make_task",
    # data model and config
    "Problem", "Sample", "Generation", "Verdict", "Decision", "Usage",
    "SamplingConfig", "RunConfig", "Budget",
    # extension points
    "Strategy", "Draw", "Verify", "Done", "View", "Task", "Engine", "LiveSource", "Store",
    "backends", "tasks", "strategies", "verifiers",
    # errors
    "TTScaleError", "UserError", "ConfigError", "UnknownNameError", "DataError", "StoreError",
    "BackendError", "MissingDependencyError", "VerifierError",
]
