"""Reading a model's numbered list back into items, and stated probabilities out of items.

Rules (:func:`parse_list`):

* An item starts on a line with a number and a delimiter (``1.``, ``2)``, ``(3)``, ``#4:``, ``5 -``),
  optionally after a bullet or markdown bold, or with a label (``Response 2:``, ``Person B's response 3:``,
  ``Option 4.``). Items are taken in the order they appear, whatever their numbers.
* Lines that follow an item without a blank line continue it; after a blank line, lines that do not
  start an item are commentary and are dropped (``Sure! Here are...`` before the list is dropped too).
* A line holding several items in sequence (``1. a 2. b 3. c``) is split where the next number follows.
* With no numbered item at all, bullet lines (``- a``, ``* b``, ``• c``) are the items.
* A repeated enumerator is dropped (``Response 1: 1. text`` and ``1. 1. text`` are ``text``), which
  happens when the reply prefix already opened item 1.
* Each item is cleaned: quotes, markdown bold, a ``Person B:`` label and surrounding spaces are removed;
  empty items are dropped. Only the first :data:`MAX_CHARS` characters are read, at most
  :data:`MAX_ITEMS` items are kept, and every pattern is linear, so hostile text costs linear time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_CHARS = 50_000
MAX_ITEMS = 500

_LABEL = r"(?:person\s+[ab]\s*'?\s*s\s+)?(?:response|reply|answer|option|possibility|candidate|item)"
_NUMBERED = re.compile(
    r"^[ \t]*(?:[-*•>][ \t]*)?(?:\*\*|__)?[ \t]*"
    r"(?:" + _LABEL + r"[ \t]*(?:number[ \t]*)?\#?[ \t]*(?P<a>\d{1,3})[ \t]*(?:\*\*|__)?[ \t]*[.:)\-–—]?"
    r"|[(\[]?\#?(?P<b>\d{1,3})[ \t]*[.:)\]\-–—](?:\*\*|__)?)"
    r"(?=\s|$)[ \t]*(?P<body>.*)$",
    re.IGNORECASE,
)
_ENUMERATOR = re.compile(r"^[(\[]?(\d{1,3})[.)\]]\s+")
_BULLET = re.compile(r"^[ \t]*[-*•][ \t]+(?P<body>.+)$")
_SPEAKER = re.compile(r"^(?:\*\*|__)?\s*person\s+[ab]\s*(?:\*\*|__)?\s*:\s*", re.IGNORECASE)
_QUOTES = "\"'“”‘’`"


@dataclass(frozen=True)
class Item:
    """One parsed list item: its number as written and its cleaned text."""

    number: int
    text: str


def parse_list(text: str) -> list[Item]:
    """The items of a numbered (or, failing that, bulleted) list in ``text``."""
    lines = text[:MAX_CHARS].splitlines()
    items = _numbered(lines)
    if not items:
        items = [(0, [m.group("body")]) for line in lines if (m := _BULLET.match(line))]
    out = []
    for number, parts in items:
        for num, body in _split_inline(number, " ".join(p.strip() for p in parts)):
            cleaned = clean_item(body)
            if cleaned:
                out.append(Item(num, cleaned))
    return out[:MAX_ITEMS]


def _numbered(lines: list[str]) -> list[tuple[int, list[str]]]:
    items: list[tuple[int, list[str]]] = []
    open_item = False
    for line in lines:
        match = _NUMBERED.match(line)
        if match:
            number, body = int(match.group("a") or match.group("b")), match.group("body")
            again = _ENUMERATOR.match(body)  # "Response 1: 1. text", "1. 1. text": one enumerator too many
            if again and (match.group("a") or int(again.group(1)) == number):
                body = body[again.end() :]
            items.append((number, [body]))
            open_item = True
        elif not line.strip():  # a blank line ends the item, unless it has no text yet ("1.\n\ntext")
            open_item = open_item and not any(p.strip() for p in items[-1][1])
        elif open_item:
            items[-1][1].append(line)
        if len(items) > MAX_ITEMS:
            break
    return items


def _split_inline(number: int, body: str) -> list[tuple[int, str]]:
    """Split ``a 2. b 3. c`` after item 1 where the next numbers follow in sequence."""
    parts = []
    while number < MAX_ITEMS:
        match = re.search(rf"(?:^|\s)(?:{_LABEL}\s*)?\#?{number + 1}[.):](?=\s)", body, re.IGNORECASE)
        if not match or not body[: match.start()].strip():
            break
        parts.append((number, body[: match.start()]))
        body, number = body[match.end() :], number + 1
    parts.append((number, body))
    return parts


def clean_item(text: str) -> str:
    """An item's text without list decoration: quotes, bold, a ``Person B:`` label, spaces."""
    text = text.strip()
    for _ in range(3):
        before = text
        text = _SPEAKER.sub("", text).strip()
        if text.startswith(("**", "__")) and text.endswith(("**", "__")) and len(text) > 4:
            text = text[2:-2].strip()
        if len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
            text = text[1:-1].strip()
        if text == before:
            break
    return text


# ----------------------------------------------------------------------------- stated probabilities

_NUM = r"(\d{1,3}(?:\.\d+)?|\.\d+)"
_PROBABILITY = re.compile(
    r"[(\[{]?[ \t]*\b(?:probability|likelihood|chance|prob|p)\b\.?[ \t]*(?:[:=]|of|is)?[ \t]*" + _NUM
    + r"[ \t]*%?[ \t]*[)\]}]?",
    re.IGNORECASE,
)
_BARE = re.compile(r"[(\[][ \t]*" + _NUM + r"[ \t]*%?[ \t]*[)\]][ \t.]*$")
_TRAILING_PERCENT = re.compile(r"(?:^|[\s,;:\-–—])" + _NUM + r"[ \t]*%[ \t.]*$")


def split_probability(text: str) -> tuple[str, float | None]:
    """``text`` without its stated probability, and that probability in [0, 1] (None if absent or invalid).

    Reads ``(probability: 0.2)``, ``[p=0.2]``, ``probability 20%``, ``(0.2)`` or a trailing ``20%``;
    the last one in the text wins. Values above 1 are percentages (``(probability: 20)`` is 0.2).
    """
    text = text[:MAX_CHARS]
    match = _last(_PROBABILITY, text) or _last(_BARE, text) or _last(_TRAILING_PERCENT, text)
    if match is None:
        return text.strip(), None
    value = float(match.group(1))
    if "%" in match.group(0) or value > 1:
        value /= 100
    rest = (text[: match.start()] + " " + text[match.end() :]).strip()
    rest = clean_item(rest.strip(" \t-–—,;:|"))
    return rest, value if 0 <= value <= 1 else None


def _last(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    last = None
    for last in pattern.finditer(text):  # noqa: B007 - the last match is what we want
        pass
    return last
