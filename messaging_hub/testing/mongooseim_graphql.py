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
from messaging_hub.testing.mongooseim_gqlparse import (
    Field,
    GraphQLError,
    Operation,
    Var,
    parse_document,
)

__all__ = ["GraphQLError", "execute_graphql"]

Role = Literal["user", "admin"]


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

    def field(self, parent: str, field: Field, path: list[Any]) -> Any:
        here = [*path, field.key]
        if field.name == "__typename":
            if parent in ("query", "mutation", "subscription"):
                return f"{self.role.capitalize()}{parent.capitalize()}"
            return parent
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
        if parent in ("query", "mutation", "subscription") and field.selection is not None:
            # a category object (``stanza``): its fields are the resolvers
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
    """Shape a resolver's result after the (already type-checked) selection."""
    out: dict[str, Any] = {}
    for field in fields:
        if field.name == "__typename":
            out[field.key] = type_name
        elif type_name == "StanzaMap":
            out[field.key] = _stanza_field(value, field.name)
        elif field.selection is not None:
            item_type = ex.schema[type_name][field.name].type
            out[field.key] = [
                _render(ex, item_type, item, field.selection, path) for item in value[field.name]
            ]
        else:
            out[field.key] = value[field.name]
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
