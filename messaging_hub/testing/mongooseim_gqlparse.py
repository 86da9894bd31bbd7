"""Lexer and parser for the GraphQL documents :class:`FakeMongooseIM` accepts.

Executable definitions only: operations with variable definitions and
defaults, fields with aliases, arguments (literals or ``$variables``) and
nested selections. Fragments and directives raise an ``unsupported_by_fake``
error rather than being ignored.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

__all__ = [
    "EnumValue",
    "Field",
    "GraphQLError",
    "Operation",
    "TypeRef",
    "Var",
    "VarDef",
    "parse_document",
]


class GraphQLError(Exception):
    """A request-level GraphQL error: HTTP ``status`` and one error object."""

    def __init__(self, message: str, code: str, path: list[Any] | None = None, status: int = 400):
        super().__init__(message)
        self.status = status
        self.error: dict[str, Any] = {"message": message, "extensions": {"code": code}}
        if path is not None:
            self.error["path"] = path


# -- lexer and parser ----------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<skip>[\s,\ufeff]+|\#[^\n\r]*)
  | (?P<spread>\.\.\.)
  | (?P<punct>[!$()\[\]{}:=@|&])
  | (?P<block>\"\"\"(?:\\\"\"\"|[^"]|"(?!""))*\"\"\")
  | (?P<string>"(?:\\["\\/bfnrt]|\\u[0-9A-Fa-f]{4}|[^"\\\n\r])*")
  | (?P<float>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+(?:[eE][+-]?[0-9]+)?|[eE][+-]?[0-9]+))
  | (?P<int>-?(?:0|[1-9][0-9]*))
  | (?P<name>[_A-Za-z][_0-9A-Za-z]*)
    """,
    re.VERBOSE,
)
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


@attrs.frozen
class _Tok:
    kind: str
    text: str
    line: int


@attrs.frozen
class Var:
    """A ``$variable`` reference in a document."""

    name: str


@attrs.frozen
class EnumValue:
    """A bare name used as a value."""

    name: str


@attrs.frozen
class TypeRef:
    """A variable's declared type: ``Name``, ``[T]``, with ``!`` for non-null."""

    name: str | None
    non_null: bool = False
    of: TypeRef | None = None

    def __str__(self) -> str:
        inner = f"[{self.of}]" if self.of is not None else str(self.name)
        return inner + ("!" if self.non_null else "")


@attrs.frozen
class Field:
    """A selected field."""

    name: str
    alias: str | None
    args: dict[str, Any]
    selection: list[Field] | None

    @property
    def key(self) -> str:
        """Where the result goes in the response."""
        return self.alias or self.name


@attrs.frozen
class VarDef:
    """One entry of an operation's variable list."""

    name: str
    type: TypeRef
    default: Any = None
    has_default: bool = False


@attrs.frozen
class Operation:
    """A query, mutation or subscription."""

    kind: str
    name: str | None
    var_defs: list[VarDef]
    selection: list[Field]


def _tokenize(doc: str) -> list[_Tok]:
    toks: list[_Tok] = []
    pos, line = 0, 1
    while pos < len(doc):
        m = _TOKEN.match(doc, pos)
        if m is None:
            raise GraphQLError(
                f"Cannot scan line {line} because of illegal characters {doc[pos]!r}",
                "scanner_error",
            )
        kind = m.lastgroup or ""
        if kind != "skip":
            toks.append(_Tok(kind, m.group(), line))
        line += m.group().count("\n")
        pos = m.end()
    return toks


