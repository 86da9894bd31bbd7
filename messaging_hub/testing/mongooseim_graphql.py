"""The GraphQL side of :class:`FakeMongooseIM`: a small, strict parser and
executor for the ``stanza`` category of MongooseIM's user and admin schemas
(``priv/graphql/schemas/{user,admin}/stanza.gql``).

It understands operations, variables (with declared types and defaults),
aliases, arguments given as literals or ``$variables`` and nested field
selections. Fragments and directives are not supported; they are answered
with a 400 error whose code says so instead of being silently ignored.

Error shapes follow MongooseIM 6.5.0 (``mongoose_graphql_errors``): phase
errors (parse, type check, input coercion) are HTTP 400 with
``{"errors": [{message, extensions: {code}, path}]}`` and no ``data``;
resolver errors are HTTP 200 with the field set to ``null`` in ``data`` and
an error carrying ``extensions.code`` plus context (``from``/``user``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

import attrs

from messaging_hub.testing.mongooseim_archive import (
    ArchivedMessage,
    Jid,
    MessageArchive,
    SendError,
    parse_jid,
)

__all__ = ["GraphQLError", "execute_graphql"]

Role = Literal["user", "admin"]


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


# -- the schema -----------------------------------------------------------------


@attrs.frozen
class ArgDef:
    """An argument in the schema."""

    type: str
    non_null: bool = False
    default: Any = None


@attrs.frozen
class FieldDef:
    """A field in the schema: arguments and the type it returns."""

    type: str
    args: dict[str, ArgDef] = attrs.field(factory=dict)
    is_list: bool = False


_PAYLOADS: dict[str, dict[str, FieldDef]] = {
    "StanzasPayload": {
        "stanzas": FieldDef("StanzaMap", is_list=True),
        "limit": FieldDef("Int"),
    },
    "StanzaMap": {
        "sender": FieldDef("JID"),
        "timestamp": FieldDef("DateTime"),
        "stanza_id": FieldDef("String"),
        "stanza": FieldDef("XmlElement"),
    },
    "SendStanzaPayload": {"id": FieldDef("ID")},
}
_LAST = {"limit": ArgDef("PosInt", default=50), "with": ArgDef("JID"), "before": ArgDef("DateTime")}
_SCHEMAS: dict[Role, dict[str, dict[str, FieldDef]]] = {
    "user": {
        "query": {"stanza": FieldDef("StanzaUserQuery")},
        "mutation": {"stanza": FieldDef("StanzaUserMutation")},
        "subscription": {"stanza": FieldDef("StanzaUserSubscription")},
        "StanzaUserQuery": {"getLastMessages": FieldDef("StanzasPayload", dict(_LAST))},
        "StanzaUserMutation": {
            "sendMessage": FieldDef(
                "SendStanzaPayload",
                {
                    "from": ArgDef("JID"),
                    "to": ArgDef("JID", True),
                    "body": ArgDef("String", True),
                },
            ),
            "sendMessageHeadLine": FieldDef(
                "SendStanzaPayload",
                {
                    "from": ArgDef("JID"),
                    "to": ArgDef("JID", True),
                    "subject": ArgDef("String"),
                    "body": ArgDef("String"),
                },
            ),
        },
        "StanzaUserSubscription": {"subscribeForMessages": FieldDef("StanzaMap")},
        **_PAYLOADS,
    },
    "admin": {
        "query": {"stanza": FieldDef("StanzaAdminQuery")},
        "mutation": {"stanza": FieldDef("StanzaAdminMutation")},
        "subscription": {"stanza": FieldDef("StanzaAdminSubscription")},
        "StanzaAdminQuery": {
            "getLastMessages": FieldDef("StanzasPayload", {"caller": ArgDef("JID", True), **_LAST})
        },
        "StanzaAdminMutation": {
            "sendMessage": FieldDef(
                "SendStanzaPayload",
                {
                    "from": ArgDef("JID", True),
                    "to": ArgDef("JID", True),
                    "body": ArgDef("String", True),
                },
            ),
            "sendMessageHeadLine": FieldDef(
                "SendStanzaPayload",
                {
                    "from": ArgDef("JID", True),
                    "to": ArgDef("JID", True),
                    "subject": ArgDef("String"),
                    "body": ArgDef("String"),
                },
            ),
        },
        "StanzaAdminSubscription": {
            "subscribeForMessages": FieldDef("StanzaMap", {"caller": ArgDef("JID", True)})
        },
        **_PAYLOADS,
    },
}


def _erl_repr(value: Any) -> str:
    """How Erlang's ``~p`` prints the value the coercer saw."""
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'<<"{escaped}">>'
    if value is True:
        return "true"
    if value is False:
        return "false"
    return repr(value)


