"""System files: what produces the texts (backend, model, adapter, strategy, sampling), read from TOML.

``divbench run --system FILE`` reads one; flags given on the command line override its fields::

    label = "SmolLM2-135M verbalized k=5"
    kind = "prompting"            # baseline | prompting | finetuned | reference (default: inferred)
    model = "default"             # as --model
    backend = "hf"                # optional: inferred from the model
    adapter = "lora/"             # optional; a relative path is relative to this file
    strategy = "verbalized"       # as --strategy
    description = "..."           # optional, for people; not part of the record

    [strategy_options]            # as --strategy-option KEY=VALUE
    k = 5

    [sampling]                    # overrides every task's sampling (N stays the suite's)
    temperature = 1.0             # also top_p, top_k, min_p, max_new_tokens

The System record carries the sampling overrides and the strategy's resolved options in
``options``, so they reach manifest.json, run.json and the run id.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from divbench import registry
from divbench.strategies.base import Strategy, StrategyError
from divbench.types import System

SAMPLING_TYPES: dict[str, type] = {"temperature": float, "top_p": float, "top_k": int, "min_p": float,
                                   "max_new_tokens": int}
_TOP_TYPES: dict[str, type] = {"label": str, "kind": str, "backend": str, "model": str, "adapter": str,
                               "strategy": str, "description": str, "strategy_options": dict, "sampling": dict}
KINDS = ("baseline", "prompting", "finetuned", "reference")
_BOUNDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "temperature": (lambda v: v >= 0, ">= 0"),
    "top_p": (lambda v: 0 < v <= 1, "in (0, 1]"),
    "top_k": (lambda v: v >= 0, ">= 0"),
    "min_p": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "max_new_tokens": (lambda v: v >= 1, ">= 1"),
}
_SHORT = {"temperature": "t", "top_p": "top_p", "top_k": "top_k", "min_p": "min_p", "max_new_tokens": "max_tok"}


class SystemSpecError(ValueError):
    """A system file or system flag is malformed; the message is one line."""


@dataclass(frozen=True)
class SystemSpec:
    """A system before its strategy is built: what a system file and the run flags describe."""

    model: str = "default"
    strategy: str = "none"
    label: str | None = None
    kind: str | None = None
    backend: str | None = None
    adapter: str | None = None
    strategy_options: dict[str, Any] = field(default_factory=dict)
    sampling: dict[str, Any] = field(default_factory=dict)

    def override(self, *, model: str | None = None, adapter: str | None = None, strategy: str | None = None,
                 label: str | None = None, strategy_options: dict[str, Any] | None = None,
                 sampling: dict[str, Any] | None = None) -> SystemSpec:
        """This spec with the given (non-None) fields replaced; a new strategy drops the old one's options."""
        spec = self
        if model is not None and model != self.model:
            spec = replace(spec, model=model, backend=None)
        if strategy is not None and strategy != self.strategy:
            spec = replace(spec, strategy=strategy, strategy_options={})
        if adapter is not None:
            spec = replace(spec, adapter=adapter)
        if label is not None:
            spec = replace(spec, label=label)
        if strategy_options:
            spec = replace(spec, strategy_options={**spec.strategy_options, **strategy_options})
        if sampling:
            check_sampling(sampling, "command line")
            spec = replace(spec, sampling={**spec.sampling, **sampling})
        return spec

    def build_strategy(self) -> Strategy:
        """The strategy with its options (unknown name or bad option: one-line error)."""
        return registry.get("strategies", self.strategy)(**self.strategy_options)

    def system(self, strategy: Strategy) -> System:
        """The System record, with sampling overrides and strategy options in ``options``."""
        backend = self.backend or backend_for(self.model)
        options: dict[str, Any] = {}
        if self.sampling:
            options["sampling"] = dict(sorted(self.sampling.items()))
        if strategy.options:
            options["strategy"] = dict(strategy.options)
        return System(label=self.label or self._label(backend), kind=self.kind or self._kind(backend),  # type: ignore[arg-type]
                      backend=backend, model=self.model, adapter=self.adapter, strategy=self.strategy,
                      options=options)

    def _kind(self, backend: str) -> str:
        if backend == "reference":
            return "reference"
        if self.adapter:
            return "finetuned"
        return "baseline" if self.strategy == "none" else "prompting"

    def _label(self, backend: str) -> str:
        name = Path(self.model).name if backend == "hf" and self.model != "default" else self.model
        if self.adapter:
            name += f"+{Path(self.adapter).name}"
        if self.strategy != "none":
            name += f"/{self.strategy}"
        extras = [f"{k}={v}" for k, v in sorted(self.strategy_options.items())]
        extras += [f"{_SHORT[k]}={v:g}" if isinstance(v, float) else f"{_SHORT[k]}={v}"
                   for k, v in sorted(self.sampling.items())]
        return " ".join([name, *extras])


