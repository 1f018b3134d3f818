"""Stage 3, publish: many run folders → ``leaderboard.json`` + one self-contained ``index.html``.

* :mod:`~divbench.leaderboard.collect` finds and reads run folders;
* :mod:`~divbench.leaderboard.compare` decides which numbers share a column and computes win rates;
* :mod:`~divbench.leaderboard.model` builds the JSON model (everything the page shows);
* :mod:`~divbench.leaderboard.render` and :mod:`~divbench.leaderboard.svg` turn it into HTML.

The same runs always give byte-identical files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from divbench.leaderboard.collect import Collected, LoadedRun, collect_runs
from divbench.leaderboard.model import BOARD_SCHEMA_VERSION, board_json, build_board
from divbench.leaderboard.render import render_html

BOARD_JSON = "leaderboard.json"
BOARD_HTML = "index.html"

__all__ = ["BOARD_HTML", "BOARD_JSON", "BOARD_SCHEMA_VERSION", "Board", "Collected", "LoadedRun", "board_json",
           "build", "build_board", "collect_runs", "render_html", "write"]


@dataclass(frozen=True)
class Board:
    """The rendered leaderboard: JSON and HTML text, and what was skipped."""

    json_text: str
    html_text: str
    runs: int
    skipped: tuple[tuple[str, str], ...]

    def files(self) -> dict[str, str]:
        return {BOARD_JSON: self.json_text, BOARD_HTML: self.html_text}


def build(runs_dir: Path) -> Board:
    """Read every run under ``runs_dir`` and render the board (nothing is written)."""
    collected = collect_runs(runs_dir)
    board = build_board(collected)
    return Board(board_json(board), render_html(board), len(collected.runs), collected.skipped)


def write(board: Board, out_dir: Path) -> dict[str, Path]:
    """Write ``leaderboard.json`` and ``index.html`` into ``out_dir`` (atomically, one file at a time)."""
    from divbench.store import write_atomic

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, text in board.files().items():
        write_atomic(out_dir / name, text)
        paths[name] = out_dir / name
    return paths


def stale_files(board: Board, out_dir: Path) -> list[str]:
    """The board files in ``out_dir`` that are missing or differ from ``board``."""
    return [name for name, text in board.files().items()
            if not (out_dir / name).exists() or (out_dir / name).read_text(encoding="utf-8") != text]