def _coerce(type_name: str, value: Any, path: list[Any]) -> Any:
    """Input coercion for the scalars the stanza operations take."""

    def fail(reason: str) -> GraphQLError:
        return GraphQLError(
            f"Input coercion failed for type {type_name} with value {_erl_repr(value)}. "
            f"The reason it failed is: {reason}",
            "input_coercion",
            path,
        )

    if type_name == "JID":
        jid = parse_jid(value)
        if jid is None:
            raise fail("failed_to_parse_jid")
        if not jid.user:
            raise fail("jid_without_local_part")
        return jid
    if type_name == "PosInt":
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise fail('"Value is not a positive integer"')
        return value
    if type_name == "DateTime":
        micros = _parse_rfc3339(value)
        if micros is None:
            raise fail("failed_to_parse_datetime")
        return micros
    if type_name == "String":
        if not isinstance(value, str):
            raise GraphQLError(
                f"The parameter value {_erl_repr(value)} is not of type String",
                "param_mismatch",
                path,
            )
        return value
    return value


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})"
)


def _parse_rfc3339(value: Any) -> int | None:
    """``calendar:rfc3339_to_system_time(.., [{unit, microsecond}])``; None if it fails."""
    if not isinstance(value, str):
        return None
    m = _RFC3339.fullmatch(value)
    if m is None:
        return None
    offset = m.group(8)
    tz = "+00:00" if offset in ("Z", "z") else offset
    try:
        base = datetime.fromisoformat(
            f"{m.group(1)}-{m.group(2)}-{m.group(3)}T{m.group(4)}:{m.group(5)}:{m.group(6)}{tz}"
        )
    except ValueError:
        return None
    frac = (m.group(7) or "").ljust(6, "0")[:6]
    return int(base.timestamp()) * 1_000_000 + int(frac)


def format_datetime(micros: int) -> str:
    """``calendar:system_time_to_rfc3339(Us, [{offset, "Z"}, {unit, microsecond}])``."""
    seconds, frac = divmod(micros, 1_000_000)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{frac:06d}Z"


# -- execution --------------------------------------------------------------------


class _ResolverError(Exception):
    def __init__(self, error: SendError, context: dict[str, str]) -> None:
        super().__init__(error.message)
        self.error = error
        self.context = context


