"""Request parsing for the fake TextMagic server: pagination, error bodies
and the validation of ``POST /api/v2/messages``.

Rules come from the TextMagic v2 documentation: ``limit`` outside 1..100
is silently 10; phones must be E.164; at most 6 parts (``partsCount``)
unless ``cutExtra``; a 400 body is ``{code, message: "Validation Failed",
errors: {common: [...], fields: {param: [...]}}}``.
"""

from __future__ import annotations

import email.policy
import json
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from email.parser import BytesParser
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs
from aiohttp import web

from messaging_hub.testing.textmagic_state import (
    MAX_PARTS,
    Recipient,
    SendPlan,
    local_to_e164,
    normalise_phone,
)

__all__ = [
    "BULK_THRESHOLD",
    "Invalid",
    "PageArgs",
    "SendContext",
    "flag",
    "multipart_file",
    "page_args",
    "paginate",
    "parse_send",
    "read_params",
]

BULK_THRESHOLD = 1000  # "more than 1,000 recipients" makes a bulk session


class Invalid(Exception):
    """A validation failure, answered with a documented 400 body."""

    def __init__(
        self,
        fields: Mapping[str, list[str]] | None = None,
        common: list[str] | None = None,
        message: str = "Validation Failed",
    ) -> None:
        super().__init__(message)
        self.fields = dict(fields or {})
        self.common = list(common or [])
        self.message = message

    def body(self) -> dict[str, Any]:
        """The JSON error body."""
        return {
            "code": 400,
            "message": self.message,
            "errors": {"common": self.common, "fields": self.fields},
        }


@attrs.frozen
class PageArgs:
    """Validated ``page``/``limit`` (and ``lastId``) query parameters."""

    page: int
    limit: int
    last_id: int | None = None


