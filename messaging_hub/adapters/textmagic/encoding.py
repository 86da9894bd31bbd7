"""SMS length rules from TextMagic's "Encoding" chapter.

A text made only of GSM 03.38 characters is sent as GSM: up to 6 linked
parts, 918 characters (characters of the extension table take two). Any
other character makes the whole text Unicode: up to 6 parts, 402 UTF-16
code units.
"""

from __future__ import annotations

__all__ = ["MAX_GSM_UNITS", "MAX_UNICODE_UNITS", "is_gsm", "max_units", "units"]

MAX_GSM_UNITS = 918
"""6 linked GSM parts of 153 characters."""
MAX_UNICODE_UNITS = 402
"""6 linked Unicode parts of 67 characters."""

# The GSM 03.38 default alphabet (basic table), written out row by row.
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: sent behind an escape, so each takes two characters.
_GSM_EXTENSION = frozenset("\f^{}\\[~]|€")


_GSM = _GSM_BASIC | _GSM_EXTENSION


def is_gsm(text: str) -> bool:
    """Whether ``text`` can be sent in the GSM 03.38 alphabet."""
    return _GSM.issuperset(text)


def units(text: str) -> int:
    """The characters ``text`` takes on the air (GSM septets or UTF-16 units)."""
    if _GSM_BASIC.issuperset(text):
        return len(text)
    if _GSM.issuperset(text):
        # Extension characters take two: one more each.
        return len(text) + sum(text.count(c) for c in _GSM_EXTENSION)
    return len(text.encode("utf-16-le")) // 2


def max_units(text: str) -> int:
    """The most characters a text of ``text``'s alphabet may take."""
    return MAX_GSM_UNITS if is_gsm(text) else MAX_UNICODE_UNITS
