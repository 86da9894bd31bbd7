"""A record :func:`plain_check` accepts is read by the converter without
error and with the same values; ``history`` relies on both."""

from __future__ import annotations

import typing
from typing import Any

import attrs
import cattrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from messaging_hub.adapters.ringcentral import wire as rc
from messaging_hub.adapters.textmagic import wire as tm
from messaging_hub.wirecheck import plain_check

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.sampled_from(["", "12", " 7 ", "true", "x", "1.5"]),
    st.just([]),
    st.just({}),
    st.just([None]),
)


def _rarely_junk(plain: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    # One value in thirty is junk: most records are plain, many are nearly so.
    return st.integers(0, 29).flatmap(lambda i: JUNK if i == 17 else plain)


def _values(tp: Any, key: Any, depth: int) -> st.SearchStrategy[Any]:
    """Values a field of type ``tp`` may meet: its own kind, now and then junk."""
    origin = typing.get_origin(tp)
    if origin is not None and type(None) in typing.get_args(tp):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return st.one_of(st.none(), *(_values(a, key, depth) for a in inner))
    if depth > 2:
        return JUNK
    if origin is list:
        return _rarely_junk(st.lists(_values(typing.get_args(tp)[0], key, depth + 1), max_size=3))
    if origin is dict:
        return _rarely_junk(
            st.dictionaries(st.text(max_size=3), _rarely_junk(st.text()), max_size=2)
        )
    if attrs.has(tp):
        return _rarely_junk(_records(tp, key, depth + 1))
    plain = {
        str: st.text(max_size=4),
        int: st.integers(),
        bool: st.booleans(),
        float: st.floats(allow_nan=False),
    }
    return _rarely_junk(plain[tp])


def _records(cls: type[Any], key: Any, depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    hints = typing.get_type_hints(cls)
    fields = {f: _values(hints[f.name], key, depth) for f in attrs.fields(cls)}
    return st.fixed_dictionaries(
        {key(f.name): v for f, v in fields.items() if f.default is attrs.NOTHING},
        optional={key(f.name): v for f, v in fields.items() if f.default is not attrs.NOTHING},
    )


def _same(value: Any, built: Any) -> bool:
    """Whether the converter's ``built`` holds the JSON ``value`` as it is."""
    if attrs.has(type(built)):
        return type(value) is dict and all(
            _same(value[k], getattr(built, f.name))
            for f in attrs.fields(type(built))
            if (k := _KEY[type(built).__module__](f.name)) in value
        )
    if type(built) is list:
        return type(value) is list and len(value) == len(built) and all(map(_same, value, built))
    if type(built) is float:  # a float field also takes a JSON integer
        return bool(value == built)
    return type(value) is type(built) and bool(value == built)


_KEY = {rc.__name__: rc.wire_name, tm.__name__: tm.camel}
CASES = [
    (rc.MessageList, rc.converter),
    (rc.MessageInfo, rc.converter),
    (tm.MessagePage, tm.converter),
    (tm.MessageOut, tm.converter),
]


@pytest.mark.parametrize(("cls", "converter"), CASES, ids=lambda v: getattr(v, "__name__", ""))
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_plain_records_read_unchanged(
    cls: type[Any], converter: cattrs.Converter, data: st.DataObject
) -> None:
    key = _KEY[cls.__module__]
    check = plain_check(cls, key)
    record = data.draw(_records(cls, key))
    if check(record):
        assert _same(record, converter.structure(record, cls))


def test_required_fields_and_json_types() -> None:
    check = plain_check(rc.MessageInfo, rc.wire_name)
    assert check({"id": 1, "to": [{"phoneNumber": "+1"}], "from": None, "notAField": object()})
    assert not check({"to": []})  # id is required
    assert not check({"id": True})  # a boolean is not an id
    assert not check({"id": "1"})  # the converter reads it, as a different value
    assert not check({"id": 1, "to": None})  # a list field, not optional
    assert not check({"id": 1, "to": [{"phoneNumber": 5}]})
    assert not check([{"id": 1}])
    assert plain_check(tm.MessageOut, tm.camel)({"id": 1, "price": 2})  # read as 2.0
