"""Whether a decoded JSON record reads as a wire class with its values as they are.

A history walk maps each JSON record of a page straight to the shared
:class:`~messaging_hub.models.Message`, reading the record's values where
the provider's converter would have built a wire object first. That is
only right for a record the converter reads without error and without
changing a value the mapping reads. :func:`plain_check` builds that test
from the attrs wire class: every field present holds the JSON type its
annotation names (``str``, ``int`` (not ``bool``), ``bool``, ``float``,
``None`` where optional, nested wire classes, lists of them, ``str`` to
``str`` dicts), and every field without a default is there. Keys that are
not fields are ignored, as the converters ignore them.

Anything else (a digit string for an ``int``, a number for a ``str``, a
``null`` list) is not plain, though a converter may still read it: the
caller then reads the page through the converter, which converts the
value or says why it cannot, exactly as before. A ``float`` field also
takes a JSON integer (the converters read it as that float; no mapping
reads a float field from the record).

A field the converter turns into something else (a timestamp into a
``datetime``) is named in ``converted`` with the JSON types the caller
takes for it; the caller converts those values itself, and reads the page
through the converter where that fails.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

import attrs

__all__ = ["PlainCheck", "list_of", "plain_check"]

PlainCheck = Callable[[Any], bool]
"""``check(value)``: whether ``value`` is a plain JSON record of the class."""

_NONE = type(None)
_SCALARS: dict[Any, frozenset[type]] = {
    str: frozenset({str}),
    int: frozenset({int}),
    bool: frozenset({bool}),
    float: frozenset({float, int}),
}

# A compiled field: the exact JSON types it takes, or a check for nested values.
_Field = frozenset[type] | PlainCheck


def plain_check(
    cls: type[Any],
    key: Callable[[str], str] = str,
    *,
    converted: Mapping[tuple[type[Any], str], frozenset[type]] | None = None,
) -> PlainCheck:
    """The plain-record test of attrs class ``cls`` whose field ``name`` is
    spelled ``key(name)`` in JSON (the converter's renames); ``converted``
    gives the JSON types of ``(class, field)`` that the caller converts."""
    return _class_check(cls, key, {}, converted or {})


def list_of(check: PlainCheck) -> PlainCheck:
    """The test of a JSON array whose items all pass ``check``."""
    return lambda value: type(value) is list and all(map(check, value))


def _class_check(
    cls: type[Any],
    key: Callable[[str], str],
    seen: dict[type[Any], PlainCheck],
    converted: Mapping[tuple[type[Any], str], frozenset[type]],
) -> PlainCheck:
    if cls in seen:
        return seen[cls]
    scalars: dict[str, frozenset[type]] = {}
    nested: dict[str, PlainCheck] = {}
    required: list[str] = []
    hints = typing.get_type_hints(cls)

    def check(value: Any) -> bool:
        if type(value) is not dict:
            return False
        for name in required:
            if name not in value:
                return False
        get_scalar = scalars.get
        for name, item in value.items():
            allowed = get_scalar(name)
            if allowed is not None:
                if type(item) not in allowed:
                    return False
            else:
                sub = nested.get(name)
                if sub is not None and not sub(item):
                    return False
        return True

    seen[cls] = check  # before the fields: a class may nest itself
    for field in attrs.fields(cls):
        if not field.init:
            continue
        name = key(field.name)
        if field.default is attrs.NOTHING:
            required.append(name)
        given = converted.get((cls, field.name))
        compiled = given if given is not None else _compile(hints[field.name], key, seen, converted)
        if isinstance(compiled, frozenset):
            scalars[name] = compiled
        else:
            nested[name] = compiled
    return check


def _compile(
    tp: Any,
    key: Callable[[str], str],
    seen: dict[type[Any], PlainCheck],
    converted: Mapping[tuple[type[Any], str], frozenset[type]],
) -> _Field:
    scalar = _SCALARS.get(tp)
    if scalar is not None:
        return scalar
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        args = typing.get_args(tp)
        optional = _NONE in args
        parts = [_compile(a, key, seen, converted) for a in args if a is not _NONE]
        if all(isinstance(p, frozenset) for p in parts):
            allowed = frozenset().union(*parts)  # type: ignore[arg-type]
            return allowed | {_NONE} if optional else allowed
        if len(parts) != 1:
            raise TypeError(f"no plain check for {tp!r}")
        inner = parts[0]
        assert not isinstance(inner, frozenset)
        return (lambda v: v is None or inner(v)) if optional else inner
    if origin is list:
        (item_type,) = typing.get_args(tp)
        item = _compile(item_type, key, seen, converted)
        if isinstance(item, frozenset):
            return lambda v: type(v) is list and all(type(i) in item for i in v)
        return lambda v: type(v) is list and all(item(i) for i in v)
    if origin is dict and typing.get_args(tp) == (str, str):
        return lambda v: (
            type(v) is dict and all(type(k) is str and type(i) is str for k, i in v.items())
        )
    if attrs.has(tp):
        return _class_check(tp, key, seen, converted)
    raise TypeError(f"no plain check for {tp!r}")
