"""In-memory message store, wire rendering and small parsers for the fake
RingCentral server (:mod:`messaging_hub.testing.ringcentral`).

Nothing here is shared with the library's RingCentral adapter: the shapes
come from the RingCentral Platform OpenAPI document and its examples.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import attrs
from aiohttp import web

__all__ = [
    "ApiError",
    "MultipartPart",
    "StoredAttachment",
    "StoredMessage",
    "api_error",
    "error_body",
    "format_time",
    "parse_multipart",
    "parse_time",
    "utf16_length",
]

MESSAGE_TYPES = ("Fax", "SMS", "VoiceMail", "Pager", "Text")
DIRECTIONS = ("Inbound", "Outbound")
READ_STATUSES = ("Read", "Unread")
AVAILABILITIES = ("Alive", "Deleted", "Purged")
MESSAGE_STATUSES = ("Queued", "Sent", "Delivered", "DeliveryFailed", "SendingFailed", "Received")

# Conversation ids in RingCentral's documents exceed 2**53, which breaks
# clients that parse JSON numbers as doubles; the fake keeps that property.
CONVERSATION_ID_BASE = 8_234_962_969_801_171_948
MESSAGE_ID_BASE = 1_724_099_032_020


def format_time(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z``, as RingCentral writes it."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(value: str) -> datetime:
    """Parse an ISO 8601 date or date-time; naive values are taken as UTC."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units: RingCentral counts a 4-byte character as two."""
    return len(text.encode("utf-16-le")) // 2


# -- errors -----------------------------------------------------------------


class ApiError(Exception):
    """An error answer a handler raises; rendered by :func:`api_error`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        parameter: str | None = None,
        oauth_error: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.parameter = parameter
        self.oauth_error = oauth_error

    @classmethod
    def missing(cls, parameter: str) -> ApiError:
        """400 CMN-100: a mandatory parameter is absent."""
        return cls(400, "CMN-100", f"Mandatory parameter [{parameter}] not specified", parameter)

    @classmethod
    def invalid(cls, parameter: str, status: int = 400) -> ApiError:
        """400 CMN-101: a parameter value is invalid."""
        return cls(status, "CMN-101", f"Parameter [{parameter}] value is invalid", parameter)

    @classmethod
    def not_found(cls, parameter: str) -> ApiError:
        """404 CMN-102: the resource named by ``parameter`` does not exist."""
        return cls(404, "CMN-102", f"Resource for parameter [{parameter}] is not found", parameter)

    def body(self) -> dict[str, Any]:
        """The JSON body for this error."""
        return error_body(self.code, self.message, self.parameter, self.oauth_error)


def error_body(
    code: str, message: str, parameter: str | None = None, oauth_error: str | None = None
) -> dict[str, Any]:
    """An error body in the shape of the official samples.

    The spec model is ``{errors: [...]}``; real answers (the batch sample and
    the 429 sample) also repeat ``errorCode``/``message`` at the top level,
    and OAuth endpoints add ``error``/``error_description``.
    """
    entry: dict[str, Any] = {"errorCode": code, "message": message}
    if parameter is not None:
        entry["parameterName"] = parameter
    body: dict[str, Any] = {}
    if oauth_error is not None:
        body["error"] = oauth_error
        body["error_description"] = message
    body.update({"errorCode": code, "message": message, "errors": [entry]})
    if parameter is not None:
        body["parameterName"] = parameter
    return body


def api_error(error: ApiError, headers: Mapping[str, str] | None = None) -> web.Response:
    """The HTTP response for ``error``."""
    return web.json_response(error.body(), status=error.status, headers=headers)


# -- stored state -----------------------------------------------------------


@attrs.define
class StoredAttachment:
    """One attachment of a stored message, with its bytes."""

    id: int
    type: str
    content_type: str
    content: bytes
    file_name: str | None = None
    vm_duration: int | None = None

    @property
    def size(self) -> int:
        """Size in bytes."""
        return len(self.content)


@attrs.define
class StoredMessage:
    """A message record in the fake's message store."""

    id: int
    type: str
    direction: str
    sender: dict[str, Any]
    recipients: list[dict[str, Any]]
    text: str
    creation_time: datetime
    last_modified_time: datetime
    message_status: str
    read_status: str = "Unread"
    availability: str = "Alive"
    priority: str = "Normal"
    conversation_id: int | None = None
    attachments: list[StoredAttachment] = attrs.field(factory=list)
    extra: dict[str, Any] = attrs.field(factory=dict)
    sequence: int = 0

    @property
    def from_number(self) -> str | None:
        """The sender's phone number, if any."""
        value = self.sender.get("phoneNumber")
        return value if isinstance(value, str) else None

    @property
    def to_numbers(self) -> list[str]:
        """The recipients' phone numbers."""
        return [r["phoneNumber"] for r in self.recipients if isinstance(r.get("phoneNumber"), str)]

    def parties(self) -> Iterable[str]:
        """Every phone number or extension number on the message."""
        for party in (self.sender, *self.recipients):
            for key in ("phoneNumber", "extensionNumber"):
                value = party.get(key)
                if isinstance(value, str):
                    yield value

    def render(self, message_uri: str, media_uri: str, conversation_root: str) -> dict[str, Any]:
        """The GetMessageInfoResponse JSON object for this message.

        ``message_uri`` is the canonical URI, ``media_uri`` the same path on
        the media entry point (attachment content), ``conversation_root`` the
        ``.../restapi/v1.0/conversation`` URI.
        """
        body: dict[str, Any] = {
            "uri": message_uri,
            "id": self.id,
            "to": [dict(r) for r in self.recipients],
            "from": dict(self.sender),
            "type": self.type,
            "creationTime": format_time(self.creation_time),
            "readStatus": self.read_status,
            "priority": self.priority,
            "attachments": [
                _render_attachment(a, f"{media_uri}/content/{a.id}")
                for a in (self.attachments if self.availability != "Purged" else [])
            ],
            "direction": self.direction,
            "availability": self.availability,
            "messageStatus": self.message_status,
            "lastModifiedTime": format_time(self.last_modified_time),
        }
        if self.type != "VoiceMail":
            body["subject"] = self.text
        if self.conversation_id is not None:
            body["conversationId"] = self.conversation_id
            body["conversation"] = {
                "id": str(self.conversation_id),
                "uri": f"{conversation_root}/{self.conversation_id}",
            }
        body.update(self.extra)
        return body


