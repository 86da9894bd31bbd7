"""Building request paths with every parameter percent-encoded."""

from __future__ import annotations

import string
from urllib.parse import quote

from ..errors import InvalidRequest

__all__ = ["path", "segment"]

_FORMATTER = string.Formatter()


def segment(value: object) -> str:
    """One path segment, percent-encoded so ``/``, ``?``, ``#`` and ``..`` stay inert."""
    text = str(value)
    if text in ("", ".", ".."):
        raise InvalidRequest(f"{text!r} cannot be used as a path segment")
    return quote(text, safe="")


def path(template: str, /, **params: object) -> str:
    """Fill ``{name}`` placeholders in ``template`` with encoded segments.

    >>> path("/users/{user}/messages", user="a/b c")
    '/users/a%2Fb%20c/messages'
    """
    names = {name for _, name, _, _ in _FORMATTER.parse(template) if name}
    missing = names - params.keys()
    if missing:
        raise TypeError(f"missing path parameters: {sorted(missing)}")
    return template.format(**{name: segment(params[name]) for name in names})
