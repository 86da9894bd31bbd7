"""Kept for imports written before :mod:`messaging_hub.inbound`: ``watch`` lives there."""

from .inbound.polling import watch

__all__ = ["watch"]
