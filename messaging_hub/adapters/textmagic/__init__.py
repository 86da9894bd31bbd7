"""TextMagic (REST API v2) message sessions: adapter, native client, wire models."""

from .adapter import TextMagicAdapter, TextMagicOptions
from .api import BulkAccepted, TextMagicAPI

__all__ = ["BulkAccepted", "TextMagicAPI", "TextMagicAdapter", "TextMagicOptions"]