def backend_for(model: str) -> str:
    """The backend a ``--model`` value implies."""
    if model.startswith("fake:"):
        return "fake"
    return "reference" if model == "reference" else "hf"


def check_sampling(values: dict[str, Any], where: str) -> dict[str, Any]:
    """Validate sampling overrides (names, types, ranges); returns them with ints widened to floats."""
    out = {}
    for key, value in values.items():
        if key not in SAMPLING_TYPES:
            raise SystemSpecError(f"{where}: unknown sampling key {key!r}; known: {', '.join(SAMPLING_TYPES)}"
                                  + (" (N is the suite's: use --n)" if key == "n" else ""))
        out[key] = _typed(value, SAMPLING_TYPES[key], f"{where}: sampling.{key}")
    for key, value in out.items():
        ok, bounds = _BOUNDS[key]
        if not ok(value):
            raise SystemSpecError(f"{where}: {key} must be {bounds}, got {value}")
    return out


def _typed(value: Any, kind: type, where: str) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) != (kind is bool) or not isinstance(value, kind):
        names = {str: "a string", int: "an integer", float: "a number", dict: "a table", bool: "true or false"}
        raise SystemSpecError(f"{where} must be {names[kind]}, got {type(value).__name__} {value!r}")
    return value


def load_system(path: Path) -> SystemSpec:
    """Read and validate a system TOML file (every problem is a one-line SystemSpecError)."""
    where = f"system file '{path}'"
    if not path.is_file():
        raise SystemSpecError(f"{where} does not exist")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SystemSpecError(f"{where} is not valid TOML: {exc}") from exc
    for key, value in data.items():
        if key not in _TOP_TYPES:
            raise SystemSpecError(f"{where}: unknown key {key!r}; known: {', '.join(sorted(_TOP_TYPES))}")
        _typed(value, _TOP_TYPES[key], f"{where}: {key}")
    spec = SystemSpec(
        model=_local(data.get("model", "default"), path.parent, only_if_exists=True),
        strategy=data.get("strategy", "none"), label=data.get("label"), kind=data.get("kind"),
        backend=data.get("backend"), adapter=_local(data.get("adapter"), path.parent),
        strategy_options=dict(data.get("strategy_options", {})),
        sampling=check_sampling(dict(data.get("sampling", {})), where),
    )
    return _validated(spec, where)


def _validated(spec: SystemSpec, where: str) -> SystemSpec:
    if spec.kind is not None and spec.kind not in KINDS:
        raise SystemSpecError(f"{where}: kind must be one of {', '.join(KINDS)}, got {spec.kind!r}")
    if spec.backend is not None and spec.backend not in registry.names("backends"):
        raise SystemSpecError(f"{where}: unknown backend {spec.backend!r}; "
                              f"known: {', '.join(registry.names('backends'))}")
    try:
        spec.build_strategy()
    except (registry.UnknownNameError, StrategyError) as exc:
        raise SystemSpecError(f"{where}: {exc}") from exc
    return spec


def _local(value: str | None, folder: Path, only_if_exists: bool = False) -> str | None:
    """A relative path resolved against the system file's folder (models: only when it exists there)."""
    if value is None or Path(value).is_absolute():
        return value
    candidate = folder / value
    if only_if_exists and not candidate.exists():
        return value
    return str(candidate)


def parse_assignment(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` from the command line; VALUE becomes an int, float, bool or string."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise SystemSpecError(f"--strategy-option takes KEY=VALUE, got {text!r}")
    raw = raw.strip()
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return key.strip(), lowered == "true"
    for convert in (int, float):
        try:
            return key.strip(), convert(raw)
        except ValueError:
            continue
    return key.strip(), raw
