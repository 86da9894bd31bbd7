"""RingCentral Platform messaging (message store, SMS, MMS, pager, fax, sync)
and OAuth: adapter, native client, wire models."""

from .adapter import RingCentralAdapter, RingCentralOptions
from .api import AttachmentContent, FilePart, RingCentralAPI
from .auth import JwtGrant, PasswordGrant, RingCentralGrant

__all__ = [
    "AttachmentContent",
    "FilePart",
    "JwtGrant",
    "PasswordGrant",
    "RingCentralAPI",
    "RingCentralAdapter",
    "RingCentralGrant",
    "RingCentralOptions",
]
