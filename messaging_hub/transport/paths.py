"""Building request paths with every parameter percent-encoded."""

from __future__ import annotations

import re
import string
from functools import lru_cache
from urllib.parse import quote

from ..errors import InvalidRequest

__all__ = ["path", "segment"]

_FORMATTER = string.Formatter()
# What quote(text, safe="") leaves as it is: such a segment needs no encoding.
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]+")


def segment(value: object) -> str:
    """One path segment, percent-encoded so ``/``, ``?``, ``#`` and ``..`` stay inert."""
    text = str(value)
    if text in ("", ".", ".."):
        raise InvalidRequest(f"{text!r} cannot be used as a path segment")
    if _UNRESERVED.fullmatch(text):
        return text
    return quote(text, safe="")


@lru_cache(maxsize=256)
def _names(template: str) -> frozenset[str]:
    """The placeholders of ``template`` (templates are few: parsed once each)."""
    return frozenset(name for _, name, _, _ in _FORMATTER.parse(template) if name)


def path(template: str, /, **params: object) -> str:
    """Fill ``{name}`` placeholders in ``template`` with encoded segments.

    >>> path("/users/{user}/messages", user="a/b c")
    '/users/a%2Fb%20c/messages'
    """
    names = _names(template)
    missing = names - params.keys()
    if missing:
        raise TypeError(f"missing path parameters: {sorted(missing)}")
    return template.format(**{name: segment(params[name]) for name in names})
