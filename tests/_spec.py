"""Check a fake's JSON answers against a provider's OpenAPI 3 or Swagger 2 spec.

:func:`load` reads a spec from ``shared/specs`` beside the checkout (the test
is skipped when the specs are not there); :meth:`Spec.response` finds an
operation's response schema; :meth:`Spec.problems` walks ``$ref``, ``allOf``
and ``items`` and lists every required field that is missing, every value of
the wrong JSON type or outside its ``enum``, every ``null`` the schema does
not allow and every extra field where ``additionalProperties`` is false.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

SPECS = Path(__file__).resolve().parents[2] / "shared/specs"

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}

Schema = dict[str, Any]


def load(relative: str) -> Spec:
    """The spec at ``shared/specs/<relative>``; skips when the specs are absent."""
    path = SPECS / relative
    if not path.exists():
        pytest.skip("the provider specs (shared/specs) are not beside this checkout")
    return Spec(yaml.safe_load(path.read_text()))


def type_ok(value: Any, name: str) -> bool:
    """Whether ``value`` (decoded JSON) has the JSON Schema type ``name``."""
    if isinstance(value, bool) and name != "boolean":
        return False  # JSON true/false is never an integer or a number
    return isinstance(value, _TYPES[name])


class Spec:
    """A loaded spec document."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def ref(self, pointer: str) -> Schema:
        """The node a local ``$ref`` (``#/a/b``) points at."""
        node: Any = self.document
        for part in pointer.removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        assert isinstance(node, dict), pointer
        return node

    def response(self, path: str, method: str, status: int) -> Schema:
        """The JSON schema of ``method path``'s ``status`` response."""
        responses = self.document["paths"][path][method]["responses"]
        answer = responses.get(str(status)) or responses[status]  # YAML: '200' or 200
        if "$ref" in answer:
            answer = self.ref(answer["$ref"])
        if "content" in answer:  # OpenAPI 3
            schema: Schema = answer["content"]["application/json"]["schema"]
            return schema
        schema = answer["schema"]  # Swagger 2
        return schema

    def resolve(self, schema: Schema) -> Schema:
        """``schema`` with ``$ref`` followed and ``allOf`` merged (required
        and properties unioned, the other keys from the first that has them)."""
        while "$ref" in schema:  # OpenAPI 3.0: siblings of $ref are ignored
            schema = self.ref(schema["$ref"])
        if "allOf" not in schema:
            return schema
        merged: Schema = {k: v for k, v in schema.items() if k != "allOf"}
        required = set(merged.get("required", ()))
        properties = dict(merged.get("properties", {}))
        for part in (self.resolve(p) for p in schema["allOf"]):
            required.update(part.get("required", ()))
            properties.update(part.get("properties", {}))
            for key, value in part.items():
                merged.setdefault(key, value)
        merged["required"], merged["properties"] = sorted(required), properties
        return merged

    def required(self, schema: Schema) -> set[str]:
        """The fields ``schema`` marks required."""
        return set(self.resolve(schema).get("required", ()))

    def problems(self, value: Any, schema: Schema, where: str = "$") -> list[str]:
        """Every way ``value`` breaks ``schema`` (empty when it conforms)."""
        s = self.resolve(schema)
        if value is None:
            nullable = s.get("nullable") or s.get("x-nullable")
            return [] if nullable else [f"{where}: null is not allowed"]
        kind = s.get("type")
        if kind is not None and not type_ok(value, kind):
            return [f"{where}: {type(value).__name__} {value!r} is not {kind}"]
        if "enum" in s and value not in s["enum"]:
            return [f"{where}: {value!r} is not one of {s['enum']}"]
        found: list[str] = []
        if isinstance(value, list) and "items" in s:
            for i, item in enumerate(value):
                found += self.problems(item, s["items"], f"{where}[{i}]")
        if isinstance(value, dict):
            properties: dict[str, Schema] = s.get("properties", {})
            found += [f"{where}.{k}: required but missing" for k in s.get("required", ())
                      if k not in value]  # fmt: skip
            if s.get("additionalProperties") is False:
                found += [f"{where}.{k}: not in the schema" for k in value if k not in properties]
            for key, item in value.items():
                if key in properties:
                    found += self.problems(item, properties[key], f"{where}.{key}")
        return found
