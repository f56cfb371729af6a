"""Named plug-ins: backends, tasks, verifiers and strategies.

Each kind is a :class:`Registry`. Built-ins are registered by the ``__init__`` of their
subpackage (``ttscale.strategies`` etc., imported on first lookup) *lazily*, as
``"module:attr"`` strings, so ``import ttscale`` never imports torch, FastAPI or an optional extra; third-party
packages add plug-ins through the ``ttscale.plugins`` entry-point group (each entry point
is a callable run once, which calls ``register`` itself).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from .errors import UnknownNameError

__all__ = ["Registry", "backends", "tasks", "verifiers", "strategies", "load_plugins"]

T = TypeVar("T")


class Registry(Generic[T]):
    """A name → factory map with lazy ``"module:attr"`` targets."""

    def __init__(self, kind: str, home: str) -> None:
        self.kind = kind
        self.home = home  # the subpackage whose __init__ registers the built-ins
        self._items: dict[str, Callable[..., T] | str] = {}
        self._home_loaded = False

    def _load(self) -> None:
        if not self._home_loaded:
            self._home_loaded = True
            importlib.import_module(self.home)
            load_plugins()

    def register(self, name: str, target: Callable[..., T] | str | None = None) -> Any:
        """Register ``target`` under ``name``; usable as a decorator when target is omitted."""
        if target is None:
            def deco(obj: Callable[..., T]) -> Callable[..., T]:
                self._items[name] = obj
                return obj
            return deco
        self._items[name] = target
        return target

    def get(self, name: str) -> Callable[..., T]:
        self._load()
        if name not in self._items:
            raise UnknownNameError(self.kind, name, self._items)
        target = self._items[name]
        if isinstance(target, str):
            module, _, attr = target.partition(":")
            target = getattr(importlib.import_module(module), attr)
            self._items[name] = target
        return target

    def create(self, name: str, /, **kwargs: Any) -> T:
        return self.get(name)(**kwargs)

    def names(self) -> list[str]:
        self._load()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


backends: Registry[Any] = Registry("backend", "ttscale.backends")
tasks: Registry[Any] = Registry("task", "ttscale.tasks")
verifiers: Registry[Any] = Registry("verifier", "ttscale.verify")
strategies: Registry[Any] = Registry("strategy", "ttscale.strategies")

_plugins_loaded = False


def load_plugins() -> None:
    """Run every ``ttscale.plugins`` entry point once."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in entry_points(group="ttscale.plugins"):
        ep.load()()


