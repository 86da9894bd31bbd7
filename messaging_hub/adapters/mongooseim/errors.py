"""Reading MongooseIM's error bodies and giving every failure its type.

The REST APIs answer errors with a bare JSON string (``"Invalid limit"``)
and an HTTP status; GraphQL answers ``{"errors": [{message, extensions:
{code}, path}]}`` with a 4xx for request errors and with **200** for
resolver errors. Both end up in :func:`typed`, which picks the error class
from the code where the code says more than the status (``unknown_user``
is a 400 on REST but means "no such user").
"""

from __future__ import annotations

from typing import Any

from multidict import CIMultiDictProxy

from ... import errors
from ...transport import ErrorInfo
from ...transport.body import loads_or_none

__all__ = ["graphql_error_parser", "raise_graphql_errors", "rest_error_parser", "typed"]

PROVIDER = "mongooseim"

# REST texts whose meaning is sharper than their status (mongoose_stanza_api refusals).
_REST_CODES = {
    "User does not exist": "unknown_user",
    "User's domain does not exist": "unknown_user",
    "Sender's JID is different from the user's JID": "invalid_sender",
}
# cowboy/mongoose_admin_api error types by status (throw_error(Type, Msg)).
_STATUS_CODES = {
    400: "bad_request",
    403: "denied",
    404: "not_found",
    409: "duplicate",
    500: "internal",
}

_BAD_REQUEST_CODES = frozenset(
    {
        "bad_request",
        "input_coercion",
        "no_sender",
        "parser_error",
        "parse_error",
        "scanner_error",
        "type_mismatch",
        "unknown_field",
        "unknown_argument",
        "non_null",
        "missing_non_null_param",
        "param_mismatch",
        "unbound_variable",
        "invalid_json_body",
        "no_query_supplied",
        "variables_invalid_json",
        "operation_not_found",
        "unnamed_operation_params",
        "fieldless_object",
        "selection_on_scalar",
        "unsupported_operation",
        "invalid_input",
    }
)
_CODE_ERRORS: dict[str, type[errors.ProviderError]] = {
    "unknown_user": errors.NotFound,
    "not_found": errors.NotFound,
    "no_permissions": errors.PermissionDenied,
    "invalid_sender": errors.PermissionDenied,
    "denied": errors.PermissionDenied,
    "wrong_credentials": errors.AuthenticationError,
    "request_errors": errors.BadRequest,
    "duplicate": errors.Conflict,
    "internal_server_error": errors.ProviderUnavailable,
    "resolver_crash": errors.ProviderUnavailable,
    "internal": errors.ProviderUnavailable,
    **{code: errors.BadRequest for code in _BAD_REQUEST_CODES},
}


def _loads(body: bytes) -> Any:
    return loads_or_none(body)


def rest_error_parser(status: int, body: bytes, headers: CIMultiDictProxy[str]) -> ErrorInfo:
    """Read a REST error: a JSON string (or nothing, e.g. for 401/405/415)."""
    data = _loads(body)
    message = data if isinstance(data, str) else None
    code = _REST_CODES.get(message or "") or _STATUS_CODES.get(status)
    return ErrorInfo(code=code, message=message, details=data)


def graphql_error_parser(status: int, body: bytes, headers: CIMultiDictProxy[str]) -> ErrorInfo:
    """Read a GraphQL error body sent with a 4xx/5xx status."""
    data = _loads(body)
    found = _first_error(data)
    if found is None:
        return ErrorInfo(details=data)
    code, message = found
    return ErrorInfo(code=code, message=message, details=data.get("errors"))


def _first_error(data: Any) -> tuple[str | None, str | None] | None:
    if not isinstance(data, dict) or not isinstance(data.get("errors"), list) or not data["errors"]:
        return None
    first = data["errors"][0]
    if not isinstance(first, dict):
        return None, None
    ext = first.get("extensions")
    code = ext.get("code") if isinstance(ext, dict) else None
    message = first.get("message")
    return (
        None if code is None else str(code),
        None if message is None else str(message),
    )


def typed(exc: errors.ProviderError) -> errors.ProviderError:
    """``exc`` re-typed after its provider code, when the code is known; else ``exc``."""
    cls = _CODE_ERRORS.get(exc.code or "")
    if cls is None or type(exc) is cls:
        return exc
    return _build(cls, exc.message, status=exc.status, code=exc.code, details=exc.details)


def _build(
    cls: type[errors.ProviderError],
    message: str,
    *,
    status: int | None,
    code: str | None,
    details: Any,
) -> errors.ProviderError:
    if cls is errors.ProviderUnavailable:
        # The server answered: it did process the request (and failed).
        return errors.ProviderUnavailable(
            message,
            provider=PROVIDER,
            status=status,
            code=code,
            details=details,
            may_have_been_processed=True,
        )
    return cls(message, provider=PROVIDER, status=status, code=code, details=details)


def raise_graphql_errors(data: Any, status: int) -> None:
    """Raise the typed error for a GraphQL body that carries ``errors``.

    Used on 2xx answers: the transport saw success, but a resolver failed.
    """
    found = _first_error(data)
    if found is None:
        return
    code, message = found
    cls = _CODE_ERRORS.get(code or "", errors.ProviderError)
    raise _build(
        cls,
        message or "the GraphQL request failed",
        status=status,
        code=code,
        details=data.get("errors"),
    )