def _int_or_none(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def page_args(request: web.Request, *, last_id: bool = False) -> PageArgs:
    """``page`` (default 1) and ``limit`` (1..100, anything else silently 10)."""
    page = _int_or_none(request.query.get("page")) or 1
    limit = _int_or_none(request.query.get("limit"))
    if limit is None or not 1 <= limit <= 100:
        limit = 10
    last = _int_or_none(request.query.get("lastId")) if last_id else None
    return PageArgs(page=max(page, 1), limit=limit, last_id=last)


class _HasId(Protocol):
    @property
    def id(self) -> int: ...


H = TypeVar("H", bound=_HasId)


def paginate(items: Sequence[H], args: PageArgs, render: Callable[[H], Any]) -> dict[str, Any]:
    """The ``{page, pageCount, limit, resources}`` envelope for one page."""
    page = args.page
    if args.last_id is not None:
        # "the 'page' parameter is ignored when 'lastId' is specified"
        items = [item for item in items if item.id < args.last_id]
        page = 1
    start = (page - 1) * args.limit
    return {
        "page": page,
        "pageCount": math.ceil(len(items) / args.limit),
        "limit": args.limit,
        "resources": [render(item) for item in items[start : start + args.limit]],
    }


def flag(value: Any) -> bool:
    """A 0/1 or boolean parameter (JSON, form or query) as a bool."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true"}


async def read_params(request: web.Request) -> dict[str, Any]:
    """The request body as a dict: JSON, or form-encoded as the docs allow."""
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        return {key: value for key, value in form.items() if isinstance(value, str)}
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise Invalid(common=["The request body is not valid JSON."]) from None
    if not isinstance(body, dict):
        raise Invalid(common=["The request body must be a JSON object."])
    return body


def multipart_file(content_type: str, body: bytes) -> tuple[str, bytes] | None:
    """The ``file`` part (file name, bytes) of a multipart/form-data body.

    Parsed from the bytes the request log already read: the request stream
    itself is spent by then.
    """
    if not content_type.startswith("multipart/form-data"):
        return None
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
            return part.get_filename() or "file", data
    return None


class SendContext(Protocol):
    """What validation needs to know about the fake account."""

    def lookup_template(self, template_id: int) -> str | None:
        """A template's content."""

    def lookup_contact(self, contact_id: int) -> Recipient | None:
        """A contact as a recipient."""

    def lookup_list(self, list_id: int) -> list[Recipient] | None:
        """A list's members as recipients."""

    def lookup_sender(self, sender: str) -> tuple[str, bool] | None:
        """An allowed sender id and whether it is a phone number."""

    def lookup_resource(self, resource: str) -> bool:
        """Whether an MMS resource name was uploaded."""

    @property
    def default_sender(self) -> str:
        """The account's own number (digits)."""

    def render(self, plan: SendPlan, recipient: Recipient) -> tuple[str, int, str]:
        """Merged text, parts count and charset for one recipient."""


class _Reader:
    """Typed access to send parameters, collecting field errors."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.params = params
        self.fields: dict[str, list[str]] = {}
        self.common: list[str] = []

    def error(self, name: str, text: str) -> None:
        self.fields.setdefault(name, []).append(text)

    def string(self, name: str) -> str | None:
        value = self.params.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            self.error(name, "This value should be of type string.")
            return None
        return value

    def integer(self, name: str) -> int | None:
        value = self.params.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        self.error(name, "This value should be of type integer.")
        return None

    def boolean(self, name: str) -> bool:
        value = self.params.get(name)
        if value is None or value == "":
            return False
        if isinstance(value, bool) or value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in {"0", "1", "true", "false"}:
            return flag(value)
        self.error(name, "This value should be of type boolean.")
        return False

    def ids(self, name: str) -> list[int]:
        raw = self.string(name)
        if raw is None:
            return []
        parts = [p.strip() for p in raw.split(",") if p.strip()]
        if not all(p.isdigit() for p in parts):
            self.error(name, "Comma-separated list of IDs expected.")
            return []
        return [int(p) for p in parts]


def _recipients(reader: _Reader, ctx: SendContext) -> list[Recipient]:
    found: dict[str, Recipient] = {}  # one message per phone
    local = reader.boolean("local")
    country = reader.string("localCountry") or "GB"  # the fake account's country
    phones = reader.string("phones")
    for raw in phones.split(",") if phones else []:
        raw = raw.strip()
        phone = local_to_e164(raw, country) if local else normalise_phone(raw)
        if phone is None:
            reader.error("phones", f"Phone number {raw!r} is not a valid E.164 number.")
        else:
            found.setdefault(phone, Recipient(phone))
    for contact_id in reader.ids("contacts"):
        contact = ctx.lookup_contact(contact_id)
        if contact is None:
            reader.error("contacts", f"Contact {contact_id} does not exist.")
        else:
            found[contact.phone] = contact
    for list_id in reader.ids("lists"):
        members = ctx.lookup_list(list_id)
        if members is None:
            reader.error("lists", f"List {list_id} does not exist.")
        for member in members or []:
            found[member.phone] = member
    return list(found.values())


def _send_time(reader: _Reader) -> datetime | None:
    timestamp = reader.integer("sendingTime")
    stamp = reader.string("sendingDateTime")
    zone_name = reader.string("sendingTimezone")
    if stamp is not None:
        try:
            local = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S")
        except ValueError:
            reader.error("sendingDateTime", "Expected Y-m-d H:i:s, e.g. 2020-05-27 13:02:33.")
            return None
        try:
            zone = ZoneInfo(zone_name) if zone_name else UTC
        except (ZoneInfoNotFoundError, ValueError):
            reader.error("sendingTimezone", f"Unknown timezone {zone_name!r}.")
            return None
        return local.replace(tzinfo=zone).astimezone(UTC)
    if timestamp is not None:
        return datetime.fromtimestamp(timestamp, UTC)
    return None


def parse_send(
    ctx: SendContext, params: Mapping[str, Any]
) -> tuple[SendPlan, datetime | None, str | None]:
    """Validate a send; return the plan, its sending time and its RRULE."""
    reader = _Reader(params)
    text = reader.string("text")
    template_id = reader.integer("templateId")
    if text is None and template_id is not None:
        text = ctx.lookup_template(template_id)
        if text is None:
            reader.error("templateId", f"Template {template_id} does not exist.")
    elif text is None and "templateId" not in reader.fields:
        reader.common.append("Either text or templateId must be specified.")
    recipients = _recipients(reader, ctx)
    if not recipients and not reader.fields:
        reader.common.append("Specify at least one recipient in phones, contacts or lists.")
    max_parts = reader.integer("partsCount")
    if max_parts is not None and not 1 <= max_parts <= MAX_PARTS:
        reader.error("partsCount", f"Must be between 1 and {MAX_PARTS}.")
    destination = reader.string("destination") or ("tts" if reader.boolean("tts") else "text")
    if destination not in {"text", "mms", "tts"}:
        reader.error("destination", "Allowed values are mms and tts.")
    resources = reader.string("resources")
    if destination == "mms" and resources is None:
        reader.error("resources", "An MMS needs an uploaded resource.")
    for resource in resources.split(",") if resources else []:
        if not ctx.lookup_resource(resource.strip()):
            reader.error("resources", f"Resource {resource.strip()!r} was not uploaded.")
    sender: tuple[str, bool] | None = (ctx.default_sender, True)
    raw_sender = reader.string("from")
    if raw_sender is not None:
        sender = ctx.lookup_sender(raw_sender)
        if sender is None:
            reader.error("from", f"Sender ID {raw_sender!r} is not allowed for this account.")
    reference = params.get("referenceId")
    if reference is not None and not isinstance(reference, int | str):
        reader.error("referenceId", "This value should be of type integer.")
    rrule = reader.string("rrule") or reader.string("rule")
    send_at = _send_time(reader)
    if rrule is not None and send_at is None and "sendingDateTime" not in reader.fields:
        reader.error("sendingTime", "sendingTime is required when rrule is set.")
    cut_extra = reader.boolean("cutExtra")
    create_chat = reader.boolean("createChat")
    if reader.fields or reader.common:
        raise Invalid(fields=reader.fields, common=reader.common)
    assert text is not None
    assert sender is not None
    plan = SendPlan(
        text=text,
        recipients=tuple(recipients),
        sender=sender[0],
        sender_is_number=sender[1],
        reference_id=None if reference is None else str(reference),
        destination=destination,
        max_parts=max_parts or MAX_PARTS,
        cut_extra=cut_extra,
        create_chat=create_chat,
    )
    if not cut_extra:
        # Too long for the allowed parts: 400 (cutExtra would trim instead).
        for recipient in recipients:
            _, parts, _ = ctx.render(plan, recipient)
            if parts > plan.max_parts:
                raise Invalid(fields={"text": [
                    f"Message is too long: it needs {parts} parts, "
                    f"at most {plan.max_parts} are allowed."
                ]})  # fmt: skip
    return plan, send_at, rrule