class _Parser:
    def __init__(self, doc: str) -> None:
        self.toks = _tokenize(doc)
        self.i = 0

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def fail(self) -> GraphQLError:
        tok = self.peek()
        if tok is None:
            line = self.toks[-1].line if self.toks else 1
            return GraphQLError(
                f"Cannot parse line {line} because of syntax error before: end of input",
                "parser_error",
            )
        return GraphQLError(
            f"Cannot parse line {tok.line} because of syntax error before: {tok.text}",
            "parser_error",
        )

    def at(self, text: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind in ("punct", "spread") and tok.text == text

    def take(self, text: str) -> None:
        if not self.at(text):
            raise self.fail()
        self.i += 1

    def name(self) -> str:
        tok = self.peek()
        if tok is None or tok.kind != "name":
            raise self.fail()
        self.i += 1
        return tok.text

    def document(self) -> list[Operation]:
        ops: list[Operation] = []
        if self.peek() is None:
            raise self.fail()
        while self.peek() is not None:
            ops.append(self.operation())
        return ops

    def operation(self) -> Operation:
        if self.at("{"):
            return Operation("query", None, [], self.selection_set())
        tok = self.peek()
        if tok is not None and tok.kind == "name" and tok.text == "fragment":
            raise GraphQLError("Fragments are not supported by this fake", "unsupported_by_fake")
        kind = self.name()
        if kind not in ("query", "mutation", "subscription"):
            self.i -= 1
            raise self.fail()
        name: str | None = None
        tok = self.peek()
        if tok is not None and tok.kind == "name":
            name = self.name()
        var_defs: list[VarDef] = []
        if self.at("("):
            self.take("(")
            while not self.at(")"):
                self.take("$")
                var = self.name()
                self.take(":")
                ty = self.type_ref()
                if self.at("="):
                    self.take("=")
                    var_defs.append(VarDef(var, ty, self.value(const=True), True))
                else:
                    var_defs.append(VarDef(var, ty))
            self.take(")")
        self.no_directives()
        return Operation(kind, name, var_defs, self.selection_set())

    def no_directives(self) -> None:
        if self.at("@"):
            raise GraphQLError("Directives are not supported by this fake", "unsupported_by_fake")

    def type_ref(self) -> TypeRef:
        if self.at("["):
            self.take("[")
            inner = self.type_ref()
            self.take("]")
            ref = TypeRef(None, False, inner)
        else:
            ref = TypeRef(self.name())
        if self.at("!"):
            self.take("!")
            ref = attrs.evolve(ref, non_null=True)
        return ref

    def selection_set(self) -> list[Field]:
        self.take("{")
        fields: list[Field] = []
        while not self.at("}"):
            if self.at("..."):
                raise GraphQLError(
                    "Fragments are not supported by this fake", "unsupported_by_fake"
                )
            first = self.name()
            alias: str | None = None
            if self.at(":"):
                self.take(":")
                alias, first = first, self.name()
            args: dict[str, Any] = {}
            if self.at("("):
                self.take("(")
                while not self.at(")"):
                    arg = self.name()
                    self.take(":")
                    args[arg] = self.value(const=False)
                self.take(")")
            self.no_directives()
            sub = self.selection_set() if self.at("{") else None
            fields.append(Field(first, alias, args, sub))
        self.take("}")
        if not fields:
            raise self.fail()
        return fields

    def value(self, *, const: bool) -> Any:
        tok = self.peek()
        if tok is None:
            raise self.fail()
        if tok.kind == "punct" and tok.text == "$" and not const:
            self.i += 1
            return Var(self.name())
        if tok.kind == "punct" and tok.text == "[":
            self.i += 1
            items = []
            while not self.at("]"):
                items.append(self.value(const=const))
            self.i += 1
            return items
        if tok.kind == "punct" and tok.text == "{":
            self.i += 1
            obj: dict[str, Any] = {}
            while not self.at("}"):
                key = self.name()
                self.take(":")
                obj[key] = self.value(const=const)
            self.i += 1
            return obj
        self.i += 1
        if tok.kind == "int":
            return int(tok.text)
        if tok.kind == "float":
            return float(tok.text)
        if tok.kind == "string":
            return _unescape(tok.text[1:-1])
        if tok.kind == "block":
            return tok.text[3:-3].replace('\\"""', '"""').strip("\n")
        if tok.kind == "name":
            return {"true": True, "false": False, "null": None}.get(tok.text, EnumValue(tok.text))
        self.i -= 1
        raise self.fail()


def _unescape(raw: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch != "\\":
            out.append(ch)
            i += 1
        elif raw[i + 1] == "u":
            out.append(chr(int(raw[i + 2 : i + 6], 16)))
            i += 6
        else:
            out.append(_ESCAPES[raw[i + 1]])
            i += 2
    return "".join(out)


def parse_document(doc: str) -> list[Operation]:
    """Parse a GraphQL document into its operations (raises :class:`GraphQLError`)."""
    return _Parser(doc).document()
