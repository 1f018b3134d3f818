"""Where tasks, metrics, backends and strategies are found by name.

Built-ins are listed here as ``"module:attribute"`` strings, imported only when used, so
``divbench list`` never imports torch. Plugins add names through the entry-point groups
``divbench.tasks``, ``divbench.metrics``, ``divbench.backends`` and ``divbench.strategies``; a plugin
that fails to load is a warning, never a crash.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from functools import cache
from importlib.metadata import entry_points
from typing import Any, Literal

from divbench.metrics.catalog import METRICS
from divbench.models.catalog import BACKENDS
from divbench.strategies.catalog import STRATEGIES
from divbench.tasks.catalog import TASKS

Kind = Literal["tasks", "metrics", "backends", "strategies"]
KINDS: tuple[Kind, ...] = ("tasks", "metrics", "backends", "strategies")

_BUILTIN: dict[Kind, dict[str, str]] = {
    "tasks": dict(TASKS),
    "metrics": dict(METRICS),
    "backends": dict(BACKENDS),
    "strategies": dict(STRATEGIES),
}


class UnknownNameError(KeyError):
    """An unknown task/metric/backend/strategy name; the message lists the known ones."""

    def __str__(self) -> str:
        return str(self.args[0])


class PluginWarning(UserWarning):
    """A plugin entry point failed to load."""


def _one(kind: Kind) -> str:
    """The singular of a kind: "task", "metric", "backend", "strategy"."""
    return "strategy" if kind == "strategies" else kind[:-1]


def register(kind: Kind, name: str, target: str) -> None:
    """Add or replace a built-in (``target`` is ``"module:attribute"``). Mainly for tests."""
    _BUILTIN[kind][name] = target
    _table.cache_clear()


@cache
def _table(kind: Kind) -> dict[str, Callable[[], Any]]:
    table: dict[str, Callable[[], Any]] = {name: _lazy(target) for name, target in _BUILTIN[kind].items()}
    for ep in entry_points(group=f"divbench.{kind}"):
        if ep.name in table:
            warnings.warn(f"plugin {ep.value!r} tries to replace built-in {_one(kind)} {ep.name!r}; ignored",
                          PluginWarning, stacklevel=2)
            continue
        table[ep.name] = _entry_point_loader(ep)
    return table


def _lazy(target: str) -> Callable[[], Any]:
    def load() -> Any:
        module, _, attr = target.partition(":")
        return getattr(importlib.import_module(module), attr)

    return load


def _entry_point_loader(ep: Any) -> Callable[[], Any]:
    return ep.load


def names(kind: Kind) -> list[str]:
    """All known names of a kind, sorted."""
    return sorted(_table(kind))


def get(kind: Kind, name: str) -> Any:
    """The object registered under ``name``; UnknownNameError (listing the known names) if none."""
    table = _table(kind)
    if name not in table:
        known = ", ".join(sorted(table)) or "none"
        raise UnknownNameError(f"unknown {_one(kind)} {name!r}; known: {known}")
    try:
        return table[name]()
    except Exception as exc:
        if name in _BUILTIN[kind]:
            raise
        warnings.warn(f"{_one(kind)} plugin {name!r} failed to load: {exc}", PluginWarning, stacklevel=2)
        raise UnknownNameError(f"{_one(kind)} plugin {name!r} failed to load: {exc}") from exc


def load_all(kind: Kind) -> dict[str, Any]:
    """Load every entry of a kind, skipping (with a warning) plugins that fail."""
    loaded: dict[str, Any] = {}
    for name in names(kind):
        try:
            loaded[name] = get(kind, name)
        except UnknownNameError:
            continue
    return loaded
