"""RingCentral error bodies -> :class:`~messaging_hub.transport.ErrorInfo`.

The spec's model is ``{errors: [{errorCode, message, parameterName?}]}``;
real answers also repeat ``errorCode``/``message`` (and ``parameterName``)
at the top level, and the OAuth endpoints add ``error`` and
``error_description``. The code kept is RingCentral's (``CMN-102``,
``OAU-140``), else the OAuth error. Parameter names become field errors on
400/415/422 answers only: on a 404 (``CMN-102`` names ``messageId``) they
stay in ``details`` so the error remains a NotFound.
"""

from __future__ import annotations

from typing import Any

import cattrs
from multidict import CIMultiDictProxy

from ...transport import ErrorInfo
from ...transport.body import loads
from .wire import ApiErrorBody, converter

__all__ = ["parse_error", "parse_error_body"]

_FIELD_ERROR_STATUSES = frozenset({400, 415, 422})


def parse_error_body(data: Any) -> ApiErrorBody | None:
    """The typed error body, or ``None`` when ``data`` is not one."""
    if not isinstance(data, dict):
        return None
    try:
        return converter.structure(data, ApiErrorBody)
    except (cattrs.BaseValidationError, ValueError, TypeError):
        return None


def error_info(status: int, body: ApiErrorBody, raw: Any = None) -> ErrorInfo:
    """The ErrorInfo for a typed error body answered with ``status``."""
    fields: dict[str, list[str]] = {}
    for entry in body.errors:
        if entry.parameter_name:
            fields.setdefault(entry.parameter_name, []).append(
                entry.message or entry.error_code or "invalid"
            )
    if body.parameter_name and body.parameter_name not in fields:
        fields[body.parameter_name] = [body.text or body.code or "invalid"]
    details: dict[str, Any] = {"body": raw if raw is not None else body}
    if body.error:
        details["oauth_error"] = body.error
    if fields:
        details["parameters"] = fields
    return ErrorInfo(
        code=body.code,
        message=body.text,
        details=details,
        field_errors=fields if fields and status in _FIELD_ERROR_STATUSES else None,
    )


def parse_error(status: int, body: bytes, headers: CIMultiDictProxy[str]) -> ErrorInfo:
    """The transport's error parser for RingCentral answers."""
    try:
        data = loads(body)
    except ValueError:
        text = body[:200].decode("utf-8", "replace").strip()
        # HTML error pages from proxies say nothing useful; plain text might.
        if text and not text.startswith("<"):
            return ErrorInfo(message=text)
        return ErrorInfo()
    typed = parse_error_body(data)
    if typed is None:
        return ErrorInfo(message=data if isinstance(data, str) else None, details=data)
    return error_info(status, typed, data)
