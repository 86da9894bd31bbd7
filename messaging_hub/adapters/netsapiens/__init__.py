"""NetSapiens (ns-api v2) message sessions: adapter, native client, wire models."""

from .adapter import NetSapiensAdapter, NetSapiensOptions, new_session_id
from .api import NetSapiensAPI
from .auth import PasswordGrant

__all__ = [
    "NetSapiensAPI",
    "NetSapiensAdapter",
    "NetSapiensOptions",
    "PasswordGrant",
    "new_session_id",
]
