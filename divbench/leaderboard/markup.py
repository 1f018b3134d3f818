"""A tiny HTML/SVG builder that escapes by default.

Every string that is not :class:`Markup` is escaped with ``html.escape(..., quote=True)`` when it
becomes text or an attribute value, so model texts, labels and reasons read from runs can never
open a tag, close an attribute or start a script. Only markup built here is :class:`Markup`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from typing import Any

_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9:-]*$")
#: elements written without a closing tag
_VOID = frozenset({"br", "hr", "meta", "img", "input", "link", "col"})


class Markup(str):
    """A string that is already safe HTML (built by this module); never wrap run data in it directly."""

    __slots__ = ()


def esc(value: Any) -> Markup:
    """``value`` as text: HTML-escaped (quotes too), unless it is already :class:`Markup`."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


Child = Any  # str | Markup | number | None | iterable of children


def _children(items: Iterable[Child]) -> str:
    parts: list[str] = []
    for item in items:
        if item is None or item is False:
            continue
        if isinstance(item, str):
            parts.append(esc(item))
        elif isinstance(item, (list, tuple)):
            parts.append(_children(item))
        else:
            parts.append(esc(item))
    return "".join(parts)


def _attrs(attrs: Mapping[str, Any] | None) -> str:
    if not attrs:
        return ""
    out = []
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        name = key.rstrip("_").replace("_", "-")
        if not _NAME.match(name) or name.lower().startswith("on") or name.lower() == "style":
            raise ValueError(f"attribute {name!r} is not allowed")
        out.append(f" {name}" if value is True else f' {name}="{esc(value)}"')
    return "".join(out)


def el(tag: str, attrs: Mapping[str, Any] | None = None, *children: Child) -> Markup:
    """``<tag attrs>children</tag>`` with every attribute value and text child escaped.

    Event-handler (``on*``) and ``style`` attributes are refused: styling lives in the stylesheet.
    """
    if not _NAME.match(tag) or tag.lower() in ("script", "style", "iframe", "object", "embed"):
        raise ValueError(f"element {tag!r} is not allowed")
    if tag in _VOID:
        return Markup(f"<{tag}{_attrs(attrs)}>")
    return Markup(f"<{tag}{_attrs(attrs)}>{_children(children)}</{tag}>")


def join(items: Iterable[Child], sep: str = "") -> Markup:
    """Children concatenated (escaped where not Markup)."""
    return Markup(esc(sep).join(_children([i]) for i in items))


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis (plain text; escape when rendering)."""
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + "…"


def slug(text: str) -> str:
    """An id-safe fragment: lower-case letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"
