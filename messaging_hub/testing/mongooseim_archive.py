"""The in-memory state behind :class:`FakeMongooseIM`: users, JIDs and the
per-user MAM archive that all three MongooseIM APIs read and write.

Facts taken from MongooseIM 6.5.0 (``mongoose_stanza_api``, ``mod_mam``):

* a chat message is stored in the sender's archive and, when the recipient
  is a local user, in the recipient's archive too (headlines are never
  archived);
* a lookup returns the *last* ``limit`` messages in chronological order
  (oldest first), capped by ``max_result_limit`` (50 by default);
* ``before`` is inclusive: a message stamped exactly at ``before`` is
  returned (the MAM end border is ``id <= encode(before, 255)``);
* a MAM id is ``(microseconds << 8) + node number`` and every API shows
  the time decoded from it; ``mongoose_mam_id:next_unique`` gives each
  message archived on a node its own microsecond. The fake is one node: a
  message stored at a microsecond already taken moves to the next free one
  (so seeded "same" timestamps stay the same to the millisecond or second,
  as REST shows them, but differ in GraphQL's microseconds).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Literal

import attrs

__all__ = [
    "DEFAULT_MAX_RESULT_LIMIT",
    "ArchivedMessage",
    "Jid",
    "MessageArchive",
    "SendError",
    "parse_jid",
]

DEFAULT_MAX_RESULT_LIMIT = 50

# nodeprep forbids these in the local part (RFC 6122 appendix A.5)
_NODE_FORBIDDEN = re.compile(r"[\"&'/:<>@\s\x00-\x1f\x7f]")
_DOMAIN_FORBIDDEN = re.compile(r"[\"&'/:<>@\s\x00-\x1f\x7f\\]")
_MAX_PART = 1023


@attrs.frozen
class Jid:
    """A parsed XMPP address (``user@server/resource``, user and resource optional)."""

    user: str
    server: str
    resource: str = ""

    @property
    def bare(self) -> str:
        """``user@server`` as written."""
        return f"{self.user}@{self.server}" if self.user else self.server

    @property
    def lbare(self) -> str:
        """The bare JID, lower-cased (how the server compares users)."""
        return self.bare.lower()

    @property
    def lserver(self) -> str:
        """The domain, lower-cased."""
        return self.server.lower()

    def __str__(self) -> str:
        return f"{self.bare}/{self.resource}" if self.resource else self.bare


def parse_jid(text: object) -> Jid | None:
    """Parse ``text`` as ``jid:from_binary`` does; None where the server says ``error``."""
    if not isinstance(text, str) or not text:
        return None
    slash = text.find("/")
    head, resource = (text, "") if slash < 0 else (text[:slash], text[slash + 1 :])
    if slash >= 0 and not resource:
        return None
    user, sep, server = head.rpartition("@")
    if sep and not user:
        return None
    if not server or _DOMAIN_FORBIDDEN.search(server) or server.startswith("."):
        return None
    if user and _NODE_FORBIDDEN.search(user):
        return None
    try:
        sizes = [len(part.encode("utf-8")) for part in (user, server, resource)]
    except UnicodeEncodeError:  # an unpaired surrogate: not UTF-8 on the wire
        return None
    if max(sizes) > _MAX_PART:  # the jid library limits each part in bytes
        return None
    if any(ord(c) < 0x20 for c in resource):
        return None
    return Jid(user=user, server=server, resource=resource)


def _xml_attr(value: str) -> str:
    return (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&apos;")
    )


def _xml_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@attrs.frozen
class ArchivedMessage:
    """One row of a user's MAM archive."""

    owner: str  # lower-cased bare JID of the archive's owner
    mam_id: int  # orders the archive; also the GraphQL ``stanza_id`` (base 32)
    timestamp_us: int  # Unix microseconds, as MAM stores it
    sender: str  # the stanza's ``from`` attribute (may carry a resource)
    recipient: str  # the stanza's ``to`` attribute
    remote: Jid  # the other party, for ``with`` filters
    stanza_id: str  # the stanza's ``id`` attribute
    body: str | None
    message_type: str = "chat"
    thread: str | None = None
    parent: str | None = None
    properties: Mapping[str, str] | None = None

    @property
    def outgoing(self) -> bool:
        """Whether the owner sent it."""
        sender = parse_jid(self.sender)
        return sender is not None and sender.lbare == self.owner

    @property
    def timestamp(self) -> datetime:
        """The archive time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.timestamp_us / 1_000_000, UTC)

    @property
    def external_id(self) -> str:
        """The MAM id as the GraphQL API shows it (``integer_to_binary(Id, 32)``)."""
        return _base32(self.mam_id)

    def stanza_xml(self) -> str:
        """The archived ``<message/>`` serialised the way exml does it."""
        attrs_ = {
            "from": self.sender,
            "id": self.stanza_id,
            "to": self.recipient,
            "type": self.message_type,
        }
        head = " ".join(f"{k}='{_xml_attr(v)}'" for k, v in sorted(attrs_.items()))
        children = ""
        if self.body is not None:
            children += f"<body>{_xml_text(self.body)}</body>"
        if self.thread is not None:
            parent = f" parent='{_xml_attr(self.parent)}'" if self.parent is not None else ""
            children += f"<thread{parent}>{_xml_text(self.thread)}</thread>"
        if self.properties:
            props = "".join(
                f"<property><name>{_xml_text(k)}</name>"
                f"<value type='string'>{_xml_text(v)}</value></property>"
                for k, v in self.properties.items()
            )
            children += (
                "<properties xmlns='http://www.jivesoftware.com/xmlns/xmpp/properties'>"
                f"{props}</properties>"
            )
        return f"<message {head}>{children}</message>"


def _base32(number: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUV"
    out = ""
    while True:
        number, rem = divmod(number, 32)
        out = digits[rem] + out
        if number == 0:
            return out


@attrs.frozen
class SendError:
    """A refusal from ``mongoose_stanza_api`` (code as GraphQL names it, text as REST shows it)."""

    code: Literal["unknown_user", "invalid_sender", "no_sender"]
    message: str


def _now() -> datetime:
    return datetime.now(UTC)


class MessageArchive:
    """Users, local domains and every user's message archive."""

    def __init__(
        self,
        users: Mapping[str, str],
        *,
        domains: tuple[str, ...] = (),
        clock: Callable[[], datetime] = _now,
        max_result_limit: int = DEFAULT_MAX_RESULT_LIMIT,
    ) -> None:
        self.clock = clock
        self.max_result_limit = max_result_limit
        self.passwords: dict[str, str] = {}
        self.domains: set[str] = {d.lower() for d in domains}
        for jid_text, password in users.items():
            jid = parse_jid(jid_text)
            if jid is None or not jid.user or jid.resource:
                raise ValueError(f"not a bare user JID: {jid_text!r}")
            self.passwords[jid.lbare] = password
            self.domains.add(jid.lserver)
        self._rows: dict[str, list[ArchivedMessage]] = {}
        self.reads = 0
        """How many archive lookups were answered (every API's history read counts)."""
        self.routed: list[Callable[[str, ArchivedMessage], None]] = []
        """Called with (recipient's bare JID, the message) for every message routed
        to a local user: how SSE sessions hear of it (headlines too, unarchived)."""
        self._taken_us: set[int] = set()
        self._next_free_us: dict[int, int] = {}

    # -- users ---------------------------------------------------------------
    def check_password(self, jid: Jid | None, password: str) -> bool:
        """Whether ``jid`` is a local user whose password is ``password``."""
        if jid is None or not jid.user:
            return False
        known = self.passwords.get(jid.lbare)
        return known is not None and secrets.compare_digest(known, password)

    def check_user(self, jid: Jid) -> SendError | None:
        """The server's refusal for an unknown domain or user, else None."""
        if jid.lserver not in self.domains:
            return SendError("unknown_user", "User's domain does not exist")
        if jid.lbare not in self.passwords:
            return SendError("unknown_user", "User does not exist")
        return None

    # -- reading ---------------------------------------------------------------
    def rows(self, owner: str) -> list[ArchivedMessage]:
        """Every message in ``owner``'s archive, oldest first."""
        jid = parse_jid(owner)
        key = jid.lbare if jid is not None else owner.lower()
        return list(self._rows.get(key, []))

    def effective_limit(self, limit: int) -> int:
        """``min(limit, max_result_limit)``, as ``lookup_recent_messages`` does."""
        return min(limit, self.max_result_limit)

    def lookup(
        self, owner: Jid, with_jid: Jid | None, before_us: int | None, limit: int
    ) -> list[ArchivedMessage]:
        """The last ``limit`` matching messages, oldest first (``limit`` already capped)."""
        self.reads += 1
        if limit <= 0:
            return []
        picked: list[ArchivedMessage] = []
        for row in reversed(self._rows.get(owner.lbare, [])):
            if before_us is not None and row.timestamp_us > before_us:
                continue
            if with_jid is not None and not _with_matches(with_jid, row.remote):
                continue
            picked.append(row)
            if len(picked) == limit:
                break
        picked.reverse()
        return picked

    # -- writing ---------------------------------------------------------------
    def send(
        self,
        *,
        user: Jid | None,
        from_jid: Jid | None,
        to: Jid,
        body: str | None,
        subject: str | None = None,
        message_type: str = "chat",
    ) -> SendError | str:
        """Send as ``send_chat_message``/``send_headline_message``: the stanza id, or a refusal."""
        check = True
        if user is not None and from_jid is not None:
            if user.lbare != from_jid.lbare:
                return SendError("invalid_sender", "Sender's JID is different from the user's JID")
            check = False
        elif from_jid is not None:
            user = Jid(from_jid.user, from_jid.server)
        elif user is not None:
            from_jid, check = user, False
        else:
            return SendError("no_sender", "Missing sender JID")
        if user.lserver not in self.domains:
            return SendError("unknown_user", "User's domain does not exist")
        if check and user.lbare not in self.passwords:
            return SendError("unknown_user", "User does not exist")
        stanza_id = secrets.token_hex(8)
        if message_type == "chat":
            self.store(from_jid, to, body, stanza_id=stanza_id)
        elif to.lbare in self.passwords:
            # Headlines are routed (an SSE session hears them) but never archived.
            stamp = _to_us(self.clock())
            self._route(
                ArchivedMessage(
                    owner=to.lbare,
                    mam_id=stamp << 8,
                    timestamp_us=stamp,
                    sender=str(from_jid),
                    recipient=str(to),
                    remote=from_jid,
                    stanza_id=stanza_id,
                    body=body,
                    message_type=message_type,
                )
            )
        del subject
        return stanza_id

    def store(
        self,
        from_jid: Jid,
        to: Jid,
        body: str | None,
        *,
        stanza_id: str | None = None,
        timestamp: datetime | None = None,
        thread: str | None = None,
        parent: str | None = None,
        properties: Mapping[str, str] | None = None,
    ) -> list[ArchivedMessage]:
        """Archive one chat message for each local party; the rows written."""
        when = timestamp if timestamp is not None else self.clock()
        ts_us = self._unique_us(_to_us(when))
        row = ArchivedMessage(
            owner=from_jid.lbare,
            mam_id=ts_us << 8,
            timestamp_us=ts_us,
            sender=str(from_jid),
            recipient=str(to),
            remote=to,
            stanza_id=stanza_id if stanza_id is not None else secrets.token_hex(8),
            body=body,
            thread=thread,
            parent=parent,
            properties=dict(properties) if properties is not None else None,
        )
        written: list[ArchivedMessage] = []
        if from_jid.lbare in self.passwords:
            written.append(row)
        if to.lbare in self.passwords and to.lbare != from_jid.lbare:
            written.append(attrs.evolve(row, owner=to.lbare, remote=from_jid))
        for copy in written:
            rows = self._rows.setdefault(copy.owner, [])
            rows.append(copy)
            # keep chronological order even when a test stores into the past
            if len(rows) > 1 and _order(rows[-2]) > _order(copy):
                rows.sort(key=_order)
        for copy in written:
            if copy.owner == to.lbare and copy.owner != from_jid.lbare:
                self._route(copy)
        return written

    def _route(self, row: ArchivedMessage) -> None:
        """Tell the recipient's sessions (SSE streams) about a message routed to them."""
        for hear in list(self.routed):
            hear(row.owner, row)

    def _unique_us(self, candidate: int) -> int:
        """``next_unique``: the first microsecond at or after ``candidate`` not yet taken."""
        stamp = self._next_free_us.get(candidate, candidate)
        while stamp in self._taken_us:
            stamp += 1
        self._taken_us.add(stamp)
        self._next_free_us[candidate] = stamp + 1
        return stamp


def _order(row: ArchivedMessage) -> tuple[int, int]:
    return (row.timestamp_us, row.mam_id)


def _with_matches(with_jid: Jid, remote: Jid) -> bool:
    if with_jid.lbare != remote.lbare:
        return False
    return not with_jid.resource or with_jid.resource == remote.resource


def _to_us(when: datetime) -> int:
    if when.tzinfo is None:
        raise ValueError("the clock must return aware datetimes")
    delta = when - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