def _render_attachment(attachment: StoredAttachment, uri: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": attachment.id,
        "uri": uri,
        "type": attachment.type,
        "contentType": attachment.content_type,
        "size": attachment.size,
    }
    if attachment.file_name is not None:
        body["fileName"] = attachment.file_name
    if attachment.vm_duration is not None:
        body["vmDuration"] = attachment.vm_duration
    return body


# -- multipart ----------------------------------------------------------------


@attrs.frozen
class MultipartPart:
    """One part of a multipart request body."""

    headers: Mapping[str, str]
    data: bytes
    name: str | None
    filename: str | None
    content_type: str

    def text(self) -> str:
        """The part's data decoded as UTF-8."""
        return self.data.decode("utf-8")


_PARAM = re.compile(r';\s*([\w*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))')


def header_params(value: str) -> dict[str, str]:
    """The ``; key=value`` parameters of a structured header, keys lowercased."""
    return {
        m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
        for m in _PARAM.finditer(value)
    }


def parse_multipart(content_type_header: str, body: bytes) -> list[MultipartPart]:
    """Split a ``multipart/*`` body into parts.

    The recording middleware has already consumed the request stream, so the
    fake parses the cached bytes itself. Accepts CRLF and bare LF line ends
    (the official fax samples use LF).
    """
    boundary = header_params(content_type_header).get("boundary")
    if not boundary:
        raise ApiError(400, "CMN-101", "Multipart boundary is not specified")
    delimiter = b"--" + boundary.encode("latin-1")
    chunks = body.split(delimiter)
    parts: list[MultipartPart] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        if chunk.startswith(b"\r\n"):
            chunk = chunk[2:]
        elif chunk.startswith(b"\n"):
            chunk = chunk[1:]
        crlf, lf = chunk.find(b"\r\n\r\n"), chunk.find(b"\n\n")
        if chunk.startswith(b"\r\n"):
            raw_headers, data = b"", chunk[2:]
        elif chunk.startswith(b"\n"):
            raw_headers, data = b"", chunk[1:]
        elif crlf >= 0 and (lf < 0 or crlf < lf):
            raw_headers, data = chunk[:crlf], chunk[crlf + 4 :]
        elif lf >= 0:
            raw_headers, data = chunk[:lf], chunk[lf + 2 :]
        else:
            raw_headers, data = chunk, b""
        if data.endswith(b"\r\n"):
            data = data[:-2]
        elif data.endswith(b"\n"):
            data = data[:-1]
        headers: dict[str, str] = {}
        for line in raw_headers.decode("utf-8", "replace").splitlines():
            if ":" in line:
                key, value = line.split(":", 1)
                headers[key.strip().lower()] = value.strip()
        disposition = header_params(headers.get("content-disposition", ""))
        filename = disposition.get("filename")
        parts.append(
            MultipartPart(
                headers=headers,
                data=data,
                name=disposition.get("name"),
                filename=filename or None,
                content_type=headers.get("content-type", "text/plain").split(";")[0].strip(),
            )
        )
    return parts
