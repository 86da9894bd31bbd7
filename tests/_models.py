"""Comparing shared models in tests."""

from __future__ import annotations

from typing import Any

import attrs

import messaging_hub as mh


def message_fields(message: mh.Message) -> dict[str, Any]:
    """Every field of ``message``, ``raw`` included (equality leaves it out)."""
    return {**attrs.asdict(message, recurse=False), "raw": message.raw}
