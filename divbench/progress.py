"""Progress reporting. Library code never prints: it calls a Reporter."""

from __future__ import annotations

import sys
import time
from typing import Literal, Protocol

Display = Literal["rich", "plain", "none"]


class Reporter(Protocol):
    """Receives progress events from the runner."""

    def start_task(self, name: str, total_sets: int, cached_sets: int) -> None: ...

    def advance(self, sets: int, tokens: int) -> None: ...

    def finish_task(self) -> None: ...

    def note(self, text: str) -> None: ...

    def close(self) -> None: ...


class NullReporter:
    """Reports nothing."""

    def start_task(self, name: str, total_sets: int, cached_sets: int) -> None:
        pass

    def advance(self, sets: int, tokens: int) -> None:
        pass

    def finish_task(self) -> None:
        pass

    def note(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


class PlainReporter:
    """One line per task start, about every 10% of sets, and at the end (to stderr)."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stderr
        self._reset("", 0)

    def _reset(self, name: str, total: int) -> None:
        self.name, self.total, self.done, self.tokens = name, total, 0, 0
        self.started, self.next_report = time.perf_counter(), max(1, total // 10)

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def start_task(self, name: str, total_sets: int, cached_sets: int) -> None:
        self._reset(name, total_sets)
        self._print(f"{name}: {total_sets} sets to generate ({cached_sets} already stored)")

    def advance(self, sets: int, tokens: int) -> None:
        self.done += sets
        self.tokens += tokens
        if self.done >= self.next_report or self.done == self.total:
            elapsed = time.perf_counter() - self.started
            rate = self.tokens / elapsed if elapsed > 0 else 0.0
            self._print(f"{self.name}: {self.done}/{self.total} sets, {rate:.0f} tok/s, {elapsed:.0f} s")
            self.next_report = self.done + max(1, self.total // 10)

    def finish_task(self) -> None:
        pass

    def note(self, text: str) -> None:
        self._print(text)

    def close(self) -> None:
        pass


class RichReporter:
    """A rich progress bar per task: sets done of total, tokens/s and ETA."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("sets"),
            TextColumn("{task.fields[rate]:>7.1f} tok/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
        )
        self.progress.start()
        self.task_id = None
        self.tokens = 0
        self.started = time.perf_counter()

    def start_task(self, name: str, total_sets: int, cached_sets: int) -> None:
        label = f"{name} ({cached_sets} stored)" if cached_sets else name
        self.task_id = self.progress.add_task(label, total=total_sets, rate=0.0)
        self.tokens, self.started = 0, time.perf_counter()

    def advance(self, sets: int, tokens: int) -> None:
        self.tokens += tokens
        elapsed = time.perf_counter() - self.started
        rate = self.tokens / elapsed if elapsed > 0 else 0.0
        self.progress.update(self.task_id, advance=sets, rate=rate)

    def finish_task(self) -> None:
        pass

    def note(self, text: str) -> None:
        self.progress.console.print(text)

    def close(self) -> None:
        self.progress.stop()


def make_reporter(display: Display) -> Reporter:
    """The reporter for ``--display``."""
    if display == "rich":
        return RichReporter()
    if display == "plain":
        return PlainReporter()
    return NullReporter()