@attrs.define
class _Exec:
    archive: MessageArchive
    role: Role
    user: Jid | None
    variables: dict[str, Any]
    op_label: str
    errors: list[dict[str, Any]] = attrs.field(factory=list)

    @property
    def schema(self) -> dict[str, dict[str, FieldDef]]:
        return _SCHEMAS[self.role]

    def select(self, type_name: str, fields: list[Field], path: list[Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field in fields:
            out[field.key] = self.field(type_name, field, path)
        return out

    def field(self, parent: str, field: Field, path: list[Any]) -> Any:
        here = [*path, field.key]
        if field.name == "__typename":
            return {"query": "UserQuery" if self.role == "user" else "AdminQuery"}.get(
                parent, parent
            )
        fdef = self.schema[parent].get(field.name)
        if fdef is None:
            raise GraphQLError(
                f"The query refers to a field, {field.name}, which is not present in the schema",
                "unknown_field",
                [self.op_label, *here],
            )
        args = self.arguments(fdef, field, [self.op_label, *here])
        is_object = fdef.type in self.schema
        if is_object and field.selection is None:
            raise GraphQLError(
                "The path refers to an Object, but no fields were specified",
                "fieldless_object",
                [self.op_label, *here],
            )
        if not is_object and field.selection is not None:
            raise GraphQLError(
                "Cannot apply a selection set to a scalar field",
                "selection_on_scalar",
                [self.op_label, *here],
            )
        return (fdef, args)

    def arguments(self, fdef: FieldDef, field: Field, path: list[Any]) -> dict[str, Any]:
        unknown = [name for name in field.args if name not in fdef.args]
        if unknown:
            raise GraphQLError(
                f"The query refers to an argument, {unknown[0]}, which is not present "
                "in the schema",
                "unknown_argument",
                path,
            )
        args: dict[str, Any] = {}
        for name, adef in fdef.args.items():
            raw = field.args.get(name)
            if isinstance(raw, Var):
                raw = self.variables.get(raw.name)
            elif name in field.args and raw is not None:
                raw = _coerce(adef.type, raw, [*path, name])
            if raw is None:
                if adef.non_null:
                    raise GraphQLError(
                        "The value is null in a non-null context", "non_null", [*path, name]
                    )
                raw = adef.default
            args[name] = raw
        return args


def _resolve(ex: _Exec, parent: str, fields: list[Field], path: list[Any]) -> dict[str, Any] | None:
    """Type-check a selection, then run resolvers; resolver errors null their field."""
    out: dict[str, Any] = {}
    for field in fields:
        checked = ex.field(parent, field, path)
        if not isinstance(checked, tuple):
            out[field.key] = checked
            continue
        fdef, args = checked
        here = [*path, field.key]
        if fdef.type not in ex.schema:
            out[field.key] = None
            continue
        if (
            fdef.type.startswith("Stanza")
            and field.selection is not None
            and parent
            in (
                "query",
                "mutation",
                "subscription",
            )
        ):
            out[field.key] = _resolve(ex, fdef.type, field.selection, here)
            continue
        try:
            value = _call(ex, field.name, args)
        except _ResolverError as err:
            ex.errors.append(
                {
                    "message": err.error.message,
                    "extensions": {**err.context, "code": err.error.code},
                    "path": here,
                }
            )
            out[field.key] = None
            continue
        assert field.selection is not None
        out[field.key] = _render(ex, fdef.type, value, field.selection, here)
    return out


def _call(ex: _Exec, name: str, args: dict[str, Any]) -> dict[str, Any]:
    archive = ex.archive
    if name == "getLastMessages":
        caller: Jid = ex.user if ex.role == "user" else args["caller"]  # type: ignore[assignment]
        context = {"user": str(caller)}
        if ex.role == "admin":
            refusal = archive.check_user(caller)
            if refusal is not None:
                raise _ResolverError(refusal, context)
        limit = archive.effective_limit(args["limit"])
        rows = archive.lookup(caller, args["with"], args["before"], limit)
        return {"stanzas": rows, "limit": limit}
    if name in ("sendMessage", "sendMessageHeadLine"):
        headline = name == "sendMessageHeadLine"
        result = archive.send(
            user=ex.user if ex.role == "user" else None,
            from_jid=args["from"],
            to=args["to"],
            body=args["body"],
            subject=args.get("subject"),
            message_type="headline" if headline else "chat",
        )
        context = {"from": str(args["from"])} if ex.role == "admin" else {}
        if isinstance(result, SendError):
            raise _ResolverError(result, context)
        return {"id": result}
    raise AssertionError(name)  # pragma: no cover - the schema lists no other resolvers


def _render(ex: _Exec, type_name: str, value: Any, fields: list[Field], path: list[Any]) -> Any:
    out: dict[str, Any] = {}
    for field in fields:
        key = field.key
        if field.name == "__typename":
            out[key] = type_name
            continue
        fdef = ex.schema[type_name].get(field.name)
        if fdef is None:
            raise GraphQLError(
                f"The query refers to a field, {field.name}, which is not present in the schema",
                "unknown_field",
                [ex.op_label, *path, key],
            )
        if type_name == "StanzaMap":
            out[key] = _stanza_field(value, field.name)
        elif fdef.type in ex.schema:
            if field.selection is None:
                raise GraphQLError(
                    "The path refers to an Object, but no fields were specified",
                    "fieldless_object",
                    [ex.op_label, *path, key],
                )
            items = value[field.name]
            out[key] = [_render(ex, fdef.type, item, field.selection, path) for item in items]
        else:
            if field.selection is not None:
                raise GraphQLError(
                    "Cannot apply a selection set to a scalar field",
                    "selection_on_scalar",
                    [ex.op_label, *path, key],
                )
            out[key] = value[field.name]
    return out


def _stanza_field(row: ArchivedMessage, name: str) -> Any:
    if name == "sender":
        return row.sender
    if name == "timestamp":
        return format_datetime(row.timestamp_us)
    if name == "stanza_id":
        return row.external_id
    return row.stanza_xml()


def _check_variables(op: Operation, supplied: dict[str, Any], op_label: str) -> dict[str, Any]:
    """Coerce variables against the operation's declarations (``type_check_params``)."""
    values: dict[str, Any] = {}
    supplied = {k: v for k, v in supplied.items() if v is not None}  # remove_null_args
    for vdef in op.var_defs:
        path = [op_label, vdef.name]
        if vdef.name in supplied:
            raw = supplied[vdef.name]
        elif vdef.has_default:
            raw = vdef.default
        else:
            if vdef.type.non_null:
                raise GraphQLError(
                    "The parameter is non-null, but was undefined in parameter list",
                    "missing_non_null_param",
                    path,
                )
            continue
        if raw is None or vdef.type.name is None:
            values[vdef.name] = raw
            continue
        values[vdef.name] = _coerce(vdef.type.name, raw, path)
    return values


def _check_var_uses(
    ex: _Exec, op: Operation, type_name: str, fields: list[Field] | None, declared: set[str]
) -> None:
    """Reject undeclared variables and declared types that differ from the schema's."""
    decls = {v.name: v for v in op.var_defs}
    for field in fields or []:
        fdef = ex.schema.get(type_name, {}).get(field.name)
        if fdef is None:
            continue
        for arg, value in field.args.items():
            if not isinstance(value, Var) or arg not in fdef.args:
                continue
            if value.name not in declared:
                raise GraphQLError(
                    f"The document refers to a variable {value.name} but no such var exists. "
                    "Perhaps the variable is a typo?",
                    "unbound_variable",
                    [ex.op_label, field.key],
                )
            want = fdef.args[arg]
            have = decls[value.name].type
            if have.name != want.type or (
                want.non_null and not have.non_null and not decls[value.name].has_default
            ):
                raise GraphQLError(
                    f"Type mismatch on ({arg}). The query document has a value/variable of type "
                    f"({have}) but the schema expects type "
                    f"({want.type}{'!' if want.non_null else ''})",
                    "type_mismatch",
                    [ex.op_label, field.key, arg],
                )
        if fdef.type in ex.schema:
            _check_var_uses(ex, op, fdef.type, field.selection, declared)


def execute_graphql(
    archive: MessageArchive,
    role: Role,
    user: Jid | None,
    authorized: bool,
    query: Any,
    variables: Any,
    operation_name: Any,
    *,
    on_operation: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run one request's document; the JSON body to send with HTTP 200.

    Raises :class:`GraphQLError` for errors the server answers with 4xx.
    """
    ops = parse_document(query)
    op_name = operation_name if isinstance(operation_name, str) else None
    if op_name is not None:
        matching = [op for op in ops if op.name == op_name]
        if not matching:
            raise GraphQLError(
                f'Expected an operation <<"{op_name}">> but no such operation was found',
                "operation_not_found",
                [],
            )
        op = matching[0]
    elif len(ops) == 1:
        op = ops[0]
    else:
        raise GraphQLError(
            "Expected an operation undefined but no such operation was found",
            "operation_not_found",
            [],
        )
    if op.var_defs and op.name is None:
        raise GraphQLError(
            "Cannot supply parameter lists to unnamed (anonymous) queries",
            "unnamed_operation_params",
            [],
        )
    label = op_name if op_name is not None else "ROOT"
    ex = _Exec(archive, role, user, {}, label)
    _check_var_uses(ex, op, op.kind, op.selection, {v.name for v in op.var_defs})
    ex.variables = _check_variables(op, variables if isinstance(variables, dict) else {}, label)
    # type-check the whole selection before anything runs or authorisation is judged
    _type_check(ex, op.kind, op.selection, [])
    if not authorized:
        raise GraphQLError(
            f"Cannot execute query {label} without permissions", "no_permissions", [label], 401
        )
    if op.kind == "subscription":
        raise GraphQLError(
            "The http execution method does not support subscription operations.",
            "unsupported_operation",
        )
    if on_operation is not None:
        on_operation(op.kind)
    data = _resolve(ex, op.kind, op.selection, [])
    body: dict[str, Any] = {"data": data}
    if ex.errors:
        body["errors"] = ex.errors
    return body


def _type_check(ex: _Exec, type_name: str, fields: list[Field], path: list[Any]) -> None:
    for field in fields:
        checked = ex.field(type_name, field, path)
        if isinstance(checked, tuple):
            fdef, _ = checked
            if fdef.type in ex.schema and field.selection is not None:
                _type_check(ex, fdef.type, field.selection, [*path, field.key])
