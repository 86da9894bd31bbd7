"""The GraphQL side of :class:`FakeMongooseIM`: graphql-core parses and
validates each document against the ``stanza`` schema, then a resolver walk
over the validated document answers it from the archive.

graphql-core does the language (lexing, parsing, fragments, ``@skip`` and
``@include``, the spec's validation rules); the walk does what MongooseIM
does its own way: input coercion of its scalars (``JID``, ``PosInt``,
``DateTime``) with its messages, refusing parameter lists on anonymous
operations, checking permissions after type checking, and resolver errors.

Error shapes follow MongooseIM 6.5.0 (``mongoose_graphql_errors``): phase
errors (parse, validation, input coercion) are HTTP 400 with
``{"errors": [{message, extensions: {code}, path}]}`` and no ``data``;
resolver errors are HTTP 200 with the field set to ``null`` in ``data`` and
an error carrying ``extensions.code`` plus context (``from``/``user``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import attrs

try:
    from graphql import (
        BREAK,
        ArgumentNode,
        ASTValidationRule,
        DocumentNode,
        FieldNode,
        FieldsOnCorrectTypeRule,
        FragmentDefinitionNode,
        FragmentSpreadNode,
        GraphQLIncludeDirective,
        GraphQLObjectType,
        GraphQLSchema,
        GraphQLSkipDirective,
        GraphQLSyntaxError,
        InlineFragmentNode,
        KnownArgumentNamesRule,
        Lexer,
        ListTypeNode,
        NamedTypeNode,
        Node,
        NonNullTypeNode,
        NoUndefinedVariablesRule,
        NullValueNode,
        OperationDefinitionNode,
        OperationType,
        ProvidedRequiredArgumentsRule,
        ScalarLeafsRule,
        SelectionNode,
        SelectionSetNode,
        Source,
        TokenKind,
        TypeNode,
        Undefined,
        ValuesOfCorrectTypeRule,
        VariableNode,
        VariablesInAllowedPositionRule,
        Visitor,
        build_schema,
        execute_sync,
        get_directive_values,
        get_named_type,
        is_non_null_type,
        is_object_type,
        parse,
        specified_rules,
        validate,
        value_from_ast_untyped,
        visit,
    )
    from graphql import GraphQLError as _CoreError
except ImportError as exc:  # pragma: no cover - tested in a subprocess without graphql-core
    raise ImportError(
        "FakeMongooseIM's GraphQL API needs graphql-core: pip install 'messaging-hub[testing]'"
    ) from exc

from messaging_hub.testing.mongooseim_archive import (
    ArchivedMessage,
    Jid,
    MessageArchive,
    SendError,
    parse_jid,
)
from messaging_hub.testing.mongooseim_schema import GraphQLError, Role, SdlSource, schema_text

__all__ = ["GraphQLEndpoint", "GraphQLError", "Subscription", "format_datetime"]

# What the walk can answer, by type: anything else the schema declares (the
# official SDL has more, e.g. ``sendStanza``) is refused before it runs.
SERVED: dict[str, frozenset[str]] = {
    **{f"{r}{k}": frozenset({"stanza"}) for r in ("User", "Admin") for k in ("Query", "Mutation")},
    "StanzaUserQuery": frozenset({"getLastMessages"}),
    "StanzaAdminQuery": frozenset({"getLastMessages"}),
    "StanzaUserMutation": frozenset({"sendMessage", "sendMessageHeadLine"}),
    "StanzaAdminMutation": frozenset({"sendMessage", "sendMessageHeadLine"}),
    "StanzasPayload": frozenset({"stanzas", "limit"}),
    "StanzaMap": frozenset({"sender", "timestamp", "stanza_id", "stanza"}),
    "SendStanzaPayload": frozenset({"id"}),
}
_INTROSPECTION = frozenset({"__schema", "__type", "__typename"})


# -- input coercion (MongooseIM's scalar modules, with its messages) ---------------------


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
    if type_name == "String" and not isinstance(value, str):
        raise GraphQLError(
            f"The parameter value {_erl_repr(value)} is not of type String",
            "param_mismatch",
            path,
        )
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


# -- parsing and validation ----------------------------------------------------------


def _parse(query: str) -> DocumentNode:
    """Scan, then parse: MongooseIM reports the two phases with their own codes."""
    try:
        lexer = Lexer(Source(query))
        while lexer.advance().kind is not TokenKind.EOF:
            pass
    except GraphQLSyntaxError as err:
        raise GraphQLError(_syntax_message("scan", err), "scanner_error") from None
    try:
        return parse(query)
    except GraphQLSyntaxError as err:
        raise GraphQLError(_syntax_message("parse", err), "parser_error") from None


def _syntax_message(verb: str, err: GraphQLSyntaxError) -> str:
    """``Cannot parse line N because of ...`` (mongoose_graphql_errors' wording)."""
    line = err.locations[0].line if err.locations else 1
    detail = err.message.removeprefix("Syntax Error: ").rstrip(".")
    return f"Cannot {verb} line {line} because of {detail}"


class _AncestorFinder(Visitor):
    """Finds the nodes enclosing one node (to build a MongooseIM error path)."""

    def __init__(self, target: Node) -> None:
        super().__init__()
        self.target = target
        self.found: list[Node] = []

    def enter(self, node: Node, *args: Any) -> Any:
        if node is self.target:
            _key, parent, _path, ancestors = args  # ancestors stop short of the parent
            chain: Sequence[Any] = [*ancestors, parent, node]
            self.found = [item for item in chain if isinstance(item, Node)]
            return BREAK
        return None


def _path_to(document: DocumentNode, node: Node | None) -> list[Any]:
    """``[operation, field keys..., argument]`` down to ``node``, as MongooseIM reports it."""
    if node is None:
        return []
    finder = _AncestorFinder(node)
    visit(document, finder)
    path: list[Any] = []
    for item in finder.found:
        if isinstance(item, OperationDefinitionNode):
            path.append(item.name.value if item.name else "ROOT")
        elif isinstance(item, FragmentDefinitionNode):
            path.append(item.name.value)
        elif isinstance(item, FieldNode):
            path.append((item.alias or item.name).value)
        elif isinstance(item, ArgumentNode):
            path.append(item.name.value)
    return path


def _named(node: Node | None) -> str:
    name = getattr(node, "name", None)
    return str(getattr(name, "value", "?"))


def _validation_error(
    rule: type[ASTValidationRule] | None, error: _CoreError, document: DocumentNode
) -> GraphQLError:
    """One graphql-core validation error as MongooseIM words and codes it."""
    node = error.nodes[0] if error.nodes else None
    if rule is VariablesInAllowedPositionRule and error.nodes:
        node = error.nodes[-1]  # where the variable is used, not where it is declared
    path = _path_to(document, node)
    if rule is FieldsOnCorrectTypeRule:
        message = f"The query refers to a field, {_named(node)}, which is not present in the schema"
        return GraphQLError(message, "unknown_field", path)
    if rule is KnownArgumentNamesRule:
        message = (
            f"The query refers to an argument, {_named(node)}, which is not present in the schema"
        )
        return GraphQLError(message, "unknown_argument", path[:-1])
    if rule is NoUndefinedVariablesRule:
        message = (
            f"The document refers to a variable {_named(node)} but no such var exists. "
            "Perhaps the variable is a typo?"
        )
        return GraphQLError(message, "unbound_variable", path)
    if rule is ScalarLeafsRule:
        if "must have a selection" in error.message:
            message = "The path refers to an Object, but no fields were specified"
            return GraphQLError(message, "fieldless_object", path)
        message = "Cannot apply a selection set to a scalar field"
        return GraphQLError(message, "selection_on_scalar", path)
    if rule is ProvidedRequiredArgumentsRule or (
        rule is ValuesOfCorrectTypeRule and isinstance(node, NullValueNode)
    ):
        message = "The value is null in a non-null context"
        return GraphQLError(message, "non_null", path)
    if rule is ValuesOfCorrectTypeRule:
        return GraphQLError(error.message, "param_mismatch", path)
    if rule is VariablesInAllowedPositionRule:
        return GraphQLError(error.message, "type_mismatch", path)
    return GraphQLError(error.message, "validation_error", path)


def _validate(schema: GraphQLSchema, document: DocumentNode) -> None:
    """Run the spec's validation rules; raise the first error as MongooseIM would."""
    found = validate(schema, document)
    if not found:
        return
    first = found[0]
    # validate() does not say which rule failed: rerun the rules one by one to find it
    for rule in specified_rules:
        if any(e.message == first.message for e in validate(schema, document, [rule])):
            raise _validation_error(rule, first, document)
    raise _validation_error(None, first, document)  # pragma: no cover - some rule failed


# -- execution --------------------------------------------------------------------------


class _ResolverError(Exception):
    def __init__(self, error: SendError, context: dict[str, str]) -> None:
        super().__init__(error.message)
        self.error = error
        self.context = context


@attrs.frozen
class _Step:
    """A selected field, type-checked and with its arguments coerced."""

    key: str
    name: str
    args: dict[str, Any]
    type_name: str
    children: list[_Step] | None


@attrs.define
class _Walk:
    schema: GraphQLSchema
    document: DocumentNode
    label: str
    variables: dict[str, Any]
    check_served: bool
    fragments: dict[str, FragmentDefinitionNode] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.fragments = {
            d.name.value: d
            for d in self.document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }

    def included(self, node: SelectionNode) -> bool:
        skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
        if skip is not None and skip.get("if") is True:
            return False
        include = get_directive_values(GraphQLIncludeDirective, node, self.variables)
        return include is None or include.get("if") is True

    def collect(
        self, selection_set: SelectionSetNode, into: dict[str, list[FieldNode]]
    ) -> dict[str, list[FieldNode]]:
        """Fields by response key, fragments expanded (every type here is an object
        type, so a valid fragment always applies)."""
        for sel in selection_set.selections or ():
            if not self.included(sel):
                continue
            if isinstance(sel, FieldNode):
                into.setdefault((sel.alias or sel.name).value, []).append(sel)
            elif isinstance(sel, InlineFragmentNode):
                self.collect(sel.selection_set, into)
            elif isinstance(sel, FragmentSpreadNode):
                self.collect(self.fragments[sel.name.value].selection_set, into)
        return into

    def plan(
        self, parent: GraphQLObjectType, selections: list[SelectionSetNode], path: list[Any]
    ) -> list[_Step]:
        grouped: dict[str, list[FieldNode]] = {}
        for selection_set in selections:
            self.collect(selection_set, grouped)
        steps: list[_Step] = []
        for key, nodes in grouped.items():
            name = nodes[0].name.value
            here = [*path, key]
            if name == "__typename":
                steps.append(_Step(key, name, {}, "String", None))
                continue
            if self.check_served and name not in SERVED.get(parent.name, ()):
                raise GraphQLError(
                    f"{parent.name}.{name} is in the schema but not served by this fake",
                    "unsupported_by_fake",
                    [self.label, *here],
                )
            field = parent.fields[name]
            args = self.arguments(field.args, nodes[0], [self.label, *here])
            named = get_named_type(field.type)
            children = None
            if is_object_type(named):
                assert isinstance(named, GraphQLObjectType)
                subs = [n.selection_set for n in nodes if n.selection_set is not None]
                children = self.plan(named, subs, here)
            steps.append(_Step(key, name, args, named.name, children))
        return steps

    def arguments(self, defs: dict[str, Any], node: FieldNode, path: list[Any]) -> dict[str, Any]:
        # graphql-core 3.3 leaves absent lists as None (3.2: empty tuples).
        given = {arg.name.value: arg.value for arg in node.arguments or ()}
        args: dict[str, Any] = {}
        for name, adef in defs.items():
            value_node = given.get(name)
            raw: Any = None
            if isinstance(value_node, VariableNode):
                raw = self.variables.get(value_node.name.value)
            elif value_node is not None and not isinstance(value_node, NullValueNode):
                value = value_from_ast_untyped(value_node, self.variables)
                raw = _coerce(get_named_type(adef.type).name, value, [*path, name])
            if raw is None:
                if is_non_null_type(adef.type):
                    raise GraphQLError(
                        "The value is null in a non-null context", "non_null", [*path, name]
                    )
                raw = None if adef.default_value is Undefined else adef.default_value
            args[name] = raw
        return args


def _declared_type(node: TypeNode) -> tuple[str | None, bool]:
    """A variable's declared named type (None for a list) and whether it is non-null."""
    non_null = isinstance(node, NonNullTypeNode)
    inner = node.type if isinstance(node, NonNullTypeNode) else node
    if isinstance(inner, ListTypeNode) or not isinstance(inner, NamedTypeNode):
        return None, non_null
    return inner.name.value, non_null


def _check_variables(
    op: OperationDefinitionNode, supplied: dict[str, Any], label: str
) -> dict[str, Any]:
    """Coerce variables against the operation's declarations (``type_check_params``)."""
    values: dict[str, Any] = {}
    supplied = {k: v for k, v in supplied.items() if v is not None}  # remove_null_args
    for vdef in op.variable_definitions or ():
        name = vdef.variable.name.value
        type_name, non_null = _declared_type(vdef.type)
        path = [label, name]
        if name in supplied:
            raw = supplied[name]
        elif vdef.default_value is not None:
            raw = value_from_ast_untyped(vdef.default_value)
        else:
            if non_null:
                raise GraphQLError(
                    "The parameter is non-null, but was undefined in parameter list",
                    "missing_non_null_param",
                    path,
                )
            continue
        values[name] = raw if raw is None or type_name is None else _coerce(type_name, raw, path)
    return values


def _pick_operation(document: DocumentNode, name: Any) -> OperationDefinitionNode:
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if isinstance(name, str):
        for op in ops:
            if op.name is not None and op.name.value == name:
                return op
        raise GraphQLError(
            f'Expected an operation <<"{name}">> but no such operation was found',
            "operation_not_found",
            [],
        )
    if len(ops) == 1:
        return ops[0]
    raise GraphQLError(
        "Expected an operation undefined but no such operation was found",
        "operation_not_found",
        [],
    )


@attrs.define
class GraphQLEndpoint:
    """One role's schema (built once) and the answers to documents sent to it."""

    archive: MessageArchive
    role: Role
    source: SdlSource = "auto"
    _schema: GraphQLSchema | None = None

    @property
    def schema(self) -> GraphQLSchema:
        """The schema documents are validated against (built on first use)."""
        if self._schema is None:
            text, _ = schema_text(self.role, self.source)
            self._schema = build_schema(text)
        return self._schema

    def execute(
        self,
        user: Jid | None,
        authorized: bool,
        query: str,
        variables: dict[str, Any],
        operation_name: Any,
    ) -> dict[str, Any]:
        """Run one request's document; the JSON body to send with HTTP 200.

        Raises :class:`GraphQLError` for errors the server answers with 4xx.
        """
        document, op, root, plan, _, introspection = self._prepare(
            authorized, query, variables, operation_name
        )
        if op.operation is OperationType.SUBSCRIPTION:
            raise GraphQLError(
                "The http execution method does not support subscription operations.",
                "unsupported_operation",
            )
        if introspection:
            name = op.name.value if op.name is not None else None
            result = execute_sync(
                self.schema, document, variable_values=variables, operation_name=name
            )
            return dict(result.formatted)
        return self._run(root.name, plan, user)

    def subscribe(
        self,
        user: Jid | None,
        authorized: bool,
        query: str,
        variables: dict[str, Any],
        operation_name: Any,
    ) -> Subscription:
        """Prepare a subscription sent to ``<endpoint>/sse`` (``mongoose_graphql_sse_handler``).

        Raises :class:`GraphQLError` for what the server answers with 4xx;
        a resolver refusal (unknown ``caller``) comes back as
        :attr:`Subscription.refusal`, a body the server sends with HTTP 200.
        """
        _, op, _, plan, _, _ = self._prepare(authorized, query, variables, operation_name)
        if op.operation is not OperationType.SUBSCRIPTION:
            raise GraphQLError(
                f"The sse execution method does not support {op.operation.value} operations.",
                "unsupported_operation",
            )
        (category,) = plan  # the schema's one subscription category, ``stanza``
        assert category.children is not None
        (step,) = category.children
        caller = step.args.get("caller") if self.role == "admin" else user
        assert isinstance(caller, Jid)
        refusal = self.archive.check_user(caller) if self.role == "admin" else None
        if refusal is not None:
            error = {
                "message": refusal.message,
                "extensions": {"caller": str(caller), "code": refusal.code},
                "path": [category.key, step.key],
            }
            body = {"data": {category.key: {step.key: None}}, "errors": [error]}
            return Subscription(caller, category.key, step, body)
        return Subscription(caller, category.key, step, None)

    def _prepare(
        self, authorized: bool, query: str, variables: dict[str, Any], operation_name: Any
    ) -> tuple[DocumentNode, OperationDefinitionNode, GraphQLObjectType, list[_Step], str, bool]:
        """Parse, validate, coerce and plan a document, then judge authorisation."""
        document = _parse(query)
        _validate(self.schema, document)
        op = _pick_operation(document, operation_name)
        if op.variable_definitions and op.name is None:
            raise GraphQLError(
                "Cannot supply parameter lists to unnamed (anonymous) queries",
                "unnamed_operation_params",
                [],
            )
        label = operation_name if isinstance(operation_name, str) else "ROOT"
        values = _check_variables(op, variables, label)
        root = self.schema.get_root_type(op.operation)
        assert root is not None  # validation refuses operations the schema has no root for
        subscription = op.operation is OperationType.SUBSCRIPTION
        walk = _Walk(self.schema, document, label, values, check_served=not subscription)
        # A query of introspection fields only is answered by graphql-core itself.
        introspection = all(
            isinstance(f, FieldNode) and f.name.value in _INTROSPECTION
            for f in op.selection_set.selections
        )
        # type-check the whole selection before anything runs or authorisation is judged
        plan = [] if introspection else walk.plan(root, [op.selection_set], [])
        if not authorized:
            raise GraphQLError(
                f"Cannot execute query {label} without permissions", "no_permissions", [label], 401
            )
        return document, op, root, plan, label, introspection

    def _run(self, root: str, plan: list[_Step], user: Jid | None) -> dict[str, Any]:
        errors: list[dict[str, Any]] = []
        data: dict[str, Any] = {}
        for category in plan:
            if category.children is None:  # __typename
                data[category.key] = root
                continue
            out: dict[str, Any] = {}
            for step in category.children:
                if step.children is None:
                    out[step.key] = category.type_name
                    continue
                try:
                    value = self._call(step.name, step.args, user)
                except _ResolverError as err:
                    errors.append(
                        {
                            "message": err.error.message,
                            "extensions": {**err.context, "code": err.error.code},
                            "path": [category.key, step.key],
                        }
                    )
                    out[step.key] = None
                    continue
                out[step.key] = _render(step.type_name, value, step.children)
            data[category.key] = out
        body: dict[str, Any] = {"data": data}
        if errors:
            body["errors"] = errors
        return body

    def _call(self, name: str, args: dict[str, Any], user: Jid | None) -> dict[str, Any]:
        archive = self.archive
        admin = self.role == "admin"
        if name == "getLastMessages":
            caller = args["caller"] if admin else user
            assert isinstance(caller, Jid)  # an authorized user, or the coerced JID! argument
            context = {"user": str(caller)}
            if admin:
                refusal = archive.check_user(caller)
                if refusal is not None:
                    raise _ResolverError(refusal, context)
            limit = archive.effective_limit(args["limit"])
            rows = archive.lookup(caller, args["with"], args["before"], limit)
            return {"stanzas": rows, "limit": limit}
        headline = name == "sendMessageHeadLine"
        result = archive.send(
            user=None if admin else user,
            from_jid=args["from"],
            to=args["to"],
            body=args["body"],
            subject=args.get("subject"),
            message_type="headline" if headline else "chat",
        )
        if isinstance(result, SendError):
            raise _ResolverError(result, {"from": str(args["from"])} if admin else {})
        return {"id": result}


@attrs.frozen
class Subscription:
    """A prepared ``subscribeForMessages``: whose messages, and how each event looks."""

    caller: Jid
    category: str
    step: _Step
    refusal: dict[str, Any] | None
    """The body answered with HTTP 200 instead of a stream (the resolver refused)."""

    def event(self, row: ArchivedMessage, pushed_us: int) -> dict[str, Any] | None:
        """The event data for a message routed to the caller (``handle_event``)."""
        assert self.step.children is not None
        value = _render(self.step.type_name, row, self.step.children, pushed_us=pushed_us)
        return {"data": {self.category: {self.step.key: value}}}


def _render(type_name: str, value: Any, steps: list[_Step], *, pushed_us: int | None = None) -> Any:
    """Shape a resolver's result after the (already type-checked) selection."""
    out: dict[str, Any] = {}
    for step in steps:
        if step.name == "__typename":
            out[step.key] = type_name
            continue
        item = (
            _stanza_field(value, step.name, pushed_us)
            if type_name == "StanzaMap"
            else value[step.name]
        )
        if step.children is None or item is None:
            out[step.key] = item
        elif isinstance(item, list):
            out[step.key] = [_render(step.type_name, each, step.children) for each in item]
        else:
            out[step.key] = _render(step.type_name, item, step.children)
    return out


def _stanza_field(row: ArchivedMessage, name: str, pushed_us: int | None = None) -> Any:
    """A ``StanzaMap`` field: from the archive (``row_to_map``) or, with
    ``pushed_us``, as a subscription sends it (``handle_event``: the push
    time, and the stanza's own ``id`` attribute instead of the MAM id)."""
    if name == "sender":
        return row.sender
    if name == "timestamp":
        return format_datetime(row.timestamp_us if pushed_us is None else pushed_us)
    if name == "stanza_id":
        return row.external_id if pushed_us is None else row.stanza_id
    return row.stanza_xml()
