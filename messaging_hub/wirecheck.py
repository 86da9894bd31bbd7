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
from typing import Any, cast

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
_MISSING = object()

Converted = Mapping[tuple[type[Any], str], frozenset[type]]


@attrs.frozen
class _Field:
    """A compiled annotation: the exact JSON types it takes or a check of
    nested values (one of the two), and whether ``null`` is allowed."""

    types: frozenset[type] | None
    check: PlainCheck | None
    nullable: bool


def plain_check(
    cls: type[Any],
    key: Callable[[str], str] = str,
    *,
    converted: Converted | None = None,
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
    seen: dict[type[Any], PlainCheck | None],
    converted: Converted,
) -> PlainCheck:
    # One function per class, written out field by field as attrs and cattrs
    # write theirs: a get and a type test per field, no loop over the keys.
    done = seen.get(cls, _MISSING)
    if done is None:
        raise TypeError(f"no plain check for the recursive class {cls!r}")
    if done is not _MISSING:
        return cast(PlainCheck, done)
    seen[cls] = None
    hints = typing.get_type_hints(cls)
    scope: dict[str, Any] = {"_M": _MISSING}
    lines = ["def check(v):", "    if type(v) is not dict:", "        return False"]
    for n, field in enumerate(attrs.fields(cls)):
        if not field.init:
            continue
        name = key(field.name)
        given = converted.get((cls, field.name))
        if given is not None:
            compiled = _Field(given - {_NONE}, None, _NONE in given)
        else:
            compiled = _compile(hints[field.name], key, seen, converted)
        if compiled.types is None:
            scope[f"_c{n}"] = compiled.check
            bad = f"not _c{n}(x)"
        elif len(compiled.types) == 1:
            (scope[f"_t{n}"],) = compiled.types
            bad = f"type(x) is not _t{n}"
        else:
            scope[f"_t{n}"] = compiled.types
            bad = f"type(x) not in _t{n}"
        if field.default is attrs.NOTHING:
            lines += [f"    if {name!r} not in v:", "        return False", f"    x = v[{name!r}]"]
            absent = "x is not None and " if compiled.nullable else ""
        elif compiled.nullable:
            lines.append(f"    x = v.get({name!r})")
            absent = "x is not None and "
        else:
            lines.append(f"    x = v.get({name!r}, _M)")
            absent = "x is not _M and "
        lines += [f"    if {absent}{bad}:", "        return False"]
    lines.append("    return True")
    exec("\n".join(lines), scope)  # noqa: S102 - built from field names and types only
    check: PlainCheck = scope["check"]
    seen[cls] = check
    return check


def _compile(
    tp: Any,
    key: Callable[[str], str],
    seen: dict[type[Any], PlainCheck | None],
    converted: Converted,
) -> _Field:
    scalar = _SCALARS.get(tp)
    if scalar is not None:
        return _Field(scalar, None, False)
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        args = typing.get_args(tp)
        parts = [_compile(a, key, seen, converted) for a in args if a is not _NONE]
        nullable = _NONE in args or any(p.nullable for p in parts)
        if all(p.types is not None for p in parts):
            return _Field(frozenset().union(*(p.types or () for p in parts)), None, nullable)
        if len(parts) != 1:
            raise TypeError(f"no plain check for {tp!r}")
        return _Field(None, parts[0].check, nullable)
    if origin is list:
        (item_type,) = typing.get_args(tp)
        return _Field(None, _list_check(_compile(item_type, key, seen, converted)), False)
    if origin is dict and typing.get_args(tp) == (str, str):
        return _Field(None, _str_dict, False)
    if attrs.has(tp):
        return _Field(None, _class_check(tp, key, seen, converted), False)
    raise TypeError(f"no plain check for {tp!r}")


def _list_check(item: _Field) -> PlainCheck:
    if item.types is not None:
        allowed = item.types | {_NONE} if item.nullable else item.types
        return lambda v: type(v) is list and all(type(i) in allowed for i in v)
    check = item.check
    assert check is not None
    if item.nullable:
        return lambda v: type(v) is list and all(i is None or check(i) for i in v)
    return list_of(check)


def _str_dict(value: Any) -> bool:
    return type(value) is dict and all(type(k) is str and type(i) is str for k, i in value.items())
