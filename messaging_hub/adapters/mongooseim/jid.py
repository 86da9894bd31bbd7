"""XMPP address (JID) validation, done before anything is sent.

RFC 7622: ``localpart@domainpart/resourcepart``, each part at most 1023
bytes (UTF-8). The localpart may not hold ``"&'/:<>@``, whitespace or
control characters; the domain must look like a host name (no empty label,
each label at most 63 octets in its ASCII form, the IDNA A-label
``xn--...`` for an internationalised label) or an IP literal; the resource
may hold anything but control characters. Unpaired surrogates are refused
everywhere: they cannot be sent as UTF-8. MongooseIM conversations are
always with users, so the localpart is required here.
"""

from __future__ import annotations

import functools
import ipaddress
import re

import attrs

from ...errors import InvalidRequest

__all__ = ["Jid", "parse_jid"]

PROVIDER = "mongooseim"
MAX_PART_BYTES = 1023
_LOCAL_FORBIDDEN = re.compile(r"[\"&'/:<>@\s\x00-\x1f\x7f-\x9f]")
_DOMAIN_FORBIDDEN = re.compile(r"[\"&'/:<>@\\\s\x00-\x1f\x7f-\x9f,;!?*%#()\[\]{}|=+$^~`]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_MAX_LABEL_BYTES = 63


@attrs.frozen
class Jid:
    """A validated JID; ``bare`` is ``local@domain`` (compared case-insensitively)."""

    local: str
    domain: str
    resource: str | None = None
    # Spelled once (a JID is immutable and read on every send and history row).
    bare: str = attrs.field(init=False, eq=False, repr=False)
    """``local@domain``."""
    key: str = attrs.field(init=False, eq=False, repr=False)
    """The bare JID lower-cased: how the server tells users apart."""
    _text: str = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        bare = f"{self.local}@{self.domain}"
        object.__setattr__(self, "bare", bare)
        object.__setattr__(self, "key", bare.lower())
        object.__setattr__(self, "_text", f"{bare}/{self.resource}" if self.resource else bare)

    def __str__(self) -> str:
        return self._text


def _fail(text: object, why: str, field: str) -> InvalidRequest:
    return InvalidRequest(f"{text!r} is not a valid JID: {why}", field=field, provider=PROVIDER)


def _too_long(part: str) -> bool:
    return len(part.encode("utf-8")) > MAX_PART_BYTES


def _label_octets(label: str) -> int:
    """The label's length in its ASCII form (the A-label for a non-ASCII label)."""
    if label.isascii():
        return len(label)
    return len("xn--") + len(label.lower().encode("punycode"))


def _check_domain(domain: str, text: object, field: str) -> None:
    if not domain:
        raise _fail(text, "the domain is empty", field)
    if _too_long(domain):
        raise _fail(text, f"the domain is longer than {MAX_PART_BYTES} bytes", field)
    if domain.startswith("[") and domain.endswith("]"):
        try:
            ipaddress.IPv6Address(domain[1:-1])
        except ValueError:
            raise _fail(text, "the domain is not a valid IPv6 literal", field) from None
        return
    if _DOMAIN_FORBIDDEN.search(domain):
        raise _fail(text, "the domain has characters a host name cannot have", field)
    for label in domain.split("."):
        if not label:
            raise _fail(text, "the domain has an empty label", field)
        if _label_octets(label) > _MAX_LABEL_BYTES:
            raise _fail(text, f"a domain label is longer than {_MAX_LABEL_BYTES} octets", field)
        if label.startswith("-") or label.endswith("-"):
            raise _fail(text, "a domain label starts or ends with '-'", field)


def parse_jid(text: object, *, field: str = "to", allow_resource: bool = True) -> Jid:
    """Parse and validate ``text`` as ``local@domain[/resource]`` or raise InvalidRequest."""
    if type(text) is str:
        # A client writes to the same few peers over and over; a Jid is
        # immutable, so one object serves every parse (refusals are not kept).
        return _parse_cached(text, field, allow_resource)
    return _parse(text, field, allow_resource)


def _parse(text: object, field: str, allow_resource: bool) -> Jid:
    if not isinstance(text, str) or not text:
        raise _fail(text, "it is empty or not a string", field)
    if _SURROGATE.search(text):
        raise _fail(text, "it holds an unpaired surrogate (not valid Unicode)", field)
    head, slash, resource = text.partition("/")
    if slash and not allow_resource:
        raise _fail(text, "a bare JID (without /resource) is needed here", field)
    if slash and not resource:
        raise _fail(text, "the resource after '/' is empty", field)
    local, at, domain = head.partition("@")
    if not at:
        raise _fail(text, "it has no '@' (localpart@domain)", field)
    if not local:
        raise _fail(text, "the localpart before '@' is empty", field)
    if _LOCAL_FORBIDDEN.search(local):
        raise _fail(text, "the localpart holds a forbidden character (\"&'/:<>@ or space)", field)
    if _too_long(local):
        raise _fail(text, f"the localpart is longer than {MAX_PART_BYTES} bytes", field)
    _check_domain(domain, text, field)
    if slash:
        if _too_long(resource):
            raise _fail(text, f"the resource is longer than {MAX_PART_BYTES} bytes", field)
        if _CONTROL.search(resource):
            raise _fail(text, "the resource holds a control character", field)
    return Jid(local, domain, resource or None)


_parse_cached = functools.lru_cache(maxsize=1024)(_parse)
