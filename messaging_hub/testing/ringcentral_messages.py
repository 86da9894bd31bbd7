"""Message-store, message-sync and fax cover page handlers of the fake
RingCentral server."""

from __future__ import annotations

import base64
import json
import math
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import attrs
from aiohttp import web

from messaging_hub.testing.ringcentral_state import (
    CONTENT_CHUNK,
    COVER_PAGES,
    MAX_BULK_IDS,
    MULTI_JSON,
    RingCentralState,
    SyncState,
    digits,
)
from messaging_hub.testing.ringcentral_store import (
    AVAILABILITIES,
    DIRECTIONS,
    MESSAGE_TYPES,
    READ_STATUSES,
    ApiError,
    StoredMessage,
    format_time,
    parse_time,
)


class MessageStoreApi(RingCentralState):
    """GET/PUT/PATCH/DELETE on the message store, content and sync."""

    async def _cover_pages(self, request: web.Request) -> web.StreamResponse:
        page, per_page = paging_params(request)
        records = [{"id": str(i), "name": name} for i, name in enumerate(COVER_PAGES)]
        root = f"{self.origin}/restapi/v1.0/dictionary/fax-cover-page"
        chunk, paging, navigation = paginate(records, page, per_page, root, request)
        uri = root + ("?" + request.query_string if request.query_string else "")
        return web.json_response(
            {"uri": uri, "records": chunk, "paging": paging, "navigation": navigation}
        )

    # -- message store ---------------------------------------------------------------------
    def _select(
        self,
        request: web.Request,
        *,
        availability_default: Sequence[str] = ("Alive",),
    ) -> list[StoredMessage]:
        query = request.query
        date_to = query_date(query, "dateTo") or self._now()
        date_from = query_date(query, "dateFrom") or date_to - timedelta(hours=24)
        types = multi_values(query, "messageType", MESSAGE_TYPES)
        directions = multi_values(query, "direction", DIRECTIONS)
        reads = multi_values(query, "readStatus", READ_STATUSES)
        availability = multi_values(query, "availability", AVAILABILITIES) or list(
            availability_default
        )
        conversation = query.get("conversationId")
        phone = digits(query.get("phoneNumber", ""))
        distinct = query_bool(query, "distinctConversations")
        selected = [
            m for m in self.messages
            if date_from <= m.creation_time <= date_to
            and (not types or m.type in types)
            and (not directions or m.direction in directions)
            and (not reads or m.read_status in reads)
            and m.availability in availability
            and (conversation is None or str(m.conversation_id) == conversation)
            and (not phone or any(digits(p) == phone for p in m.parties()))
        ]  # fmt: skip
        selected.sort(key=lambda m: (m.creation_time, m.id), reverse=True)
        if distinct:
            seen: set[int] = set()
            latest = []
            for m in selected:
                if m.conversation_id is None or m.conversation_id not in seen:
                    latest.append(m)
                    if m.conversation_id is not None:
                        seen.add(m.conversation_id)
            selected = latest
        return selected

    async def _list_messages(self, request: web.Request) -> web.StreamResponse:
        page, per_page = paging_params(request)
        selected = self._select(request)
        root = f"{self._ext_root()}/message-store"
        records = [self._render(m) for m in selected]
        chunk, paging, navigation = paginate(records, page, per_page, root, request)
        uri = root + ("?" + request.query_string if request.query_string else "")
        return web.json_response(
            {"uri": uri, "records": chunk, "paging": paging, "navigation": navigation}
        )

    def _ids(self, request: web.Request) -> list[str]:
        ids = [i for i in request.match_info["messageId"].split(",") if i.strip()]
        if not ids:
            raise ApiError.not_found("messageId")
        if len(ids) > MAX_BULK_IDS:
            raise ApiError.invalid("messageId")
        return ids

    def _find(self, message_id: str) -> StoredMessage:
        found = self._by_id.get(int(message_id)) if message_id.strip().isdigit() else None
        if found is None:
            raise ApiError.not_found("messageId")
        return found

    async def _get_messages(self, request: web.Request) -> web.StreamResponse:
        ids = self._ids(request)
        if "," not in request.match_info["messageId"]:
            message = self._find(ids[0])
            body = self._render(message)
            # GetSingleMessageInfoResponse marks vmSideRecipients required.
            body["vmSideRecipients"] = [dict(r) for r in message.recipients] or [{}]
            return web.json_response(body)
        parts = []
        for message_id in ids:
            try:
                parts.append(bulk_part(message_id, 200, self._render(self._find(message_id))))
            except ApiError as error:
                parts.append(bulk_part(message_id, error.status, error.body()))
        return multi_status(parts)

    def _apply_update(self, message: StoredMessage, body: Any, patch: bool) -> None:
        if not isinstance(body, dict):
            raise ApiError(400, "CMN-103", "JSON can't be parsed.")
        read = body.get("readStatus")
        availability = body.get("availability") if patch else None
        if read is None and availability is None:
            raise ApiError.missing("readStatus")
        if read is not None and read not in READ_STATUSES:
            raise ApiError.invalid("readStatus")
        if availability is not None and (
            availability != "Alive" or message.availability == "Purged"
        ):
            raise ApiError.invalid("availability")
        if read is not None:
            message.read_status = read
        if availability is not None:
            message.availability = availability
        self._touch(message)

    async def _update_messages(self, request: web.Request) -> web.StreamResponse:
        patch = request.method == "PATCH"
        segment = request.match_info["messageId"]
        body = await self._json(request, "application/json", MULTI_JSON)
        if segment != "*" and "," not in segment:
            message = self._find(segment)
            self._apply_update(message, body, patch)
            return web.json_response(self._render(message))
        pairs: list[tuple[str, Any]]
        if segment == "*":
            if not isinstance(body, list) or not body:
                raise ApiError.invalid("body")
            pairs = []
            for entry in body:
                if not isinstance(entry, dict) or "resourceId" not in entry:
                    raise ApiError.missing("resourceId")
                pairs.append((str(entry["resourceId"]), entry.get("body")))
        else:
            ids = self._ids(request)
            if isinstance(body, list):
                if len(body) != len(ids):
                    raise ApiError.invalid("body")
                pairs = [
                    (i, e.get("body") if isinstance(e, dict) else e)
                    for i, e in zip(ids, body, strict=True)
                ]
            else:
                pairs = [(i, body) for i in ids]
        parts = []
        for message_id, entry in pairs:
            try:
                message = self._find(message_id)
                self._apply_update(message, entry, patch)
                parts.append(bulk_part(message_id, 200, self._render(message)))
            except ApiError as error:
                parts.append(bulk_part(message_id, error.status, error.body()))
        return multi_status(parts)

    def _delete(self, message: StoredMessage, purge: bool) -> None:
        if purge or message.availability != "Alive":
            message.availability = "Purged"
        else:
            message.availability = "Deleted"
        self._touch(message)

    async def _delete_messages(self, request: web.Request) -> web.StreamResponse:
        purge = query_bool(request.query, "purge")
        segment = request.match_info["messageId"]
        if segment == "*":
            body = await self._json(request)
            if not isinstance(body, list) or not body:
                raise ApiError.invalid("body")
            ids = [str(i) for i in body]
        else:
            ids = self._ids(request)
        found = [self._by_id[int(i)] for i in ids if i.isdigit() and int(i) in self._by_id]
        if not found:
            raise ApiError.not_found("messageId")
        for message in found:
            self._delete(message, purge)
        return web.Response(status=204)

    async def _delete_by_filter(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        purge = query_bool(query, "purge")
        date_to = query_date(query, "dateTo") or self._now()
        kind = query.get("type", "All")
        if kind not in (*MESSAGE_TYPES, "All"):
            raise ApiError.invalid("type")
        conversations = [c for raw in query.getall("conversationId", []) for c in raw.split(",")]
        for message in self.messages:
            if (
                message.availability != "Purged"
                and message.creation_time <= date_to
                and kind in ("All", message.type)
                and (not conversations or str(message.conversation_id) in conversations)
            ):
                self._delete(message, purge)
        return web.Response(status=204)

    async def _content(self, request: web.Request) -> web.StreamResponse:
        message = self._find(request.match_info["messageId"])
        wanted = request.match_info["attachmentId"]
        attachment = next((a for a in message.attachments if str(a.id) == wanted), None)
        if attachment is None or message.availability == "Purged":
            raise ApiError.not_found("attachmentId")
        response = web.StreamResponse(status=200)
        response.content_type = attachment.content_type
        disposition = request.query.get("contentDisposition")
        if disposition in ("Inline", "Attachment"):
            name = request.query.get("contentDispositionFilename") or attachment.file_name
            value = disposition.lower() + (f'; filename="{name}"' if name else "")
            response.headers["Content-Disposition"] = value
        response.enable_chunked_encoding()
        await response.prepare(request)
        data = attachment.content
        for offset in range(0, len(data), CONTENT_CHUNK):
            await response.write(data[offset : offset + CONTENT_CHUNK])
        await response.write_eof()
        return response

    # -- message sync ------------------------------------------------------------------------
    async def _sync(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        token = query.get("syncToken")
        sync_type = query.get("syncType") or ("ISync" if token else "FSync")
        if sync_type not in ("FSync", "ISync"):
            raise ApiError.invalid("syncType")
        record_count = None
        if "recordCount" in query:
            record_count = as_int(query["recordCount"], "recordCount")
            if record_count < 1:
                raise ApiError.invalid("recordCount")
        older = False
        if sync_type == "FSync":
            selected = self._select(request)
            if record_count is not None and len(selected) > record_count:
                selected, older = selected[:record_count], True
            state = SyncState(
                self._sequence,
                tuple(multi_values(query, "messageType", MESSAGE_TYPES)),
                tuple(multi_values(query, "direction", DIRECTIONS)),
                query.get("conversationId"),
            )
        else:
            if not token:
                raise ApiError.missing("syncToken")
            previous = self._sync_tokens.get(token)
            if previous is None:
                raise ApiError.invalid("syncToken")
            selected = [
                m for m in self.messages
                if m.sequence > previous.sequence
                and (not previous.types or m.type in previous.types)
                and (not previous.directions or m.direction in previous.directions)
                and (previous.conversation_id is None
                     or str(m.conversation_id) == previous.conversation_id)
            ]  # fmt: skip
            selected.sort(key=lambda m: (m.creation_time, m.id), reverse=True)
            state = attrs.evolve(previous, sequence=self._sequence)
        new_token = base64.urlsafe_b64encode(
            self._sequence.to_bytes(8, "big") + secrets.token_bytes(16)
        ).decode()
        self._sync_tokens[new_token] = state
        uri = f"{self._ext_root()}/message-sync"
        return web.json_response(
            {
                "uri": uri + ("?" + request.query_string if request.query_string else ""),
                "records": [self._render(m) for m in selected],
                "syncInfo": {
                    "syncType": sync_type,
                    "syncToken": new_token,
                    "syncTime": format_time(self._now()),
                    "olderRecordsExist": older,
                },
            }
        )


# -- query helpers -----------------------------------------------------------------


def as_int(value: Any, name: str) -> int:
    """``int(value)``, or 400 CMN-101 naming parameter ``name``."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError.invalid(name) from None


def multi_values(query: Mapping[str, str], name: str, allowed: Sequence[str]) -> list[str]:
    """A repeatable (``explode: true``) parameter; commas are accepted too."""
    getall = getattr(query, "getall", None)
    raw: list[str] = list(getall(name, [])) if getall is not None else []
    values = [v.strip() for item in raw for v in item.split(",") if v.strip()]
    for value in values:
        if value not in allowed:
            raise ApiError.invalid(name)
    return values


def query_date(query: Mapping[str, str], name: str) -> datetime | None:
    """A date-time query parameter, ``None`` when absent."""
    if not query.get(name):
        return None
    try:
        return parse_time(query[name])
    except ValueError:
        raise ApiError.invalid(name) from None


def query_bool(query: Mapping[str, str], name: str) -> bool:
    """A boolean query parameter (``true``/``false``, default false)."""
    value = query.get(name, "false").lower()
    if value not in ("true", "false"):
        raise ApiError.invalid(name)
    return value == "true"


def paging_params(request: web.Request) -> tuple[int, int]:
    """``page`` (default 1) and ``perPage`` (default 100, at most 1000)."""
    page = as_int(request.query.get("page", "1"), "page")
    per_page = as_int(request.query.get("perPage", "100"), "perPage")
    if page < 1:
        raise ApiError.invalid("page")
    if per_page < 0:
        raise ApiError.invalid("perPage")
    return page, min(per_page, 1000)


def paginate(
    records: list[dict[str, Any]], page: int, per_page: int, root: str, request: web.Request
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """One page of ``records`` with the ``paging`` and ``navigation`` objects."""
    total = len(records)
    pages = math.ceil(total / per_page) if per_page else 0
    start = (page - 1) * per_page
    chunk = records[start : start + per_page] if per_page else []
    paging: dict[str, Any] = {
        "page": page,
        "totalPages": pages,
        "perPage": per_page,
        "totalElements": total,
    }
    if chunk:
        paging["pageStart"] = start
        paging["pageEnd"] = start + len(chunk) - 1
    others = [(k, v) for k, v in request.query.items() if k not in ("page", "perPage")]

    def link(number: int) -> dict[str, str]:
        query = urlencode([*others, ("page", str(number)), ("perPage", str(per_page))])
        return {"uri": f"{root}?{query}"}

    navigation: dict[str, Any] = {}
    if pages:
        navigation["firstPage"] = link(1)
        if page < pages:
            navigation["nextPage"] = link(page + 1)
        if 1 < page <= pages + 1:
            navigation["previousPage"] = link(min(page - 1, pages))
        navigation["lastPage"] = link(pages)
    return chunk, paging, navigation


def bulk_part(resource_id: str, status: int, body: dict[str, Any]) -> dict[str, Any]:
    """One entry of a 207 multi-status body."""
    return {"resourceId": resource_id, "status": status, "body": body}


def multi_status(parts: list[dict[str, Any]]) -> web.Response:
    """A 207 ``application/vnd.ringcentral.multipart+json`` response."""
    return web.Response(status=207, text=json.dumps(parts), content_type=MULTI_JSON)
